using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sampling;

/// <summary>
/// Runs every <see cref="IReadingSource"/> side by side and appends what they yield to the outbox. Each source runs
/// under supervision: any exception but cancellation is logged, counted in <see cref="SourceFailures"/>, and the source
/// is restarted after a backoff on the <see cref="TimeProvider"/> (1 s, doubling to 60 s, back to 1 s once it yields
/// again); the other sources are not affected. A full or failing card does not stop an append (the outbox evicts or
/// holds the readings in RAM, see <see cref="SqliteOutbox.Append"/>); any other failed append loses that one batch, is
/// counted in <see cref="Lost"/>, and sampling goes on.
/// </summary>
public sealed class SamplingService(IEnumerable<IReadingSource> sources, SqliteOutbox outbox, TimeProvider time,
    ILogger<SamplingService> logger) : BackgroundService
{
    /// <summary>First pause before a failed source is restarted.</summary>
    public static readonly TimeSpan RestartDelayMin = TimeSpan.FromSeconds(1);

    /// <summary>Longest pause before a failed source is restarted (the delay doubles up to this).</summary>
    public static readonly TimeSpan RestartDelayMax = TimeSpan.FromSeconds(60);

    private readonly IReadingSource[] _sources = sources.ToArray();
    private readonly TaskCompletionSource _firstCycle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<IReadingSource, long> _progress = [];
    private long _appended;
    private long _lost;
    private long _sourceFailures;
    private int _sourcesCycled;

    /// <summary>
    /// Completes when every source has finished its first cycle (yielded its first batch, possibly comm_failure
    /// readings, or failed once and been restarted); at once when there is no source. The systemd READY point.
    /// </summary>
    public Task FirstCycle => _sources.Length == 0 ? Task.CompletedTask : _firstCycle.Task;

    /// <summary>
    /// The source that has made no progress (no batch, no failure) for longer than three of its
    /// <see cref="IReadingSource.ExpectedInterval"/>, and at least <paramref name="minimum"/>, on the monotonic clock,
    /// with how long; null when all move. A device call that blocks forever shows here.
    /// </summary>
    public (string Source, TimeSpan Quiet)? FindStalledSource(TimeSpan minimum)
    {
        lock (_progress)
        {
            foreach (var (source, last) in _progress)
            {
                var quiet = time.GetElapsedTime(last);
                var limit = 3 * source.ExpectedInterval;
                if (quiet > (limit > minimum ? limit : minimum))
                {
                    return (source.Name, quiet);
                }
            }
        }

        return null;
    }

    private void Progressed(IReadingSource source, ref bool cycled)
    {
        lock (_progress)
        {
            _progress[source] = time.GetTimestamp();
        }

        if (!cycled)
        {
            cycled = true;
            if (Interlocked.Increment(ref _sourcesCycled) == _sources.Length)
            {
                _firstCycle.TrySetResult();
            }
        }
    }

    /// <summary>Readings appended to the outbox since start.</summary>
    public long Appended => Interlocked.Read(ref _appended);

    /// <summary>Readings a source produced that could not be stored (the card full or failing) since start.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>How many times a source threw and was restarted since start.</summary>
    public long SourceFailures => Interlocked.Read(ref _sourceFailures);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_sources.Select(s => RunSourceAsync(s, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var s in _sources)
        {
            try
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.SourceCrashed(ex, s.Name, Interlocked.Increment(ref _sourceFailures), TimeSpan.Zero);
            }
        }

        logger.SamplingStopped(Appended, Lost);
    }

    private async Task RunSourceAsync(IReadingSource source, CancellationToken ct)
    {
        await Task.Yield();
        logger.SamplingStarted(source.Name, source.Channels.Count);
        var cycled = false;
        lock (_progress)
        {
            _progress[source] = time.GetTimestamp();
        }

        var delay = RestartDelayMin;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var readings in source.RunAsync(ct).ConfigureAwait(false))
                {
                    // Stored first: at READY=1 (FirstCycle) the first cycle's readings are in the outbox.
                    Append(source, readings);
                    Progressed(source, ref cycled);
                    delay = RestartDelayMin;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Supervision: whatever went wrong in this source, the others keep sampling and this one comes back.
                logger.SourceCrashed(ex, source.Name, Interlocked.Increment(ref _sourceFailures), delay);
                Progressed(source, ref cycled); // a crash is not a hang: the supervisor is alive and restarts it
                try
                {
                    await Task.Delay(delay, time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, RestartDelayMax.Ticks));
            }
        }
    }

    private void Append(IReadingSource source, IReadOnlyList<Reading> readings)
    {
        if (readings.Count == 0)
        {
            return; // a poll cycle with nothing new to report: progress, nothing to store
        }

        try
        {
            outbox.Append(readings);
            Interlocked.Add(ref _appended, readings.Count);
            var invalidated = readings.Count(static r => QualityNames.CarriesValue(r.Quality) && !(r.Value is { } v && double.IsFinite(v)));
            if (invalidated > 0)
            {
                logger.ReadingsInvalidated(source.Name, invalidated);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not disk trouble (the outbox survives that itself: it evicts, holds readings in RAM and never throws for
            // it): a defect. These readings are lost (counted); the source keeps going.
            Interlocked.Add(ref _lost, readings.Count);
            logger.AppendFailed(ex, readings.Count, source.Name);
        }
    }
}
