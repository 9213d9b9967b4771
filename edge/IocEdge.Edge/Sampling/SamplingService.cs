using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sampling;

/// <summary>
/// Runs every <see cref="IReadingSource"/> side by side and appends what they yield to the outbox. A source that
/// fails is logged and restarted after a pause; the others are not affected.
/// </summary>
public sealed class SamplingService(IEnumerable<IReadingSource> sources, SqliteOutbox outbox, TimeProvider time,
    ILogger<SamplingService> logger) : BackgroundService
{
    private static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(5);
    private long _appended;

    /// <summary>Readings appended to the outbox since start.</summary>
    public long Appended => Interlocked.Read(ref _appended);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(sources.Select(s => RunSourceAsync(s, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var s in sources)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunSourceAsync(IReadingSource source, CancellationToken ct)
    {
        await Task.Yield();
        logger.SamplingStarted(source.Name, source.Channels.Count);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var readings in source.RunAsync(ct).ConfigureAwait(false))
                {
                    Append(source, readings);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.SourceFailed(source.Name, ex.Message);
                await Task.Delay(RestartDelay, time, ct).ConfigureAwait(false);
            }
        }
    }

    private void Append(IReadingSource source, IReadOnlyList<Reading> readings)
    {
        try
        {
            outbox.Append(readings);
            Interlocked.Add(ref _appended, readings.Count);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            // The card is full or failing. These readings are lost; the source keeps going so that the next ones are
            // stored as soon as space returns. (A spill-to-RAM ring for this case belongs to the outbox stage.)
            logger.AppendFailed(ex, readings.Count, source.Name);
        }
    }
}
