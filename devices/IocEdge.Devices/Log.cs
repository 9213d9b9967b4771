using Microsoft.Extensions.Logging;

namespace IocEdge.Devices;

/// <summary>
/// Every log line the drivers write, with stable event ids (4000-4099 belong to IocEdge.Devices).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Input {Name} (GPIO {Pin}) is now {State}")]
    public static partial void InputChanged(ILogger logger, string name, int pin, string state);

    // Information: every counter's first start has no state file yet; a corrupt one (4011) stays a warning.
    [LoggerMessage(EventId = 4010, Level = LogLevel.Information,
        Message = "Counter {Name}: no state file at {Path} yet (first start); the total starts at zero")]
    public static partial void CounterStateMissing(ILogger logger, string name, string path);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning,
        Message = "Counter {Name}: state file {Path} is unreadable ({Reason}); kept as {KeptAs}, the total starts at zero")]
    public static partial void CounterStateCorrupt(ILogger logger, string name, string path, string reason, string keptAs);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning,
        Message = "Counter {Name}: could not save state file {Path}; will retry at the next flush")]
    public static partial void CounterStateSaveFailed(ILogger logger, Exception exception, string name, string path);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information,
        Message = "Counter {Name}: resumed at {Total} pulses from {Path}")]
    public static partial void CounterStateLoaded(ILogger logger, string name, long total, string path);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information,
        Message = "Output {Name} (GPIO {Pin}) set to its safe state ({State}) at {Moment}")]
    public static partial void OutputSafeState(ILogger logger, string name, int pin, string state, string moment);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Information,
        Message = "Output {Name} (GPIO {Pin}) pulsed for {Duration}")]
    public static partial void OutputPulsed(ILogger logger, string name, int pin, TimeSpan duration);

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "{Device}: {Error}")]
    public static partial void ReadFailed(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 4040, Level = LogLevel.Debug,
        Message = "DS18B20 {Path}: attempt {Attempt} rejected ({Reason}); retrying")]
    public static partial void W1Retry(ILogger logger, string path, int attempt, string reason);

    [LoggerMessage(EventId = 4050, Level = LogLevel.Debug,
        Message = "{Device}: dropped {Bytes} bytes ({Reason})")]
    public static partial void UartDropped(ILogger logger, string device, int bytes, string reason);
}
