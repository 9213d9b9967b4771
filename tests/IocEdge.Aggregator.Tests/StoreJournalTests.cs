using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// The SQLite store's journal: a commit appends one journal row and a later fold moves its readings into chunks,
/// rollups and latest values. Against real files: every read answers the same before and after the fold (the IOC never
/// sees a difference), and what was committed but not folded survives a kill and is folded exactly once, also when two
/// aggregators share the file.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class StoreJournalTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("store-journal");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    // Never folds by time during a test: only Fold(), a reopening or the fold count does.
    private ReadingStore Open() => new(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance) { FoldEvery = TimeSpan.MaxValue };

    // One message: `count` readings of two channels from `first` on, 7 s apart, some bad, some without a value.
    private static ReadingBatch Batch(string stream, long first, int count, int shuffleSeed = 0)
    {
        var seqs = Enumerable.Range(0, count).Select(i => first + i).ToArray();
        if (shuffleSeed != 0)
        {
            new Random(shuffleSeed).Shuffle(seqs);
        }

        return new ReadingBatch("gw-j", stream, seqs.Select(s => new SequencedReading(s,
            new Reading(s % 2 == 0 ? "env1/pm2_5" : "env1/pm10", T0.AddSeconds(s * 7),
                s % 11 == 0 ? null : s * 0.5, "ug/m3", s % 13 == 0 ? Quality.CommFailure : Quality.Good))).ToArray());
    }

    private static string Everything(ReadingStore store)
    {
        var parts = new List<string>();
        foreach (var ch in new[] { "env1/pm2_5", "env1/pm10" })
        {
            parts.Add(string.Join(";", store.History("gw-j", ch)));
            parts.Add(string.Join(";", store.Range("gw-j", ch, T0.AddMinutes(3).AddSeconds(17), T0.AddHours(5), 40)));
            var page = store.Range("gw-j", ch, T0, T0.AddHours(5), 25);
            parts.Add(string.Join(";", store.Range("gw-j", ch, T0, T0.AddHours(5), 25, page[^1].Timestamp, page[^1].Sequence)));
            parts.Add(string.Join(";", store.Readings("gw-j", ch, 30)));
            foreach (var step in new[] { TimeSpan.FromHours(1), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(7) })
            {
                // Averages compared to 9 digits: the rollups add in another order than the raw readings.
                parts.Add(string.Join(";", store.Buckets("gw-j", ch, T0.AddSeconds(-31), T0.AddHours(4).AddSeconds(13), step)
                    .Select(b => $"{b.Start:O} {b.Count} {b.Min} {b.Max} {b.Avg:G9} {b.Last}")));
            }
        }

        parts.Add(string.Join(";", store.Latest()));
        parts.Add(string.Join(";", store.Channels()));
        parts.Add(string.Join(";", store.Latest("gw-j")));
        parts.Add(string.Join(";", store.Channels("gw-j")));
        parts.Add(string.Join(";", store.Channels("gw-none")));
        parts.Add(store.Count().ToString(System.Globalization.CultureInfo.InvariantCulture));
        return string.Join("\n", parts);
    }

    [Fact]
    public void Every_read_answers_the_same_before_and_after_the_fold()
    {
        using var store = Open();
        // Three hours of device time over two streams: out-of-order messages, a resend that is partly new, a message
        // received so late that its timestamps are flagged (never latest, never in a rollup).
        // Part of it is folded first, so that minutes and hours hold both folded and unfolded readings.
        store.Store([Batch("s1", 1, 800, shuffleSeed: 3)], T0.AddHours(2));
        store.Store([Batch("s1", 801, 600)], T0.AddHours(3));
        store.Fold();
        store.Store([Batch("s2", 1, 300, shuffleSeed: 5), Batch("s1", 1301, 200)], T0.AddHours(3).AddMinutes(1)); // s1 1301..1400 again
        store.Store([Batch("s3", 1, 50)], T0.AddDays(40));
        Assert.Equal(300 + 100 + 50, store.UnfoldedReadings);

        var before = Everything(store);
        store.Fold();
        Assert.Equal(0, store.UnfoldedReadings);
        var after = Everything(store);

        Assert.Equal(before, after);
        Assert.Equal(1850L, store.Count());
        // Each stream's even sequences, once: s1 1..1500, s2 1..300, s3 1..50.
        var expected = new[] { 1500, 300, 50 }.SelectMany(n => Enumerable.Range(1, n / 2).Select(i => (long)(2 * i))).Order();
        Assert.Equal(expected, store.History("gw-j", "env1/pm2_5").Select(h => h.Sequence).Order());
        using var check = new SqliteConnection($"Data Source={_dir.File("aggregator.db")};Pooling=False");
        check.Open();
        using var q = check.CreateCommand();
        q.CommandText = "SELECT count(*) FROM journal";
        Assert.Equal(0L, q.ExecuteScalar());
    }

    [Fact]
    public void Readings_held_across_the_in_memory_indexs_growth_are_all_read_and_folded_once()
    {
        // 200,000 unfolded readings in 40 commits: the journal's in-memory index grows three times past its first 65,536
        // entries (UnfoldedReadings.Grow), and every reading is still read (count, day buckets, newest) and folded once.
        using var store = Open();
        for (var c = 0; c < 40; c++)
        {
            store.Store([new ReadingBatch("gw-j", "s1", Enumerable.Range(c * 5_000, 5_000).Select(i => new SequencedReading(i + 1,
                new Reading(i % 2 == 0 ? "env1/a" : "env1/b", T0.AddSeconds(i), i, "ug/m3", Quality.Good))).ToArray())], T0.AddHours(56));
        }

        string Reads() => string.Join("\n", new[] { "env1/a", "env1/b" }.Select(ch =>
            string.Join(";", store.Buckets("gw-j", ch, T0, T0.AddDays(3), TimeSpan.FromDays(1)).Select(b => $"{b.Count} {b.Min} {b.Max} {b.Last}")) +
            "|" + string.Join(";", store.Readings("gw-j", ch, 3))));
        var before = Reads();
        Assert.Equal(200_000, store.Count());
        Assert.Contains("199998", before, StringComparison.Ordinal); // the newest of env1/a, from the last commit

        store.Fold();

        Assert.Equal(200_000, store.Count());
        Assert.Equal(before, Reads());
    }

    [Fact]
    public void A_commit_that_finds_the_backstop_reached_folds_first_and_says_so()
    {
        // The fold "fell behind" (never runs by time here): at 1,000 unfolded readings (the service: 1,000,000) the next
        // commit folds them all first, is counted and logged, and nothing is lost.
        using var log = new LogSink();
        using (var store = new ReadingStore(_dir.File("aggregator.db"), new Logger<ReadingStore>(new LoggerFactory([log]))) { FoldEvery = TimeSpan.MaxValue, MaxUnfolded = 1_000 })
        {
            store.Store([Batch("s1", 1, 600)], T0.AddHours(2));
            store.Store([Batch("s1", 601, 600)], T0.AddHours(2));
            Assert.Equal((1_200, 0L), (store.UnfoldedReadings, store.BackstopFolds));

            store.Store([Batch("s1", 1_201, 300)], T0.AddHours(3));

            Assert.Equal((300, 1L), (store.UnfoldedReadings, store.BackstopFolds)); // only the last commit waits now
            Assert.Equal(1_500, store.Count());
            Assert.Contains(log.Messages(2209), m => m.Contains("1200 readings wait", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void What_was_committed_but_not_folded_survives_a_kill_and_is_folded_once_even_with_two_stores_on_the_file()
    {
        // The first store is never folded or closed while the second opens: as after a kill -9, or a second aggregator.
        var first = Open();
        try
        {
            first.Store([Batch("s1", 1, 300)], T0.AddHours(1));
            first.Store([Batch("s1", 301, 200)], T0.AddHours(1));
            Assert.Equal(500, first.UnfoldedReadings);

            using var second = Open(); // folds the journal it finds at opening
            Assert.Equal(0, second.UnfoldedReadings);
            Assert.Equal(500L, second.Count());
            // New journal rows after that fold: the first store must read them, not its own folded rows of the same id.
            second.Store([Batch("s1", 501, 40)], T0.AddHours(2));
            Assert.Equal(540L, first.Count());
            Assert.Equal(540L, second.Count());
            Assert.Equal(Enumerable.Range(1, 270).Select(i => (long)(2 * i)), first.History("gw-j", "env1/pm2_5").Select(h => h.Sequence));

            // The first store's own fold finds its rows gone and folds nothing twice; the second's still folds its row.
            first.Fold();
            first.Dispose();
            first = null;
            second.Fold();
            Assert.Equal(540L, second.Count());
            Assert.Equal(Enumerable.Range(1, 270).Select(i => (long)(2 * i)), second.History("gw-j", "env1/pm2_5").Select(h => h.Sequence));
            Assert.Equal(Enumerable.Range(0, 270).Select(i => (long)(2 * i) + 1), second.History("gw-j", "env1/pm10").Select(h => h.Sequence));
        }
        finally
        {
            first?.Dispose();
        }
    }

    [Fact]
    public async Task The_journal_is_folded_each_interval_also_when_no_further_commit_comes()
    {
        using var store = new ReadingStore(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance) { FoldEvery = TimeSpan.FromMilliseconds(200) };
        store.Store([Batch("s1", 1, 100)], T0.AddHours(1));
        Assert.Equal(100, store.UnfoldedReadings);

        await Eventually.True(() => store.UnfoldedReadings == 0, TimeSpan.FromSeconds(10), "the journal is folded without another commit");
        Assert.Equal(100L, store.Count());
        Assert.Equal(50, store.History("gw-j", "env1/pm2_5").Count);
    }

    // At 1 Hz a commit holds one reading per series: a fold must write one chunk per series, stream and minute for all
    // its commits (not one per commit), and every reading must keep its own receive time.
    [Fact]
    public void A_fold_writes_one_chunk_per_series_stream_and_minute_and_each_reading_keeps_its_receive_time()
    {
        using var store = Open();
        for (var s = 1; s <= 10; s++)
        {
            var ts = T0.AddSeconds(s);
            store.Store([new ReadingBatch("gw-j", "s1",
            [
                new SequencedReading(2 * s - 1, new Reading("env1/pm2_5", ts, s, "ug/m3", Quality.Good)),
                new SequencedReading(2 * s, new Reading("env1/pm10", ts, s * 2, "ug/m3", Quality.Good)),
            ])], ts.AddMilliseconds(300));
        }

        store.Fold();

        using (var check = new SqliteConnection($"Data Source={_dir.File("aggregator.db")};Pooling=False"))
        {
            check.Open();
            using var q = check.CreateCommand();
            q.CommandText = "SELECT count(*), sum(n) FROM chunks";
            using var r = q.ExecuteReader();
            r.Read();
            Assert.Equal((2L, 20L), (r.GetInt64(0), r.GetInt64(1)));
        }

        var newest = store.Readings("gw-j", "env1/pm2_5", 4);
        Assert.Equal(new long[] { 19, 17, 15, 13 }, newest.Select(x => x.Sequence));
        Assert.Equal(Enumerable.Range(0, 4).Select(i => T0.AddSeconds(10 - i).AddMilliseconds(300)), newest.Select(x => x.ReceivedAt));
        Assert.All(store.History("gw-j", "env1/pm10"), h => Assert.Equal(h.Value, h.Sequence));
    }

    // `count` readings over `channels` channels of gateway `gateway`, 3 s apart from T0 + `first` * 3 s.
    private static ReadingBatch Spread(string gateway, string stream, long first, int count, int channels) =>
        new(gateway, stream, Enumerable.Range(0, count).Select(i => first + i).Select(s => new SequencedReading(s,
            new Reading($"ch{s % channels}/v", T0.AddSeconds(s * 3), s * 0.25, "V", Quality.Good))).ToArray());

    private static string Snapshot(ReadingStore store, int channels)
    {
        var parts = new List<string>();
        foreach (var gw in new[] { "gw-a", "gw-b" })
        {
            for (var c = 0; c < channels; c++)
            {
                parts.Add(string.Join(";", store.History(gw, $"ch{c}/v")));
                parts.Add(string.Join(";", store.Readings(gw, $"ch{c}/v", 7)));
                parts.Add(string.Join(";", store.Buckets(gw, $"ch{c}/v", T0, T0.AddHours(2), TimeSpan.FromMinutes(10))
                    .Select(b => $"{b.Start:O} {b.Count} {b.Min} {b.Max} {b.Avg:G9} {b.Last}")));
            }
        }

        parts.Add(string.Join(";", store.Latest()));
        parts.Add(string.Join(";", store.Channels()));
        parts.Add(store.Count().ToString(System.Globalization.CultureInfo.InvariantCulture));
        return string.Join("\n", parts);
    }

    // A fold runs in slices of whole series, each its own transaction, so that a commit never waits for a whole fold:
    // between any two slices every read must answer as before the fold, and what is committed between slices stays
    // visible and is folded by the next fold, once.
    [Fact]
    public void Between_the_slices_of_a_fold_every_read_answers_the_same_and_commits_go_on()
    {
        using var store = new ReadingStore(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance)
        {
            FoldEvery = TimeSpan.MaxValue, FoldSlice = 1, // one series a slice
        };
        store.Store([Spread("gw-a", "s1", 1, 600, 6), Spread("gw-b", "s1", 1, 300, 6)], T0.AddHours(1));
        store.Store([Spread("gw-a", "s1", 601, 120, 6)], T0.AddHours(1).AddSeconds(1));
        var before = Snapshot(store, 6);

        var slices = 1;
        while (!store.FoldOneSlice())
        {
            Assert.Equal(before, Snapshot(store, 6));
            slices++;
        }

        Assert.Equal(12, slices);
        Assert.Equal(before, Snapshot(store, 6));
        Assert.Equal(0, store.UnfoldedReadings);

        // A commit between two slices of the next fold: not part of that fold, visible throughout, folded by the one after.
        store.Store([Spread("gw-b", "s1", 301, 300, 6)], T0.AddHours(2));
        Assert.False(store.FoldOneSlice());
        store.Store([Spread("gw-b", "s1", 601, 60, 6)], T0.AddHours(2).AddSeconds(1));
        Assert.Equal(1380L, store.Count());
        Assert.Equal(660, store.History("gw-b", "ch0/v").Count * 6);
        store.Fold();
        Assert.Equal(0, store.UnfoldedReadings);
        Assert.Equal(1380L, store.Count());
        Assert.Equal(Enumerable.Range(1, 110).Select(i => (long)(6 * i)), store.History("gw-b", "ch0/v").Select(h => h.Sequence));
    }

    // A kill between two slices leaves the fold's progress in the file: the next opening goes on from there and folds no
    // reading twice; a reader of the killed process keeps answering right meanwhile.
    [Fact]
    public void A_fold_killed_between_slices_goes_on_at_the_next_opening_and_folds_nothing_twice()
    {
        var first = new ReadingStore(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance)
        {
            FoldEvery = TimeSpan.MaxValue, FoldSlice = 1,
        };
        try
        {
            first.Store([Spread("gw-a", "s1", 1, 400, 4), Spread("gw-b", "s2", 1, 400, 4)], T0.AddHours(1));
            Assert.False(first.FoldOneSlice());
            Assert.False(first.FoldOneSlice());
            Assert.False(first.FoldOneSlice());
            var before = Snapshot(first, 4);

            using var second = Open(); // as after a kill: goes on with the fold it finds
            Assert.Equal(0, second.UnfoldedReadings);
            Assert.Equal(before, Snapshot(second, 4));
            Assert.Equal(before, Snapshot(first, 4));
            Assert.Equal(800L, second.Count());
            using var check = new SqliteConnection($"Data Source={_dir.File("aggregator.db")};Pooling=False");
            check.Open();
            using var q = check.CreateCommand();
            q.CommandText = "SELECT (SELECT sum(n) FROM chunks), (SELECT count(*) FROM journal), (SELECT count(*) FROM fold)";
            using (var r = q.ExecuteReader())
            {
                r.Read();
                Assert.Equal((800L, 0L, 0L), (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)));
            }

            first.Dispose(); // its index still holds the rows: the journal no longer does, so nothing is folded again
            first = null;
            Assert.Equal(before, Snapshot(second, 4));
        }
        finally
        {
            first?.Dispose();
        }
    }
}
