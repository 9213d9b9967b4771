namespace IocEdge.Edge.Configuration;

/// <summary>What the outbox does when it reaches a bound (<see cref="OutboxOptions.Eviction"/>).</summary>
public enum OutboxEviction
{
    /// <summary>Delete the oldest telemetry readings.</summary>
    Oldest,
    /// <summary>Delete every other reading, per channel, of the oldest span of telemetry (halves its resolution).</summary>
    Thin,
}

/// <summary>
/// Section <c>Gateway:Outbox</c>: the outbox's bounds (edge/README.md, "Outbox"). When a bound is reached the oldest
/// telemetry is evicted (or thinned) first; readings with unit <c>state</c> (door, flood, power) go only when no
/// telemetry is left. Every evicted reading is counted by reason in the outbox's health.
/// </summary>
public sealed class OutboxOptions
{
    /// <summary>Most bytes the outbox's live database pages may take (pages on the free list are reused and not
    /// counted; the write-ahead log is bounded by <see cref="WalMaxBytes"/>). 0 = no limit. Default 1 GiB.</summary>
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>Readings older than this (by their timestamp, against the wall clock) are evicted. Zero = no limit.
    /// Default 30 days.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Free bytes to keep on the data directory's filesystem (statvfs f_bavail × f_frsize, via DriveInfo): below
    /// it the outbox stops growing and evicts to make room for new readings. 0 = no floor. Default 16 MiB.</summary>
    public long MinFreeBytes { get; set; } = 16L << 20;

    /// <summary><see cref="OutboxEviction.Oldest"/> (default) or <see cref="OutboxEviction.Thin"/>.</summary>
    public OutboxEviction Eviction { get; set; } = OutboxEviction.Oldest;

    /// <summary>Readings held in RAM while the card refuses every write (full even after eviction, or failing); flushed
    /// to the card when it accepts writes again; beyond it the oldest held reading is dropped (counted
    /// <c>ram_overflow</c>). Default 20 000 (about 3 minutes of 100 channels at 1 Hz, under 4 MB).</summary>
    public int RamBufferReadings { get; set; } = 20_000;

    /// <summary>The write-ahead log is checkpointed and truncated (wal_checkpoint(TRUNCATE)) when it grows past this,
    /// and SQLite's journal_size_limit is set to it. Default 1 MiB.</summary>
    public long WalMaxBytes { get; set; } = 1L << 20;

    /// <summary>Longest time, on the monotonic clock, between two truncating checkpoints. Default 1 minute.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);
}
