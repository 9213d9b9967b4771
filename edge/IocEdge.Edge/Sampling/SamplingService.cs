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

    private long _appended;
    private long _lost;
    private long _sourceFailures;

    /// <summary>Readings appended to the outbox since start.</summary>
    public long Appended => Interlocked.Read(ref _appended);

    /// <summary>Readings a source produced that could not be stored (the card full or failing) since start.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>How many times a source threw and was restarted since start.</summary>
    public long SourceFailures => Interlocked.Read(ref _sourceFailures);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(sources.Select(s => RunSourceAsync(s, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var s in sources)
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
    }

    private async Task RunSourceAsync(IReadingSource source, CancellationToken ct)
    {
        await Task.Yield();
        logger.SamplingStarted(source.Name, source.Channels.Count);
        var delay = RestartDelayMin;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var readings in source.RunAsync(ct).ConfigureAwait(false))
                {
                    Append(source, readings);
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
