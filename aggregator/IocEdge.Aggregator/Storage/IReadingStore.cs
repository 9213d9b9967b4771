using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Aggregator.Storage;

/// <summary>How readings of one history bucket are reduced to one number (GET /api/v1/history <c>agg</c>).</summary>
public enum HistoryAggregate
{
    /// <summary>Arithmetic mean of the bucket's values.</summary>
    Avg,

    /// <summary>Smallest value in the bucket.</summary>
    Min,

    /// <summary>Largest value in the bucket.</summary>
    Max,

    /// <summary>The value with the newest device timestamp in the bucket.</summary>
    Last,

    /// <summary>How many values the bucket holds.</summary>
    Count,
}

/// <summary>
/// One time bucket of one channel's history: the readings with <c>Start &lt;= ts &lt; Start + step</c> that count as
/// measurements (quality <c>good</c> and a plausible device timestamp, contract §4.2/§4.3), reduced. A bucket with no
/// such reading is not returned. <paramref name="Avg"/> is <c>Sum / Count</c>; <paramref name="Last"/> is the value
/// with the newest device timestamp (ties: highest sequence).
/// </summary>
public sealed record HistoryBucket(DateTimeOffset Start, long Count, double Min, double Max, double Avg, double Last);

/// <summary>One channel of the catalogue: what a gateway measures, in which unit, since when.</summary>
public sealed record ChannelInfo(string Gateway, string Channel, string Unit, DateTimeOffset? LastTimestamp);

/// <summary>
/// The aggregator's store, whichever engine holds it (SQLite embedded, PostgreSQL for scale). Readings are keyed by
/// (gateway, stream, seq) so that storing a key twice does nothing (contract §4.1). One writer (the ingest loop)
/// calls <see cref="Store"/> and <see cref="RecordStatus"/>; any number of readers call the rest concurrently.
/// </summary>
public interface IReadingStore : IDisposable
{
    /// <summary>
    /// Stores every batch in one transaction and returns per batch what was new, already stored and flagged (contract
    /// §4.3). Throws (and stores nothing) when the engine cannot write them (disk full, I/O error, connection lost).
    /// </summary>
    StoreResult[] Store(IReadOnlyList<ReadingBatch> batches, DateTimeOffset receivedAt);

    /// <summary>Records a gateway's status (or its will); <paramref name="healthJson"/> replaces the stored health when given.</summary>
    void RecordStatus(GatewayStatus status, DateTimeOffset receivedAt, string? healthJson = null);

    /// <summary>The latest plausible value of every channel (of one gateway when <paramref name="gateway"/> is given).</summary>
    IReadOnlyList<LatestReading> Latest(string? gateway = null);

    /// <summary>Every gateway the store has heard of, with its counters and health.</summary>
    IReadOnlyList<GatewayInfo> Gateways();

    /// <summary>The channel catalogue (of one gateway when <paramref name="gateway"/> is given), ordered by gateway and channel.</summary>
    IReadOnlyList<ChannelInfo> Channels(string? gateway = null);

    /// <summary>The newest <paramref name="limit"/> readings of one channel by receive order, newest first.</summary>
    IReadOnlyList<StoredReading> Readings(string gateway, string channel, int limit);

    /// <summary>
    /// Raw readings of one channel with <c>from &lt;= ts &lt; to</c> (device time), oldest first, at most
    /// <paramref name="limit"/>, starting after (<paramref name="afterTs"/>, <paramref name="afterSeq"/>) when given
    /// (keyset paging).
    /// </summary>
    IReadOnlyList<StoredReading> Range(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, int limit,
        DateTimeOffset? afterTs = null, long? afterSeq = null);

    /// <summary>
    /// One channel's history in buckets of <paramref name="step"/> aligned to the Unix epoch (UTC), oldest first, for
    /// <c>from &lt;= ts &lt; to</c>.
    /// </summary>
    IReadOnlyList<HistoryBucket> Buckets(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, TimeSpan step);

    /// <summary>Every stored reading of one channel, oldest first (tests and tools; unbounded).</summary>
    IReadOnlyList<(long Sequence, DateTimeOffset Timestamp, double? Value, Quality Quality)> History(string gateway, string channel);

    /// <summary>How many readings are stored in all (slow on a large store: not for health checks).</summary>
    long Count();
}
