using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15 "Store" on the SQLite store, against real files: exactly-once through the batched insert path, the 1-minute
/// and 1-hour rollups kept in the same transaction (a duplicate adds nothing; flagged timestamps and non-good qualities
/// stay out, HistoryBucket's rule), history served from them, and retention in small batches.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class StoreRollupTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("store-rollups");
    private readonly ReadingStore _store;

    public StoreRollupTests() => _store = new ReadingStore(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance);

    public void Dispose()
    {
        _store.Dispose();
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private static ReadingBatch Batch(string stream, long firstSeq, int count, Func<int, (DateTimeOffset Ts, double? Value, Quality Q)> f,
        string channel = "env1/pm2_5") =>
        new("gw-r", stream, Enumerable.Range(0, count).Select(i =>
        {
            var (ts, v, q) = f(i);
            return new SequencedReading(firstSeq + i, new Reading(channel, ts, v, "ug/m3", q));
        }).ToArray());

    private static void AssertSame(IReadOnlyList<HistoryBucket> expected, IReadOnlyList<HistoryBucket> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Start, actual[i].Start);
            Assert.Equal(expected[i].Count, actual[i].Count);
            Assert.Equal(expected[i].Min, actual[i].Min);
            Assert.Equal(expected[i].Max, actual[i].Max);
            Assert.Equal(expected[i].Last, actual[i].Last);
            Assert.Equal(expected[i].Avg, actual[i].Avg, 9);
        }
    }

    [Fact]
    public void Every_new_reading_is_stored_once_across_statement_sizes_redeliveries_and_repeats_within_one_commit()
    {
        // 203 = 3 x 64 + 8 + 3: every prepared statement size; then a redelivery of part of it in the same commit, a
        // message that repeats a sequence, and (next commit) the whole message again (contract §4.1).
        var first = Batch("s1", 1, 203, i => (T0.AddSeconds(i), i, Quality.Good));
        var overlap = Batch("s1", 150, 100, i => (T0.AddSeconds(149 + i), 149 + i, Quality.Good));
        var repeats = new ReadingBatch("gw-r", "s2", [.. Batch("s2", 1, 3, i => (T0.AddSeconds(i), i, Quality.Good)).Readings,
            .. Batch("s2", 2, 2, i => (T0.AddSeconds(i + 1), i + 1, Quality.Good)).Readings]);

        var r = _store.Store([first, overlap, repeats], T0.AddMinutes(10));
        var again = _store.Store([first], T0.AddMinutes(11));

        Assert.Equal(new StoreResult(203, 0), r[0]);
        Assert.Equal(new StoreResult(46, 54), r[1]); // seq 150-203 were in the first message, 204-249 are new
        Assert.Equal(new StoreResult(3, 2), r[2]);
        Assert.Equal(new StoreResult(0, 203), again[0]);
        Assert.Equal(249 + 3, _store.Count());
        Assert.Equal(252, _store.History("gw-r", "env1/pm2_5").Count);
        var gw = Assert.Single(_store.Gateways());
        Assert.Equal(252, gw.Readings);
        Assert.Equal(259, gw.Duplicates);
    }

    // Issue 15 "history for one channel, one day at 1 Hz, step=1h: p99 < 10 ms": the IOC asks for "the last 24 h" from
    // a clock that is not on a whole minute. The edges of such a range come from the raw readings, its whole minutes
    // and hours from the rollups (HistoryPlan), and the answer is the raw readings' answer.
    [Theory]
    [InlineData(3_600_000)] // step 1h: whole hours from rollup_1h, the edge minutes from rollup_1m
    [InlineData(7_200_000)] // step 2h: a 2-hour bucket made of raw, minute and hour segments, merged
    [InlineData(300_000)] // step 5 min: rollup_1m only
    [InlineData(7_000)] // step 7 s: no rollup divides it, raw readings only
    public void History_over_a_range_not_on_whole_minutes_equals_the_raw_readings_answer(long stepMs)
    {
        var now = T0.AddHours(3);
        var all = Batch("s1", 1, 3 * 3600 / 10, i => (T0.AddSeconds(10 * i), Math.Cos(i) * 50, Quality.Good)).Readings;
        foreach (var chunk in all.Chunk(500))
        {
            _store.Store([new ReadingBatch("gw-r", "s1", chunk)], now);
        }

        var from = T0.AddSeconds(17.5);
        var to = now.AddSeconds(-23);
        var step = TimeSpan.FromMilliseconds(stepMs);

        var served = _store.Buckets("gw-r", "env1/pm2_5", from, to, step);

        AssertSame(_store.RawBuckets("gw-r", "env1/pm2_5", from, to, step), served);
        Assert.Equal(all.Count(r => r.Reading.Timestamp >= from && r.Reading.Timestamp < to), served.Sum(b => b.Count));
    }

    [Fact]
    public void History_over_a_range_not_on_whole_minutes_is_served_from_the_rollups_once_the_raw_readings_are_pruned()
    {
        // Store:RetainRawDays shorter than the rollups' retention: the raw readings go, the IOC's hourly history stays,
        // whatever second its range starts on (before, any range off the whole minute was reduced from raw: empty).
        var now = T0.AddHours(3);
        var all = Batch("s1", 1, 3 * 3600 / 10, i => (T0.AddSeconds(10 * i), i, Quality.Good)).Readings;
        _store.Store([new ReadingBatch("gw-r", "s1", all)], now);
        Assert.Equal(all.Count, _store.Prune(StoreTable.Readings, now.AddHours(1), 1_000_000));
        Assert.Equal(0, _store.Count());

        var hourly = _store.Buckets("gw-r", "env1/pm2_5", T0.AddSeconds(17.5), now.AddSeconds(-23), TimeSpan.FromHours(1));

        // Whole minutes [06:01, 08:59) survive in the rollups: 178 minutes of 6 readings.
        Assert.Equal(178 * 6, hourly.Sum(b => b.Count));
        Assert.Equal([T0, T0.AddHours(1), T0.AddHours(2)], hourly.Select(b => b.Start));
        Assert.Equal(all.Where(r => r.Reading.Timestamp < T0.AddHours(3).AddMinutes(-1)).Max(r => r.Reading.Value), hourly[2].Last);
    }

    [Fact]
    public void Rollups_match_the_raw_readings_and_a_duplicate_a_flagged_timestamp_or_a_bad_quality_adds_nothing()
    {
        // Three hours at one reading every 7 s, values that make min/max/last/sum distinguishable, every 5th stale (a value, but not a measurement),
        // every 11th stamped 1970 (flagged before_epoch, contract §4.3); sent in messages of 97, each delivered twice.
        var now = T0.AddHours(3);
        var all = Batch("s1", 1, 3 * 3600 / 7, i => (i % 11 == 3 ? DateTimeOffset.UnixEpoch.AddSeconds(i) : T0.AddSeconds(7 * i),
            Math.Sin(i) * 100, i % 5 == 4 ? Quality.Stale : Quality.Good)).Readings;
        foreach (var chunk in all.Chunk(97))
        {
            var b = new ReadingBatch("gw-r", "s1", chunk);
            _store.Store([b, b], now);
            _store.Store([b], now);
        }

        // Whole minutes / hours: served from the rollups; RawBuckets reduces the raw readings alone.
        var fromRawMinutes = _store.RawBuckets("gw-r", "env1/pm2_5", T0, now, TimeSpan.FromMinutes(5));
        var fromRollupMinutes = _store.Buckets("gw-r", "env1/pm2_5", T0, now, TimeSpan.FromMinutes(5));
        var fromRawHours = _store.RawBuckets("gw-r", "env1/pm2_5", T0, now, TimeSpan.FromHours(1));
        var fromRollupHours = _store.Buckets("gw-r", "env1/pm2_5", T0, now, TimeSpan.FromHours(1));

        AssertSame(fromRawMinutes, fromRollupMinutes);
        AssertSame(fromRawHours, fromRollupHours);
        var measurements = all.Count(r => r.Sequence % 11 != 4 && r.Sequence % 5 != 0); // seq = i + 1
        Assert.Equal(measurements, fromRollupHours.Sum(b => b.Count));
        Assert.Equal(3, fromRollupHours.Count);
        // The hourly rollup's last value is the newest good, plausible reading of that hour.
        var lastOfFirstHour = all.Where(r => r.Reading.Timestamp < T0.AddHours(1) && r.Reading.Timestamp >= T0 && r.Reading.Quality == Quality.Good)
            .MaxBy(r => r.Reading.Timestamp).Reading.Value;
        Assert.Equal(lastOfFirstHour, fromRollupHours[0].Last);
    }

    [Fact]
    public async Task Retention_deletes_old_raw_readings_in_small_batches_and_history_of_whole_hours_is_still_served_from_the_rollups()
    {
        // 3 days at one reading a minute on 3 channels; raw kept 1 day, rollups for ever.
        var now = T0.AddDays(3);
        foreach (var channel in new[] { "env1/pm2_5", "env1/pm10", "env2/pm2_5" })
        {
            var stream = "s" + channel.Length + channel[3] + channel[^1];
            for (var day = 0; day < 3; day++)
            {
                // Received as they were measured (retention also waits for the receive time to pass the cutoff).
                var d = day;
                _store.Store([Batch(stream, 1 + d * 1440, 1440, i => (T0.AddDays(d).AddMinutes(i), i % 60, Quality.Good), channel)],
                    T0.AddDays(d + 1).AddSeconds(-1));
            }
        }

        var before = _store.Buckets("gw-r", "env1/pm10", T0, now, TimeSpan.FromHours(6));
        var time = new FakeTimeProvider(now);
        var retention = new StoreRetention(_store, Options.Create(new StoreRetentionOptions { RetainRawDays = 1 }), time,
            NullLogger<StoreRetention>.Instance);

        // One call never deletes more than asked (a short write lock); the loop then finishes the job.
        Assert.Equal(500, _store.Prune(StoreTable.Readings, now.AddDays(-1), 500));
        var deleted = await retention.RunOnceAsync(CancellationToken.None);

        Assert.Equal(3 * 2 * 1440 - 500, deleted);
        Assert.Equal(3 * 1440, _store.Count());
        Assert.DoesNotContain(_store.History("gw-r", "env1/pm2_5"), h => h.Timestamp < now.AddDays(-1));
        AssertSame(before, _store.Buckets("gw-r", "env1/pm10", T0, now, TimeSpan.FromHours(6)));
        Assert.Equal(0, retention.Failures);
    }

    [Fact]
    public void Retention_configuration_out_of_range_is_one_line_naming_the_key_and_the_fix()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Store:RetainRawDays"] = "30",
            ["Aggregator:Store:RetainMinuteRollupDays"] = "7",
            ["Aggregator:Store:RetainHourRollupDays"] = "-1",
        }).Build();

        var errors = ConfigCheck.Check(config);

        Assert.Contains(errors, e => e.StartsWith("Aggregator:Store:RetainMinuteRollupDays is 7, less than RetainRawDays (30)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Aggregator:Store:RetainHourRollupDays is -1: use 0 (keep for ever) or 1-36500 days.", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
    }
}
