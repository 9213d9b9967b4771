using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Storage.Postgres;

/// <summary>
/// Applies <c>Aggregator:Store:RetainRawDays</c> to a PostgreSQL store: at start and then every <see cref="Period"/>, drops
/// the daily partitions older than the retention (<see cref="PostgresReadingStore.DropPartitionsBefore"/>). Does nothing
/// for SQLite or a zero retention. A failed pass (server down) is logged and retried at the next period; it never stops
/// the service.
/// </summary>
public sealed class PostgresRetention(PostgresReadingStore? store, TimeSpan retention, TimeProvider time, ILogger<PostgresRetention> logger)
    : BackgroundService
{
    /// <summary>How often retention runs: hourly, so a day partition goes at most an hour after its last reading expired.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store is null || retention <= TimeSpan.Zero)
        {
            return;
        }

        await Task.Yield(); // the first pass must not hold up the host's start
        using var timer = new PeriodicTimer(Period, time);
        do
        {
            try
            {
                store.DropPartitionsBefore(time.GetUtcNow() - retention);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.RetentionFailed(ex, Period);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
