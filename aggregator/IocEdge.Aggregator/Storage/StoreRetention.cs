using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Storage;

/// <summary>The tables that retention trims.</summary>
public enum StoreTable
{
    /// <summary>Raw readings (<see cref="StoreRetentionOptions.RetainRawDays"/>).</summary>
    Readings,

    /// <summary>1-minute rollups (<see cref="StoreRetentionOptions.RetainMinuteRollupDays"/>).</summary>
    MinuteRollups,

    /// <summary>1-hour rollups (<see cref="StoreRetentionOptions.RetainHourRollupDays"/>).</summary>
    HourRollups,
}

/// <summary>A store that can delete its oldest rows in small batches (implemented by the SQLite <see cref="ReadingStore"/>).</summary>
public interface IStoreRetention
{
    /// <summary>
    /// Deletes at most <paramref name="maxRows"/> rows of <paramref name="table"/> older than
    /// <paramref name="olderThan"/> (device time; raw readings must also have been received before it) in one short
    /// transaction, and returns how many it deleted: fewer than <paramref name="maxRows"/> means none are left (or the
    /// call visited its share of series; the next call goes on where it stopped). Throws what the engine throws.
    /// </summary>
    int Prune(StoreTable table, DateTimeOffset olderThan, int maxRows);
}

/// <summary>
/// The SQLite store's retention, keys of section "Aggregator:Store" (issue 15, "retention"): how many days of each
/// table are kept. 0 keeps for ever, the default for all three: nothing is deleted unless an operator asks.
/// </summary>
public sealed class StoreRetentionOptions
{
    /// <summary>The configuration section these keys live in (shared with the engine selection).</summary>
    public const string Section = "Aggregator:Store";

    /// <summary>Days of raw readings kept (by device timestamp). 0 = for ever; otherwise 1-36500.</summary>
    public int RetainRawDays { get; set; }

    /// <summary>Days of 1-minute rollups kept. 0 = for ever; otherwise 1-36500, and not less than <see cref="RetainRawDays"/>.</summary>
    public int RetainMinuteRollupDays { get; set; }

    /// <summary>Days of 1-hour rollups kept. 0 = for ever; otherwise 1-36500, and not less than <see cref="RetainMinuteRollupDays"/>.</summary>
    public int RetainHourRollupDays { get; set; }

    /// <summary>True when any table has a retention.</summary>
    public bool Enabled => RetainRawDays > 0 || RetainMinuteRollupDays > 0 || RetainHourRollupDays > 0;

    /// <summary>The configuration errors, one line each starting with the full key and naming the fix; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        const string P = Section + ":";
        foreach (var (name, days) in new[]
                 {
                     (nameof(RetainRawDays), RetainRawDays), (nameof(RetainMinuteRollupDays), RetainMinuteRollupDays),
                     (nameof(RetainHourRollupDays), RetainHourRollupDays),
                 })
        {
            if (days is < 0 or > 36_500)
            {
                yield return $"{P}{name} is {days}: use 0 (keep for ever) or 1-36500 days.";
            }
        }

        if (Shorter(RetainMinuteRollupDays, RetainRawDays))
        {
            yield return $"{P}RetainMinuteRollupDays is {RetainMinuteRollupDays}, less than RetainRawDays ({RetainRawDays}): " +
                         "keep rollups at least as long as raw readings (or 0, for ever).";
        }

        if (Shorter(RetainHourRollupDays, RetainMinuteRollupDays))
        {
            yield return $"{P}RetainHourRollupDays is {RetainHourRollupDays}, less than RetainMinuteRollupDays " +
                         $"({RetainMinuteRollupDays}): keep hourly rollups at least as long as minute ones (or 0, for ever).";
        }
    }

    // a keeps less than b: a is finite and b is for ever or longer.
    private static bool Shorter(int a, int b) => a > 0 && (b == 0 || a < b);
}

/// <summary>Start-up validation of <see cref="StoreRetentionOptions"/> (ValidateOnStart).</summary>
internal sealed class StoreRetentionOptionsValidator : IValidateOptions<StoreRetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreRetentionOptions options)
    {
        var errors = options.Validate().ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// The retention loop: at start and then every <see cref="Interval"/>, deletes what is older than each table's
/// retention in batches of <see cref="BatchRows"/> rows (each its own short transaction, so ingest never waits long),
/// yielding between batches. Does nothing when no retention is configured or the store cannot prune (a store
/// engine with its own retention). Supervised: any failure but cancellation is counted
/// (<see cref="Failures"/>), logged, and the loop goes on at the next interval.
/// </summary>
public sealed class StoreRetention(IStoreRetention? store, IOptions<StoreRetentionOptions> options, TimeProvider time,
    ILogger<StoreRetention> logger) : BackgroundService
{
    /// <summary>How often retention runs: hourly (a day's worth of readings is the unit operators think in).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>
    /// Rows deleted per transaction: 2,000 hold the write lock for a few milliseconds on the project's 2-core machine,
    /// so a commit waits at most that long.
    /// </summary>
    public const int BatchRows = 2_000;

    private long _failures;
    private long _deleted;

    /// <summary>Passes that failed (the store threw); each was logged.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Rows deleted since start.</summary>
    public long Deleted => Interlocked.Read(ref _deleted);

    /// <summary>Runs one retention pass now (every table, until nothing is left to delete); returns the rows deleted.</summary>
    public async Task<long> RunOnceAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (store is null)
        {
            return 0;
        }

        var now = time.GetUtcNow();
        long total = 0;
        foreach (var (table, days) in new[]
                 {
                     (StoreTable.Readings, o.RetainRawDays), (StoreTable.MinuteRollups, o.RetainMinuteRollupDays),
                     (StoreTable.HourRollups, o.RetainHourRollupDays),
                 })
        {
            if (days == 0)
            {
                continue;
            }

            var cutoff = now - TimeSpan.FromDays(days);
            int n;
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                n = store.Prune(table, cutoff, BatchRows);
                total += n;
                Interlocked.Add(ref _deleted, n);
                // Let the ingest loop take the write lock between batches.
                await Task.Yield();
            }
            while (n >= BatchRows);
        }

        if (total > 0)
        {
            logger.RetentionDeleted(total);
        }

        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled || store is null)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures);
                logger.RetentionFailed(ex);
            }

            try
            {
                await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
