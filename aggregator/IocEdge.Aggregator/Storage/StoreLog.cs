using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Storage;

/// <summary>The SQLite store's own log lines (event ids 22xx: store start-up, rollups and retention).</summary>
internal static partial class StoreLog
{
    [LoggerMessage(2201, LogLevel.Information, "Retention deleted {Rows} rows older than their table's retention")]
    public static partial void RetentionDeleted(this ILogger logger, long rows);

    [LoggerMessage(2202, LogLevel.Error, "Retention pass failed; the next pass runs at the next interval")]
    public static partial void RetentionFailed(this ILogger logger, Exception exception);

    [LoggerMessage(2203, LogLevel.Error,
        "The store {Path} is unreadable ({Reason}): moved to {QuarantinePath} with its -wal/-shm files; starting a fresh store")]
    public static partial void StoreQuarantined(this ILogger logger, string path, string reason, string quarantinePath);

    [LoggerMessage(2204, LogLevel.Information, "Rollups built from {Rows} stored readings (store created before rollups existed)")]
    public static partial void RollupsBackfilled(this ILogger logger, long rows);

    [LoggerMessage(2205, LogLevel.Information,
        "Moved {Rows} readings of the row-per-reading layout into chunks (store written by an older aggregator)")]
    public static partial void LegacyReadingsMigrated(this ILogger logger, long rows);

    [LoggerMessage(2206, LogLevel.Warning, "WAL checkpoint failed (the commit before it stands); the next one runs at the next interval")]
    public static partial void CheckpointFailed(this ILogger logger, Exception exception);

    [LoggerMessage(2207, LogLevel.Information,
        "Folded {Readings} readings of {Rows} journal rows that the last run committed but had not folded")]
    public static partial void JournalFolded(this ILogger logger, int readings, int rows);

    [LoggerMessage(2208, LogLevel.Warning,
        "Folding the journal into chunks failed ({Readings} readings wait, all stored); tried again in a second")]
    public static partial void FoldFailed(this ILogger logger, Exception exception, int readings);

    [LoggerMessage(2209, LogLevel.Warning,
        "The fold fell behind the ingest: {Readings} readings wait in the journal; this commit folds them all first (ingest pauses for it)")]
    public static partial void FoldBackstop(this ILogger logger, int readings);
}
