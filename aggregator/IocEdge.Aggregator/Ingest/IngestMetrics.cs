using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using IocEdge.Aggregator.Storage;

namespace IocEdge.Aggregator.Ingest;

/// <summary>The encoding of a readings message: JSON on <c>…/readings</c> (contract §4), compact on <c>…/readings/bin</c> (§8).</summary>
public enum PayloadKind
{
    Json,
    Compact,
}

/// <summary>
/// The ingest counters, as <see cref="System.Diagnostics.Metrics"/> instruments of the meter <see cref="MeterName"/>
/// (exported on /metrics by OpenTelemetry's Prometheus exporter, and to any OpenTelemetry collector an operator adds)
/// and as properties for tests. Prometheus names (the exporter adds <c>_total</c> to counters):
/// <list type="bullet">
/// <item><c>iocedge_ingest_messages_total</c>: readings messages received.</item>
/// <item><c>iocedge_ingest_stored_total</c>: readings stored (first delivery).</item>
/// <item><c>iocedge_ingest_duplicates_total</c>: readings received again and not stored twice.</item>
/// <item><c>iocedge_ingest_rejected_total{reason}</c>: messages refused, by reason label of contract §6.</item>
/// <item><c>iocedge_ingest_payload_messages_total{payload=json|compact, outcome=accepted|refused}</c>.</item>
/// <item><c>iocedge_ingest_unacknowledged_total</c>: readings messages sent with QoS 0.</item>
/// <item><c>iocedge_ingest_timestamp_flagged_total{gateway, status=future|too_old|before_epoch}</c> (contract §4.3).</item>
/// <item><c>iocedge_ingest_store_failures_total</c>, <c>iocedge_ingest_commits_total</c>, <c>iocedge_broker_dropped_total</c>.</item>
/// <item><c>iocedge_ingest_last_commit_age_seconds</c> (gauge): seconds since the last successful commit, -1 before the first.</item>
/// </list>
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    /// <summary>The meter's name; /metrics exports every meter whose name starts with it.</summary>
    public const string MeterName = "IocEdge.Aggregator";

    private readonly ConcurrentDictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Gateway, TimestampStatus Status), long> _flagged = new();
    private readonly long[] _accepted = new long[2];
    private readonly long[] _refused = new long[2];
    private readonly Meter? _ownedMeter;
    private readonly TimeProvider _time;
    private long _messages;
    private long _stored;
    private long _duplicates;
    private long _storeFailures;
    private long _brokerDropped;
    private long _commits;
    private long _unacknowledged;
    private long _lastCommitAt = long.MinValue;
    private long _lastFailureAt = long.MinValue;

    /// <summary>Counters on a meter of their own (tests and tools that build no host).</summary>
    public IngestMetrics()
        : this(null, TimeProvider.System)
    {
    }

    /// <summary>Counters on a meter from <paramref name="meterFactory"/> (the host's, so /metrics of this host shows them).</summary>
    public IngestMetrics(IMeterFactory? meterFactory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Meter meter;
        if (meterFactory is null)
        {
            meter = _ownedMeter = new Meter(MeterName);
        }
        else
        {
            meter = meterFactory.Create(MeterName);
        }

        meter.CreateObservableCounter("iocedge_ingest_messages", () => Messages, description: "Readings messages received.");
        meter.CreateObservableCounter("iocedge_ingest_stored", () => Stored, description: "Readings stored (first delivery).");
        meter.CreateObservableCounter("iocedge_ingest_duplicates", () => Duplicates,
            description: "Readings received again and not stored twice.");
        meter.CreateObservableCounter("iocedge_ingest_rejected", () => _rejected.Select(p =>
                new Measurement<long>(p.Value, new KeyValuePair<string, object?>("reason", p.Key))),
            description: "Messages on iocedge/ refused and not stored, by reason (contract §6).");
        meter.CreateObservableCounter("iocedge_ingest_payload_messages", PayloadMeasurements,
            description: "Readings messages by payload kind (json §4, compact §8) and outcome.");
        meter.CreateObservableCounter("iocedge_ingest_unacknowledged", () => Unacknowledged,
            description: "Readings messages sent with QoS 0 (no PUBACK possible; stored when valid).");
        meter.CreateObservableCounter("iocedge_ingest_timestamp_flagged", () => _flagged.Select(p => new Measurement<long>(p.Value,
                new KeyValuePair<string, object?>("gateway", p.Key.Gateway),
                new KeyValuePair<string, object?>("status", TimestampPolicy.ToWire(p.Key.Status)))),
            description: "Stored readings whose device timestamp is implausible, by gateway and status (contract §4.3).");
        meter.CreateObservableCounter("iocedge_ingest_store_failures", () => StoreFailures,
            description: "Commits that failed; their senders were told to retry.");
        meter.CreateObservableCounter("iocedge_ingest_commits", () => Commits, description: "Store transactions.");
        meter.CreateObservableCounter("iocedge_broker_dropped", () => BrokerDropped,
            description: "Messages the embedded broker dropped for a slow subscriber.");
        meter.CreateObservableGauge("iocedge_ingest_last_commit_age_seconds",
            () => LastCommitAge is { } age ? age.TotalSeconds : -1,
            description: "Seconds since the last successful commit (-1 before the first).");
    }

    public long Messages => Interlocked.Read(ref _messages);

    public long Stored => Interlocked.Read(ref _stored);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Messages refused, all reasons together.</summary>
    public long Rejected => _rejected.Values.Sum();

    public long StoreFailures => Interlocked.Read(ref _storeFailures);

    public long BrokerDropped => Interlocked.Read(ref _brokerDropped);

    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Readings messages published with QoS 0: stored when valid, but the sender could not be told (contract §6).</summary>
    public long Unacknowledged => Interlocked.Read(ref _unacknowledged);

    /// <summary>Messages refused for <paramref name="reason"/> (a label of contract §6, such as <c>topic_gateway</c>).</summary>
    public long RejectedFor(string reason) => _rejected.TryGetValue(reason, out var n) ? n : 0;

    /// <summary>Stored readings of <paramref name="gateway"/> whose device timestamp was flagged <paramref name="status"/>.</summary>
    public long Flagged(string gateway, TimestampStatus status) => _flagged.TryGetValue((gateway, status), out var n) ? n : 0;

    /// <summary>Readings messages of <paramref name="kind"/> stored (or already stored) and acknowledged with success.</summary>
    public long AcceptedOf(PayloadKind kind) => Interlocked.Read(ref _accepted[(int)kind]);

    /// <summary>Readings messages of <paramref name="kind"/> refused (payload or retain rules of contract §6).</summary>
    public long RefusedOf(PayloadKind kind) => Interlocked.Read(ref _refused[(int)kind]);

    internal void Accepted(PayloadKind kind) => Interlocked.Increment(ref _accepted[(int)kind]);

    internal void Refused(PayloadKind kind) => Interlocked.Increment(ref _refused[(int)kind]);

    internal void Message() => Interlocked.Increment(ref _messages);

    internal void Committed(int stored, int duplicates)
    {
        Interlocked.Exchange(ref _lastCommitAt, _time.GetTimestamp());
        Interlocked.Add(ref _stored, stored);
        Interlocked.Add(ref _duplicates, duplicates);
        Interlocked.Increment(ref _commits);
    }

    internal void Reject(string reason) => _rejected.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    internal void UnacknowledgedMessage() => Interlocked.Increment(ref _unacknowledged);

    internal void TimestampsFlagged(string gateway, StoreResult result)
    {
        Add(gateway, TimestampStatus.Future, result.Future);
        Add(gateway, TimestampStatus.TooOld, result.TooOld);
        Add(gateway, TimestampStatus.BeforeEpoch, result.BeforeEpoch);
        Add(gateway, TimestampStatus.ClockUntrusted, result.ClockUntrusted);
    }

    internal void StoreFailure()
    {
        Interlocked.Exchange(ref _lastFailureAt, _time.GetTimestamp());
        Interlocked.Increment(ref _storeFailures);
    }

    /// <summary>Time since the last successful commit (monotonic clock), null before the first.</summary>
    public TimeSpan? LastCommitAge
    {
        get
        {
            var at = Interlocked.Read(ref _lastCommitAt);
            return at == long.MinValue ? null : _time.GetElapsedTime(at);
        }
    }

    /// <summary>True when the newest commit attempt failed (the store could not write): /healthz answers 503 until one succeeds.</summary>
    public bool LastCommitFailed => Interlocked.Read(ref _lastFailureAt) > Interlocked.Read(ref _lastCommitAt);

    /// <inheritdoc />
    public void Dispose() => _ownedMeter?.Dispose();

    internal void Dropped() => Interlocked.Increment(ref _brokerDropped);

    private IEnumerable<Measurement<long>> PayloadMeasurements()
    {
        foreach (var kind in new[] { PayloadKind.Json, PayloadKind.Compact })
        {
            var label = new KeyValuePair<string, object?>("payload", kind == PayloadKind.Json ? "json" : "compact");
            yield return new Measurement<long>(AcceptedOf(kind), label, new KeyValuePair<string, object?>("outcome", "accepted"));
            yield return new Measurement<long>(RefusedOf(kind), label, new KeyValuePair<string, object?>("outcome", "refused"));
        }
    }

    private void Add(string gateway, TimestampStatus status, int n)
    {
        if (n > 0)
        {
            _flagged.AddOrUpdate((gateway, status), n, (_, v) => v + n);
        }
    }
}
