using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>Log messages of the poller. Event ids 4150-4169 (the wire stack's Log.cs uses 4100-4149).</summary>
internal static partial class PollerLog
{
    [LoggerMessage(EventId = 4150, Level = LogLevel.Debug,
        Message = "Modbus poller: unit {UnitId} {Request} failed: {Reason}")]
    public static partial void RequestFailed(ILogger logger, byte unitId, string request, string reason);

    [LoggerMessage(EventId = 4151, Level = LogLevel.Warning,
        Message = "Modbus poller: unit {UnitId} failed {Failures} time(s) in a row; backing off for {Backoff}")]
    public static partial void BreakerOpened(ILogger logger, byte unitId, int failures, TimeSpan backoff);

    [LoggerMessage(EventId = 4152, Level = LogLevel.Information,
        Message = "Modbus poller: unit {UnitId} answers again; polling it normally")]
    public static partial void BreakerClosed(ILogger logger, byte unitId);

    [LoggerMessage(EventId = 4153, Level = LogLevel.Debug,
        Message = "Modbus poller: probing unit {UnitId} after its back-off")]
    public static partial void BreakerProbe(ILogger logger, byte unitId);

    [LoggerMessage(EventId = 4154, Level = LogLevel.Information,
        Message = "Modbus poller: unit {UnitId} refuses {Range} (illegal data address); later plans avoid it")]
    public static partial void AddressesRefused(ILogger logger, byte unitId, string range);

    [LoggerMessage(EventId = 4155, Level = LogLevel.Debug,
        Message = "Modbus poller: unit {UnitId} refused {Request}; splitting it to find the refused addresses")]
    public static partial void SplittingRequest(ILogger logger, byte unitId, string request);

    [LoggerMessage(EventId = 4156, Level = LogLevel.Warning,
        Message = "Modbus poller: unit {UnitId} {Request} failed unexpectedly")]
    public static partial void RequestFailedUnexpectedly(ILogger logger, Exception exception, byte unitId, string request);

    [LoggerMessage(EventId = 4157, Level = LogLevel.Information,
        Message = "Modbus poller: unit {UnitId} refuses larger reads; FC{FunctionCode:X2} requests now ask for at most {Limit} registers/bits")]
    public static partial void RequestSizeLearned(ILogger logger, byte unitId, int limit, byte functionCode);
}
