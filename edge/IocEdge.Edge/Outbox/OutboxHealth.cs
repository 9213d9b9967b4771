namespace IocEdge.Edge.Outbox;

/// <summary>What the outbox reports about itself (gateway health, contract §5; the technician's <c>outbox status</c>).</summary>
/// <param name="StreamId">The outbox file's stream id (contract §4.1).</param>
/// <param name="Pending">Readings waiting for a PUBACK.</param>
/// <param name="OldestPending">Timestamp of the oldest waiting reading, null when none waits.</param>
/// <param name="Bytes">Bytes the outbox occupies on the card (database file and its write-ahead log).</param>
/// <param name="DeadLettered">Readings set aside as undeliverable since start.</param>
/// <param name="Invalidated">Readings whose non-finite value was turned into quality <c>invalid</c> at append, since start.</param>
/// <param name="DroppedByReason">Readings the gateway had to drop, by reason (for example <c>evicted_age</c>), since the file was made.</param>
/// <param name="QuarantinedFiles">Outbox files found corrupt at start-up and moved aside.</param>
public sealed record OutboxHealth(
    string StreamId,
    long Pending,
    DateTimeOffset? OldestPending,
    long Bytes,
    long DeadLettered,
    long Invalidated,
    IReadOnlyDictionary<string, long> DroppedByReason,
    int QuarantinedFiles)
{
    /// <summary>Readings held in RAM because the card refused every write; written when it accepts writes again.</summary>
    public int RamBuffered { get; init; }

    /// <summary>Bytes of live database pages (what <c>Gateway:Outbox:MaxBytes</c> bounds).</summary>
    public long UsedBytes { get; init; }

    /// <summary>Free bytes on the data directory's filesystem (statvfs), -1 when unknown.</summary>
    public long DiskFreeBytes { get; init; } = -1;

    /// <summary>Writes that failed for disk trouble (SQLITE_FULL, SQLITE_IOERR) since start; each was survived.</summary>
    public long DiskErrors { get; init; }

    /// <summary>Waiting readings whose timestamps came from an untrusted clock (see <see cref="SqliteOutbox.ClockUntrusted"/>).</summary>
    public long ClockUntrusted { get; init; }
}
