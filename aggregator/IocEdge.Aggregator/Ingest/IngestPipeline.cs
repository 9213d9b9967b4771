using System.Threading.Channels;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Ingest;

/// <summary>
/// Group commit: every transport (the embedded broker today, an external broker's subscription later) hands decoded
/// batches to <see cref="SubmitAsync"/> and awaits their commit before it acknowledges them. One writer loop drains
/// whatever is waiting into one transaction, so many gateways share one fsync.
/// </summary>
public sealed class IngestPipeline : BackgroundService
{
    private readonly Channel<Work> _queue;
    private readonly IReadingStore _store;
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<IngestPipeline> _logger;
    private readonly int _maxReadingsPerCommit;
    private readonly Live.LiveFeed? _live;

    public IngestPipeline(IReadingStore store, IngestMetrics metrics, IOptions<AggregatorOptions> options, TimeProvider time,
        ILogger<IngestPipeline> logger, Live.LiveFeed? live = null)
    {
        _live = live;
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _maxReadingsPerCommit = options.Value.Ingest.MaxReadingsPerCommit;
        _queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(options.Value.Ingest.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Completes once the batch is committed; throws when the store could not write it.</summary>
    public async ValueTask<StoreResult> SubmitAsync(ReadingBatch batch, CancellationToken cancellationToken)
    {
        var work = new Work(batch, null);
        await _queue.Writer.WriteAsync(work, cancellationToken).ConfigureAwait(false);
        return await work.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Queues the batch for the next commit and returns as soon as it is queued (waiting only while the queue is full):
    /// the returned task completes once the batch is committed, or faults when the store could not write it. For a
    /// transport that pipelines, so that several messages of one sender share one commit (the embedded broker holds each
    /// PUBACK on this task: <see cref="Broker.GuardedChannelAdapter"/>).
    /// </summary>
    public async ValueTask<Task<StoreResult>> EnqueueAsync(ReadingBatch batch, CancellationToken cancellationToken)
    {
        var work = new Work(batch, null);
        await _queue.Writer.WriteAsync(work, cancellationToken).ConfigureAwait(false);
        return work.Done.Task;
    }

    /// <summary>Records a status (and its health object's raw JSON, contract §5, when it has one) through the same single writer.</summary>
    public async ValueTask SubmitStatusAsync(GatewayStatus status, CancellationToken cancellationToken, string? healthJson = null)
    {
        var work = new Work(null, status) { HealthJson = healthJson };
        await _queue.Writer.WriteAsync(work, cancellationToken).ConfigureAwait(false);
        await work.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new List<Work>();
        var batches = new List<ReadingBatch>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                pending.Clear();
                batches.Clear();
                var readings = 0;
                while (readings < _maxReadingsPerCommit && _queue.Reader.TryRead(out var w))
                {
                    pending.Add(w);
                    if (w.Batch is not null)
                    {
                        batches.Add(w.Batch);
                        readings += w.Batch.Readings.Count;
                    }
                }

                Commit(pending, batches);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Whatever is still queued was never acknowledged: its senders will send it again.
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var w))
            {
                w.Done.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    private void Commit(List<Work> pending, List<ReadingBatch> batches)
    {
        StoreResult[] results;
        // The receive time: the one wall-clock reading of a commit, against which device timestamps are judged (§4.3).
        var receivedAt = _time.GetUtcNow();
        try
        {
            foreach (var w in pending)
            {
                if (w.Status is not null)
                {
                    _store.RecordStatus(w.Status, receivedAt, w.HealthJson);
                }
            }

            results = batches.Count == 0 ? [] : _store.Store(batches, receivedAt);
        }
        catch (PartialCommitException ex)
        {
            // Some of the commit's transactions failed (PostgreSQL with several write connections): what was committed is
            // acknowledged and shown as usual, the rest fails like a whole failed commit. The failure is recorded after
            // the committed part, so that /healthz reports it (503) until a whole commit succeeds again.
            CommitPart(pending, ex, receivedAt);
            _metrics.StoreFailure();
            return;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Any failure of the store (SQLite, PostgreSQL, I/O, or one nobody foresaw) fails this commit's senders, who
            // send again; the writer loop goes on with the next commit.
            _metrics.StoreFailure();
            foreach (var w in pending)
            {
                Fail(w, ex);
            }

            return;
        }

        Complete(pending, batches, results, receivedAt);
    }

    /// <summary>After a partial commit: completes the works whose batch has a result (and the statuses, written before the readings), fails the others.</summary>
    private void CommitPart(List<Work> pending, PartialCommitException ex, DateTimeOffset receivedAt)
    {
        var done = new List<Work>(pending.Count);
        var doneBatches = new List<ReadingBatch>(pending.Count);
        var doneResults = new List<StoreResult>(pending.Count);
        var b = 0;
        foreach (var w in pending)
        {
            if (w.Batch is null)
            {
                done.Add(w);
            }
            else if (ex.Results[b++] is { } result)
            {
                done.Add(w);
                doneBatches.Add(w.Batch);
                doneResults.Add(result);
            }
            else
            {
                Fail(w, ex);
            }
        }

        Complete(done, doneBatches, [.. doneResults], receivedAt);
    }

    private void Fail(Work w, Exception ex)
    {
        if (w.Batch is not null)
        {
            _logger.StoreFailed(ex, w.Batch.Readings.Count, w.Batch.GatewayId);
        }

        w.Done.TrySetException(ex);
    }

    private void Complete(List<Work> pending, List<ReadingBatch> batches, StoreResult[] results, DateTimeOffset receivedAt)
    {
        // After commit, before any PUBACK (w4-api): the last-value cache and the live stream learn what was stored, so a
        // value is visible by the time its sender hears it was stored. Cheap (no serialisation here) and never throws.
        _live?.Committed(batches, results, pending.Where(p => p.Status is not null).Select(p => p.Status!), receivedAt);

        // The counters too are updated before any sender hears its PUBACK: a client that reads /metrics (or a test that
        // reads the counters) after its acknowledgement sees its own message counted. (Completing first raced: the
        // continuations run on the thread pool, and a fresh-clone run read 3 duplicates of 5.)
        var b = 0;
        int stored = 0, duplicates = 0;
        foreach (var w in pending)
        {
            if (w.Batch is null)
            {
                continue;
            }

            var r = results[b++];
            _metrics.TimestampsFlagged(w.Batch.GatewayId, r);
            stored += r.Stored;
            duplicates += r.Duplicates;
        }

        _metrics.Committed(stored, duplicates);
        b = 0;
        foreach (var w in pending)
        {
            w.Done.TrySetResult(w.Batch is null ? default : results[b++]);
        }

        _logger.Committed(stored, duplicates, pending.Count);
    }

    private sealed class Work(ReadingBatch? batch, GatewayStatus? status)
    {
        public ReadingBatch? Batch { get; } = batch;

        public GatewayStatus? Status { get; } = status;

        public string? HealthJson { get; init; }

        public TaskCompletionSource<StoreResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
