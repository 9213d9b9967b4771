using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// The real SQLite store with faults a disk can have, put in front of its commits: the next <see cref="FailuresLeft"/>
/// commits throw as a full disk would (ENOSPC), and while <see cref="Gate"/> is closed a commit waits (a slow card, a
/// long fsync). Counts commits and the messages (batches) each one carried. Everything else is the real store.
/// </summary>
internal sealed class FaultyStore(string path, int failures = 0) : IReadingStore
{
    private readonly ReadingStore _inner = new(path, NullLogger<ReadingStore>.Instance);
    private readonly List<int> _batchesPerCommit = [];
    private int _failuresLeft = failures;

    /// <summary>Commits still to fail; below zero once they all have.</summary>
    public int FailuresLeft => Volatile.Read(ref _failuresLeft);

    /// <summary>Closed (unsignalled) holds every commit until it is released; open by default.</summary>
    public ManualResetEventSlim Gate { get; } = new(initialState: true);

    /// <summary>Number of commits that reached the store, each with the number of messages it carried.</summary>
    public IReadOnlyList<int> BatchesPerCommit
    {
        get
        {
            lock (_batchesPerCommit)
            {
                return [.. _batchesPerCommit];
            }
        }
    }

    public StoreResult[] Store(IReadOnlyList<ReadingBatch> batches, DateTimeOffset receivedAt)
    {
        lock (_batchesPerCommit)
        {
            _batchesPerCommit.Add(batches.Count);
        }

        Gate.Wait(TimeSpan.FromSeconds(60));
        return Interlocked.Decrement(ref _failuresLeft) >= 0
            ? throw new IOException("No space left on device (injected)")
            : _inner.Store(batches, receivedAt);
    }

    public void RecordStatus(GatewayStatus status, DateTimeOffset receivedAt, string? healthJson = null) =>
        _inner.RecordStatus(status, receivedAt, healthJson);

    public IReadOnlyList<LatestReading> Latest(string? gateway = null) => _inner.Latest(gateway);

    public IReadOnlyList<GatewayInfo> Gateways() => _inner.Gateways();

    public IReadOnlyList<ChannelInfo> Channels(string? gateway = null) => _inner.Channels(gateway);

    public IReadOnlyList<StoredReading> Readings(string gateway, string channel, int limit) => _inner.Readings(gateway, channel, limit);

    public IReadOnlyList<StoredReading> Range(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, int limit,
        DateTimeOffset? afterTs = null, long? afterSeq = null) => _inner.Range(gateway, channel, from, to, limit, afterTs, afterSeq);

    public IReadOnlyList<HistoryBucket> Buckets(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, TimeSpan step) =>
        _inner.Buckets(gateway, channel, from, to, step);

    public IReadOnlyList<(long Sequence, DateTimeOffset Timestamp, double? Value, Quality Quality)> History(string gateway, string channel) =>
        _inner.History(gateway, channel);

    public long Count() => _inner.Count();

    public void Dispose()
    {
        Gate.Set();
        Gate.Dispose();
        _inner.Dispose();
    }
}
