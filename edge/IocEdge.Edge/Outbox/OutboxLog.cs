using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Outbox;

/// <summary>The outbox's own log lines (event ids 2020-2029; see Log.cs for the others).</summary>
internal static partial class OutboxLog
{
    [LoggerMessage(2020, LogLevel.Warning, "Outbox file {Path} is corrupt ({Reason}); moved to {QuarantinePath} with its -wal and -shm (kept for recovery) and a new stream started")]
    public static partial void Quarantined(this ILogger logger, string path, string reason, string quarantinePath);

    [LoggerMessage(2021, LogLevel.Warning, "Outbox evicted {Count} readings ({Reason})")]
    public static partial void Evicted(this ILogger logger, long count, string reason);

    [LoggerMessage(2022, LogLevel.Warning, "Outbox {Operation} failed: the card is full or failing ({Reason}); the outbox goes on")]
    public static partial void DiskTrouble(this ILogger logger, string operation, string reason);

    [LoggerMessage(2023, LogLevel.Information, "Outbox flushed {Count} readings held in RAM to the card")]
    public static partial void RamFlushed(this ILogger logger, int count);

    [LoggerMessage(2024, LogLevel.Information, "Clock synchronised: corrected the timestamps of {Count} readings taken before (offset {Offset})")]
    public static partial void ClockCorrected(this ILogger logger, long count, TimeSpan offset);

    [LoggerMessage(2025, LogLevel.Information, "Outbox {Path} closed: {Pending} readings waiting")]
    public static partial void Closed(this ILogger logger, string path, long pending);
}
