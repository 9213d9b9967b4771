namespace IocEdge.Aggregator.Ingest;

/// <summary>Counters the aggregator exposes on /metrics (Prometheus text format) and in tests.</summary>
public sealed class IngestMetrics
{
    private long _messages;
    private long _stored;
    private long _duplicates;
    private long _rejected;
    private long _storeFailures;
    private long _brokerDropped;
    private long _commits;

    public long Messages => Interlocked.Read(ref _messages);

    public long Stored => Interlocked.Read(ref _stored);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long StoreFailures => Interlocked.Read(ref _storeFailures);

    public long BrokerDropped => Interlocked.Read(ref _brokerDropped);

    public long Commits => Interlocked.Read(ref _commits);

    internal void Message() => Interlocked.Increment(ref _messages);

    internal void Committed(int stored, int duplicates)
    {
        Interlocked.Add(ref _stored, stored);
        Interlocked.Add(ref _duplicates, duplicates);
        Interlocked.Increment(ref _commits);
    }

    internal void Reject() => Interlocked.Increment(ref _rejected);

    internal void StoreFailure() => Interlocked.Increment(ref _storeFailures);

    internal void Dropped() => Interlocked.Increment(ref _brokerDropped);

    public string ToPrometheusText() => $"""
        # HELP iocedge_ingest_messages_total Readings messages received.
        # TYPE iocedge_ingest_messages_total counter
        iocedge_ingest_messages_total {Messages}
        # HELP iocedge_ingest_stored_total Readings stored (first delivery).
        # TYPE iocedge_ingest_stored_total counter
        iocedge_ingest_stored_total {Stored}
        # HELP iocedge_ingest_duplicates_total Readings received again and not stored twice.
        # TYPE iocedge_ingest_duplicates_total counter
        iocedge_ingest_duplicates_total {Duplicates}
        # HELP iocedge_ingest_rejected_total Messages refused as malformed (counted and dropped).
        # TYPE iocedge_ingest_rejected_total counter
        iocedge_ingest_rejected_total {Rejected}
        # HELP iocedge_ingest_store_failures_total Commits that failed; their senders were told to retry.
        # TYPE iocedge_ingest_store_failures_total counter
        iocedge_ingest_store_failures_total {StoreFailures}
        # HELP iocedge_ingest_commits_total Store transactions.
        # TYPE iocedge_ingest_commits_total counter
        iocedge_ingest_commits_total {Commits}
        # HELP iocedge_broker_dropped_total Messages the embedded broker dropped for a slow subscriber.
        # TYPE iocedge_broker_dropped_total counter
        iocedge_broker_dropped_total {BrokerDropped}

        """;
}
