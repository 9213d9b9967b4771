using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Log messages of the Modbus wire stack (codec, framing, transports, master, server). Event ids 4100-4149.
/// Frames are logged as hex at Debug level; the hex string is only built when Debug is on.
/// </summary>
internal static partial class Log
{
    public static void Sent(ILogger logger, string link, ReadOnlySpan<byte> adu)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            FrameSent(logger, link, Convert.ToHexString(adu));
        }
    }

    public static void Received(ILogger logger, string link, ReadOnlySpan<byte> adu)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            FrameReceived(logger, link, Convert.ToHexString(adu));
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Modbus {Link} TX {Hex}")]
    private static partial void FrameSent(ILogger logger, string link, string hex);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Debug, Message = "Modbus {Link} RX {Hex}")]
    private static partial void FrameReceived(ILogger logger, string link, string hex);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug,
        Message = "Modbus {Link}: discarded a stale response (transaction {Received}, waiting for {Expected})")]
    public static partial void StaleResponse(ILogger logger, string link, ushort received, ushort expected);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Debug,
        Message = "Modbus {Link}: discarded a response from unit {Received} (or function 0x{Function:X2}) while waiting for unit {Expected}")]
    public static partial void ForeignResponse(ILogger logger, string link, byte received, byte function, byte expected);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Debug, Message = "Modbus {Link}: dropped {Count} byte(s) that form no valid frame")]
    public static partial void BytesDropped(ILogger logger, string link, int count);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "Modbus {Link}: connected")]
    public static partial void Connected(ILogger logger, string link);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Warning, Message = "Modbus {Link}: link broken ({Reason}), will reconnect on the next attempt")]
    public static partial void LinkBroken(ILogger logger, string link, string reason);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Debug,
        Message = "Modbus {Link}: unit {UnitId} function 0x{Function:X2} attempt {Attempt} timed out")]
    public static partial void AttemptTimedOut(ILogger logger, string link, byte unitId, byte function, int attempt);

    [LoggerMessage(EventId = 4109, Level = LogLevel.Debug,
        Message = "Modbus {Link}: unit {UnitId} function 0x{Function:X2} attempt {Attempt} failed: {Reason}")]
    public static partial void AttemptFailed(ILogger logger, string link, byte unitId, byte function, int attempt, string reason);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Debug,
        Message = "Modbus {Link}: discarded {Count} late byte(s) before the next request")]
    public static partial void LateBytesDiscarded(ILogger logger, string link, int count);

    [LoggerMessage(EventId = 4120, Level = LogLevel.Information, Message = "Modbus server listening ({Transport}) on {Endpoint}")]
    public static partial void ServerListening(ILogger logger, string transport, string endpoint);

    [LoggerMessage(EventId = 4121, Level = LogLevel.Debug, Message = "Modbus server: client {Remote} connected")]
    public static partial void ServerClientConnected(ILogger logger, string remote);

    [LoggerMessage(EventId = 4122, Level = LogLevel.Debug, Message = "Modbus server: client {Remote} gone")]
    public static partial void ServerClientGone(ILogger logger, string remote);

    [LoggerMessage(EventId = 4123, Level = LogLevel.Warning, Message = "Modbus server {Link}: malformed frame dropped: {Reason}")]
    public static partial void ServerMalformed(ILogger logger, string link, string reason);

    [LoggerMessage(EventId = 4124, Level = LogLevel.Debug, Message = "Modbus server {Link}: fault {Fault} injected for unit {UnitId} function 0x{Function:X2}")]
    public static partial void ServerFault(ILogger logger, string link, ModbusFaultKind fault, byte unitId, byte function);

    [LoggerMessage(EventId = 4125, Level = LogLevel.Error, Message = "Modbus server {Link}: loop failed")]
    public static partial void ServerLoopFailed(ILogger logger, string link, Exception exception);
}
