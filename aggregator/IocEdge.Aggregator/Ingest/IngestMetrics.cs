using System.Collections.Concurrent;
using System.Text;
using IocEdge.Aggregator.Storage;

namespace IocEdge.Aggregator.Ingest;

/// <summary>The encoding of a readings message: JSON on <c>…/readings</c> (contract §4), compact on <c>…/readings/bin</c> (§8).</summary>
public enum PayloadKind
{
    Json,
    Compact,
}

/// <summary>Counters the aggregator exposes on /metrics (Prometheus text format) and in tests.</summary>
public sealed class IngestMetrics
{
    private readonly ConcurrentDictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Gateway, TimestampStatus Status), long> _flagged = new();
    private readonly long[] _accepted = new long[2];
    private readonly long[] _refused = new long[2];
    private long _messages;
    private long _stored;
    private long _duplicates;
    private long _storeFailures;
    private long _brokerDropped;
    private long _commits;
    private long _unacknowledged;

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

    internal void StoreFailure() => Interlocked.Increment(ref _storeFailures);

    internal void Dropped() => Interlocked.Increment(ref _brokerDropped);

    public string ToPrometheusText()
    {
        var sb = new StringBuilder();
        Counter(sb, "iocedge_ingest_messages_total", "Readings messages received.", Messages);
        Counter(sb, "iocedge_ingest_stored_total", "Readings stored (first delivery).", Stored);
        Counter(sb, "iocedge_ingest_duplicates_total", "Readings received again and not stored twice.", Duplicates);
        sb.Append("# HELP iocedge_ingest_rejected_total Messages on iocedge/ refused and not stored, by reason (contract §6).\n")
            .Append("# TYPE iocedge_ingest_rejected_total counter\n");
        foreach (var (reason, n) in _rejected.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append("iocedge_ingest_rejected_total{reason=\"").Append(reason).Append("\"} ").Append(n).Append('\n');
        }

        sb.Append("# HELP iocedge_ingest_payload_messages_total Readings messages by payload kind (json §4, compact §8) and outcome.\n")
            .Append("# TYPE iocedge_ingest_payload_messages_total counter\n");
        foreach (var kind in new[] { PayloadKind.Json, PayloadKind.Compact })
        {
            var label = kind == PayloadKind.Json ? "json" : "compact";
            sb.Append("iocedge_ingest_payload_messages_total{payload=\"").Append(label).Append("\",outcome=\"accepted\"} ")
                .Append(AcceptedOf(kind)).Append('\n');
            sb.Append("iocedge_ingest_payload_messages_total{payload=\"").Append(label).Append("\",outcome=\"refused\"} ")
                .Append(RefusedOf(kind)).Append('\n');
        }

        Counter(sb, "iocedge_ingest_unacknowledged_total", "Readings messages sent with QoS 0 (no PUBACK possible; stored when valid).", Unacknowledged);
        sb.Append("# HELP iocedge_ingest_timestamp_flagged_total Stored readings whose device timestamp is implausible, by gateway and status (contract §4.3).\n")
            .Append("# TYPE iocedge_ingest_timestamp_flagged_total counter\n");
        foreach (var ((gateway, status), n) in _flagged.OrderBy(p => p.Key.Gateway, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
        {
            sb.Append("iocedge_ingest_timestamp_flagged_total{gateway=\"").Append(gateway).Append("\",status=\"")
                .Append(TimestampPolicy.ToWire(status)).Append("\"} ").Append(n).Append('\n');
        }

        Counter(sb, "iocedge_ingest_store_failures_total", "Commits that failed; their senders were told to retry.", StoreFailures);
        Counter(sb, "iocedge_ingest_commits_total", "Store transactions.", Commits);
        Counter(sb, "iocedge_broker_dropped_total", "Messages the embedded broker dropped for a slow subscriber.", BrokerDropped);
        return sb.ToString();
    }

    private void Add(string gateway, TimestampStatus status, int n)
    {
        if (n > 0)
        {
            _flagged.AddOrUpdate((gateway, status), n, (_, v) => v + n);
        }
    }

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(" counter\n")
            .Append(name).Append(' ').Append(value).Append('\n');
}
