using IocEdge.Aggregator.Storage;
using IocEdge.Aggregator.Storage.Postgres;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, store: what only the PostgreSQL store has (daily partitions with a default one, rollups that outlive
/// retention, reconnection after an outage) and its selection by configuration, on a real server started by the
/// collection fixture.
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class PostgresStoreTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private static ReadingBatch Batch(string stream, params (long Seq, DateTimeOffset Ts, double Value)[] readings) =>
        new("gw-p", stream, readings.Select(r => new SequencedReading(r.Seq, new Reading("env1/pm2_5", r.Ts, r.Value, "ug/m3", Quality.Good))).ToArray());

    private async Task<(PostgresReadingStore Store, string Database)> OpenAsync()
    {
        var cs = await postgres.Server.CreateDatabaseAsync();
        return (new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance), new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!);
    }

    // The stored keys as "stream:lo-hi" ranges, in order (stream_ranges).
    private async Task<string> RangesOfAsync(string db) => (await postgres.Server.SqlAsync(db, """
        SELECT string_agg(s.stream || ':' || r.lo || '-' || r.hi, ' ' ORDER BY s.stream, r.lo)
        FROM stream_ranges r JOIN streams s ON s.id = r.stream_id
        """)).Trim();

    private Task<string> PartitionsOfAsync(string db) =>
        postgres.Server.SqlAsync(db, "SELECT string_agg(tableoid::regclass::text || ':' || seq, ' ' ORDER BY seq) FROM readings");

    [Fact]
    public async Task Readings_land_in_their_day_partition_and_a_wrong_clock_in_the_default_one_until_its_day_comes()
    {
        var (store, db) = await OpenAsync();
        using var _ = store;
        // A reading stamped two days ahead (an RTC running fast) is flagged future (§4.3) and kept in the default partition.
        store.Store([Batch("s1", (1, Now.AddHours(-1), 1), (2, Now.AddDays(-3), 2), (3, Now.AddDays(2), 3))], Now);
        Assert.Equal("readings_p20261130:1 readings_p20261127:2 readings_default:3", (await PartitionsOfAsync(db)).Trim());

        // Two days later that day is the present: its partition is created and the reading moves into it, not lost.
        store.Store([Batch("s1", (4, Now.AddDays(2).AddHours(-1), 4))], Now.AddDays(2));
        Assert.Equal("readings_p20261130:1 readings_p20261127:2 readings_p20261202:3 readings_p20261202:4",
            (await PartitionsOfAsync(db)).Trim());
        Assert.Equal(4, store.Count());
    }

    [Fact]
    public async Task Retention_drops_whole_old_days_but_hourly_history_still_comes_from_the_rollups()
    {
        var (store, db) = await OpenAsync();
        using var _ = store;
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(50), 20), (3, Now.AddMinutes(-30), 7))], Now);

        var dropped = store.DropPartitionsBefore(Now.AddDays(-7));

        Assert.Equal(["readings_p20261120"], dropped);
        Assert.Equal(1, store.Count()); // the raw readings of 20 November are gone with their partition
        // ... but the IOC's hourly history of that day is still there (rollup_1h is kept).
        var hourly = store.Buckets("gw-p", "env1/pm2_5", old, old.AddHours(1), TimeSpan.FromHours(1));
        Assert.Equal(new HistoryBucket(old, 2, 10, 20, 15, 20), Assert.Single(hourly));
        // The keys outlive the readings as one range: a resend of that day is a duplicate, not stored again.
        Assert.Equal("s1:1-3", await RangesOfAsync(db));
        Assert.Equal(new StoreResult(0, 2), store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(50), 20))], Now)[0]);
    }

    [Fact]
    public async Task Retention_also_prunes_expired_flagged_readings_in_short_transactions_and_a_resend_of_a_pruned_reading_is_still_a_duplicate()
    {
        var (store, db) = await OpenAsync();
        using var _ = store;
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        var unsetClock = new DateTimeOffset(1970, 1, 1, 0, 10, 0, TimeSpan.Zero);
        // Received on 20 November: an unset clock's reading (contract §4.3 before_epoch: the default partition) and three
        // plausible ones of that day; seq 4 was not sent then (a gap).
        store.Store([Batch("s1", (1, unsetClock, 1), (2, old.AddMinutes(5), 10), (3, old.AddMinutes(50), 20), (5, old.AddMinutes(55), 30))],
            old.AddHours(1));
        // Many flagged readings received long ago (a station without RTC or NTP for a while), so the pass needs many batches.
        store.Store([new ReadingBatch("gw-p", "s2", Enumerable.Range(1, 20_000).Select(i =>
            new SequencedReading(i, new Reading("env1/pm2_5", unsetClock.AddSeconds(i), i, "ug/m3", Quality.Good))).ToArray())], old.AddHours(2));
        // Received today: a flagged reading whose receive time is within the retention stays (the SQLite store's rule).
        store.Store([Batch("s1", (7, unsetClock, 7), (8, Now.AddMinutes(-30), 8))], Now);
        var xidBefore = long.Parse(await postgres.Server.SqlAsync(db, "SELECT txid_current()"), System.Globalization.CultureInfo.InvariantCulture);

        // 20 November (where the readings were) and the day after (created ahead of the receive day) are dropped.
        Assert.Equal(["readings_p20261120", "readings_p20261121"], store.DropPartitionsBefore(Now.AddDays(-7)));

        var xidAfter = long.Parse(await postgres.Server.SqlAsync(db, "SELECT txid_current()"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("readings_default:7 readings_p20261130:8", (await PartitionsOfAsync(db)).Trim());
        // The keys stay as ranges of seq (seq 4 and 6 were never sent: gaps), one row per run of seqs, not one per reading.
        Assert.Equal("s1:1-3 s1:5-5 s1:7-8 s2:1-20000", await RangesOfAsync(db));
        // 20,004 readings were pruned in short transactions, not in one (PostgreSQL's ~100 readings a page, 16 pages a batch).
        Assert.True(xidAfter - xidBefore > 10, $"retention used {xidAfter - xidBefore - 1} write transactions for 20,004 readings");

        // A gateway that never saw its PUBACKs resends them: duplicates (contract §4.1), not stored again, rollups untouched.
        Assert.Equal(new StoreResult(0, 4), store.Store([Batch("s1", (1, unsetClock, 1), (2, old.AddMinutes(5), 10), (3, old.AddMinutes(50), 20),
            (5, old.AddMinutes(55), 30))], Now)[0]);
        Assert.Equal(new StoreResult(0, 2), store.Store([new ReadingBatch("gw-p", "s2", [
            new SequencedReading(1, new Reading("env1/pm2_5", unsetClock.AddSeconds(1), 1, "ug/m3", Quality.Good)),
            new SequencedReading(20_000, new Reading("env1/pm2_5", unsetClock.AddSeconds(20_000), 20_000, "ug/m3", Quality.Good))])], Now)[0]);
        // ... while the reading of that day that was never sent (seq 4) is stored when it finally comes.
        Assert.Equal(new StoreResult(1, 0), store.Store([Batch("s1", (4, old.AddMinutes(52), 25))], Now)[0]);
        Assert.Equal(new HistoryBucket(old, 4, 10, 30, 21.25, 30),
            Assert.Single(store.Buckets("gw-p", "env1/pm2_5", old, old.AddHours(1), TimeSpan.FromHours(1))));
        // The gap filled, its ranges merged.
        Assert.Equal("s1:1-5 s1:7-8 s2:1-20000", await RangesOfAsync(db));
    }

    [Fact]
    public async Task A_late_reading_stored_just_before_its_day_is_dropped_goes_with_the_partition_and_its_resend_is_a_duplicate()
    {
        var (store, db) = await OpenAsync();
        using var _ = store;
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(10), 20))], old.AddHours(1));
        // A backlog reading of 20 November (seq 3, never sent before) commits just before retention drops that day.
        store.BeforePartitionDrop = name =>
        {
            if (name == "readings_p20261120")
            {
                Assert.Equal(new StoreResult(1, 0), store.Store([Batch("s1", (3, old.AddMinutes(15), 30))], Now)[0]);
            }
        };

        store.DropPartitionsBefore(Now.AddDays(-7));

        Assert.Equal("s1:1-3", await RangesOfAsync(db)); // the late reading's key too
        Assert.Equal(0, store.Count());
        Assert.Equal(new StoreResult(0, 3), store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(10), 20),
            (3, old.AddMinutes(15), 30))], Now)[0]);
    }

    [Fact]
    public async Task Two_stores_on_one_database_committing_the_same_readings_at_once_store_each_exactly_once()
    {
        // Two aggregator instances behind a shared subscription (issue 15): a redelivery can reach both at the same
        // instant. Each round both commit overlapping seqs together; the stream's row lock makes them take turns.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using var a = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        using var b = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        long stored = 0, duplicates = 0;
        const int Rounds = 40;
        for (var round = 0; round < Rounds; round++)
        {
            // Seqs round*10+1 .. round*10+20: the first half was in the previous round, the second half is new.
            var batch = new[] { Batch("s1", Enumerable.Range(round * 10 + 1, 20).Select(q => ((long)q, Now.AddSeconds(-1000 + q), (double)q)).ToArray()) };
            using var start = new Barrier(2);
            var results = await Task.WhenAll(new[] { a, b }.Select(store => Task.Run(() =>
            {
                start.SignalAndWait();
                return store.Store(batch, Now)[0];
            })));
            stored += results.Sum(r => r.Stored);
            duplicates += results.Sum(r => r.Duplicates);
        }

        var expected = (Rounds * 10) + 10;
        Assert.Equal(expected, stored);
        Assert.Equal((2L * Rounds * 20) - expected, duplicates);
        Assert.Equal($"{expected} {expected}", (await postgres.Server.SqlAsync(db, "SELECT count(*) || ' ' || count(DISTINCT seq) FROM readings")).Trim());
        Assert.Equal($"s1:1-{expected}", await RangesOfAsync(db));
    }

    [Fact]
    public async Task Two_stores_racing_on_the_same_channels_keep_rollups_and_latest_equal_to_the_stored_readings()
    {
        // Wave 12: rollups and latest values are upserts that two instances can hit at once: the same channels over two
        // streams of one gateway (as after a gateway's restart), each message redelivered to both instances, the two
        // streams in opposite orders. Afterwards every 1-minute and 1-hour rollup is what its stored readings give
        // (count, sum, min, max, last value), and latest is the newest reading with a plausible timestamp.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using var a = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        using var b = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        const int Rounds = 30;
        long stored = 0;
        for (var round = 0; round < Rounds; round++)
        {
            // Seqs round*10+1 .. round*10+20 of both streams: the first half was in the previous round.
            var s1 = RacingBatch("s1", round, 0);
            var s2 = RacingBatch("s2", round, 3);
            using var start = new Barrier(2);
            var results = await Task.WhenAll(
                Task.Run(() =>
                {
                    start.SignalAndWait();
                    return a.Store([s1, s2], Now);
                }),
                Task.Run(() =>
                {
                    start.SignalAndWait();
                    return b.Store([s2, s1], Now);
                }));
            stored += results.SelectMany(r => r).Sum(r => r.Stored);
        }

        Assert.Equal(2 * ((Rounds * 10) + 10), stored);
        // What a user sees: the hourly history counts every good reading once, whichever instance stored it.
        var good = long.Parse(await postgres.Server.SqlAsync(db, """
            SELECT count(*) FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.channel = 'env1/pm2_5' AND r.quality = 0 AND r.ts_status = 0 AND r.value IS NOT NULL
            """), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(good > 200);
        Assert.Equal(good, a.Buckets("gw-p", "env1/pm2_5", Now.AddHours(-3), Now, TimeSpan.FromHours(1)).Sum(x => x.Count));
        await AssertRollupsAndLatestMatchReadingsAsync(db);
        Assert.Equal(2, a.Latest("gw-p").Count);
    }

    // Every 1-minute and 1-hour rollup is what its stored readings give (count, sum, min, max, last value), and each
    // series' latest is its newest reading with a plausible timestamp.
    private async Task AssertRollupsAndLatestMatchReadingsAsync(string db)
    {
        foreach (var (table, width) in new[] { ("rollup_1m", 60_000), ("rollup_1h", 3_600_000) })
        {
            Assert.Equal("0", (await postgres.Server.SqlAsync(db, $"""
                WITH g AS (
                    SELECT series_id, ts - ts % {width} AS bucket, count(*) AS n, sum(value) AS sum, min(value) AS min,
                        max(value) AS max, (array_agg(value ORDER BY ts DESC, seq DESC))[1] AS last_value
                    FROM readings WHERE quality = 0 AND ts_status = 0 AND value IS NOT NULL GROUP BY 1, 2)
                SELECT count(*) FROM g FULL JOIN {table} r USING (series_id, bucket)
                WHERE g.n IS DISTINCT FROM r.n OR abs(g.sum - r.sum) > 1e-6 OR g.min IS DISTINCT FROM r.min
                    OR g.max IS DISTINCT FROM r.max OR g.last_value IS DISTINCT FROM r.last_value
                """)).Trim());
        }

        Assert.Equal("0", (await postgres.Server.SqlAsync(db, """
            SELECT count(*) FROM series s LEFT JOIN LATERAL (
                SELECT ts, seq, value FROM readings r WHERE r.series_id = s.id AND r.ts_status = 0
                ORDER BY ts DESC, seq DESC LIMIT 1) n ON true
            WHERE s.last_ts IS DISTINCT FROM n.ts OR s.last_seq IS DISTINCT FROM n.seq OR s.last_value IS DISTINCT FROM n.value
            """)).Trim());
    }

    [Fact]
    public async Task Two_instances_each_splitting_commits_of_many_gateways_over_two_connections_store_each_reading_once()
    {
        // Wave 13: a commit is split by gateway over the store's write connections, each part its own transaction. Two
        // instances (two connections each) get the same many-gateway commits redelivered at the same instant, in
        // opposite orders, new seqs overlapping the previous round's: every reading is stored once, every stream keeps
        // one range, rollups and latest equal the stored readings, and each instance's commit was two transactions.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using var a = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance, writeConnections: 2);
        using var b = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance, writeConnections: 2);
        var gateways = Enumerable.Range(0, 12).Select(g => $"gw-{g:D2}").ToArray();
        Assert.Equal(2, gateways.Select(g => PostgresReadingStore.LaneOf(g, 2)).Distinct().Count()); // both connections get work
        const int Rounds = 15;
        long stored = 0, duplicates = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var batches = gateways.Select((g, i) => new ReadingBatch(g, "s1", Enumerable.Range(round * 10 + 1, 20).Select(q =>
                new SequencedReading(q, new Reading($"env1/ch{q % 3}", Now.AddSeconds(-2000 + (q * 7) + i), (q * 1.5) + i, "ug/m3", Quality.Good))).ToArray())).ToArray();
            using var start = new Barrier(2);
            var results = await Task.WhenAll(
                Task.Run(() =>
                {
                    start.SignalAndWait();
                    return a.Store(batches, Now);
                }),
                Task.Run(() =>
                {
                    start.SignalAndWait();
                    return b.Store([.. batches.Reverse()], Now);
                }));
            stored += results.SelectMany(r => r).Sum(r => r.Stored);
            duplicates += results.SelectMany(r => r).Sum(r => r.Duplicates);
        }

        var perGateway = (Rounds * 10) + 10;
        Assert.Equal(gateways.Length * perGateway, stored);
        Assert.Equal((2L * Rounds * 20 * gateways.Length) - stored, duplicates);
        Assert.Equal($"{gateways.Length * perGateway} {gateways.Length * perGateway}", (await postgres.Server.SqlAsync(db,
            "SELECT count(*) || ' ' || count(DISTINCT (stream_id, seq)) FROM readings")).Trim());
        Assert.Equal(string.Join(' ', gateways.Select(_ => $"s1:1-{perGateway}")), await RangesOfAsync(db));
        await AssertRollupsAndLatestMatchReadingsAsync(db);
        Assert.Equal(gateways.Select(g => (long)perGateway), a.Gateways().Select(g => g.Readings));

        // One more commit through a alone: its readings were written by two transactions, one per connection.
        a.Store([.. gateways.Select(g => new ReadingBatch(g, "s2", [new SequencedReading(1, new Reading("env1/ch0", Now.AddSeconds(-1), 1, "ug/m3", Quality.Good))]))], Now);
        Assert.Equal("2", (await postgres.Server.SqlAsync(db, """
            SELECT count(DISTINCT r.xmin::text) FROM readings r JOIN streams s ON s.id = r.stream_id WHERE s.stream = 's2'
            """)).Trim());
        Assert.Equal("iocedge-aggregator writer 1,iocedge-aggregator writer 2", (await postgres.Server.SqlAsync(db, $"""
            SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity WHERE datname = '{db}' AND application_name LIKE 'iocedge-aggregator writer %'
            """)).Trim());
    }

    [Fact]
    public async Task A_lost_write_connection_fails_only_its_own_gateways_and_the_other_part_is_acknowledged_and_shown()
    {
        // Wave 13: a commit's parts commit on their own connections. When one connection dies the other part is stored:
        // its senders get their PUBACK and its values show, while the lost part's senders get none and send again.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using var store = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance, writeConnections: 2);
        var names = Enumerable.Range(0, 20).Select(g => $"gw-{g:D2}").ToArray();
        string first = names.First(g => PostgresReadingStore.LaneOf(g, 2) == 0), second = names.First(g => PostgresReadingStore.LaneOf(g, 2) == 1);
        ReadingBatch Of(string gateway, long seq, double value) =>
            new(gateway, "s1", [new SequencedReading(seq, new Reading("env1/pm2_5", Now.AddSeconds(-60 + seq), value, "ug/m3", Quality.Good))]);
        store.Store([Of(first, 1, 10), Of(second, 1, 20)], Now); // both connections open

        // The library: the exception says which batch is stored.
        Task<StoreResult[]>? commit = null;
        await KillWriterWhileItWaitsAsync(cs, db, second, "iocedge-aggregator writer 2", () =>
        {
            commit = Task.Run(() => store.Store([Of(first, 2, 11), Of(second, 2, 21)], Now));
            return Task.CompletedTask;
        });
        var partial = await Assert.ThrowsAsync<PartialCommitException>(() => commit!);
        Assert.Equal(new StoreResult?[] { new StoreResult(1, 0), null }, partial.Results);
        Assert.Equal([10.0, 11.0], store.History(first, "env1/pm2_5").Select(h => h.Value!.Value));
        Assert.Equal([20.0], store.History(second, "env1/pm2_5").Select(h => h.Value!.Value));

        // The pipeline: both messages queued before its writer starts, so they share one commit; the first gateway's is
        // acknowledged with its result and its value is the cached latest, the second's fails.
        var options = Microsoft.Extensions.Options.Options.Create(new AggregatorOptions());
        var live = new Live.LiveFeed(store, options, NullLogger<Live.LiveFeed>.Instance);
        using var metrics = new Ingest.IngestMetrics();
        using var pipeline = new Ingest.IngestPipeline(store, metrics, options, TimeProvider.System, NullLogger<Ingest.IngestPipeline>.Instance, live);
        var acknowledged = await pipeline.EnqueueAsync(Of(first, 3, 12), CancellationToken.None);
        var refused = await pipeline.EnqueueAsync(Of(second, 3, 22), CancellationToken.None);
        await KillWriterWhileItWaitsAsync(cs, db, second, "iocedge-aggregator writer 2", () => pipeline.StartAsync(CancellationToken.None));
        Assert.Equal(new StoreResult(1, 0), await acknowledged.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAsync<PartialCommitException>(() => refused.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(12.0, live.Cache.Get(first, "env1/pm2_5")?.Value);
        Assert.NotEqual(22.0, live.Cache.Get(second, "env1/pm2_5")?.Value);
        Assert.Equal(1, metrics.StoreFailures);
        Assert.Equal(1, metrics.Stored);
        Assert.True(metrics.LastCommitFailed, "/healthz must report a commit that was only partly stored (503)");

        // The second gateway sends again (seqs 2 and 3): stored now; the first's resend of 3 is a duplicate.
        var again = store.Store([Of(first, 3, 12), Of(second, 2, 21), Of(second, 3, 22)], Now);
        Assert.Equal(new StoreResult[] { new(0, 1), new(1, 0), new(1, 0) }, again);
        Assert.Equal([20.0, 21.0, 22.0], store.History(second, "env1/pm2_5").Select(h => h.Value!.Value));
        await pipeline.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_commit_writes_its_readings_keys_rollups_latest_and_counters_in_one_transaction()
    {
        // The PUBACK leaves after Store returns: everything of the commit must be in one transaction, so that a failure
        // anywhere leaves none of it (the statements after the COPY and the COMMIT share a round trip since wave 12).
        // Every row it wrote carries that transaction's id (xmin).
        var (store, db) = await OpenAsync();
        using var _ = store;
        store.Store([Batch("s1", (1, Now.AddMinutes(-2), 1), (2, Now.AddMinutes(-1), 2))], Now);
        store.Store([Batch("s1", (3, Now.AddSeconds(-30), 3), (4, Now.AddSeconds(-20), 4))], Now);
        Assert.Equal("1 6", (await postgres.Server.SqlAsync(db, """
            SELECT count(DISTINCT x) || ' ' || count(DISTINCT t) FROM (
                SELECT 'readings' AS t, xmin::text AS x FROM readings WHERE seq >= 3
                UNION ALL SELECT 'rollup_1m', xmin::text FROM rollup_1m WHERE last_seq >= 3
                UNION ALL SELECT 'rollup_1h', xmin::text FROM rollup_1h
                UNION ALL SELECT 'series', xmin::text FROM series
                UNION ALL SELECT 'stream_ranges', xmin::text FROM stream_ranges
                UNION ALL SELECT 'gateways', xmin::text FROM gateways) w
            """)).Trim());
    }

    [Fact]
    public async Task A_channel_whose_unit_changes_keeps_one_series_with_the_newest_unit_after_a_restart_too()
    {
        // A reconfigured instrument: the unit changes within one commit, and again in the first commit of a restarted
        // store (whose ids are not cached yet and are created or read for the whole commit at once).
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        ReadingBatch Unit(long seq, string unit) =>
            new("gw-p", "s1", [new SequencedReading(seq, new Reading("env1/t", Now.AddSeconds(-100 + seq), seq, unit, Quality.Good))]);
        using (var first = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance))
        {
            first.Store([Unit(1, "degC"), Unit(2, "degF")], Now);
            Assert.Equal("degF", Assert.Single(first.Latest("gw-p")).Unit);
        }

        using var restarted = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        restarted.Store([Unit(3, "K")], Now);
        Assert.Equal("K", Assert.Single(restarted.Latest("gw-p")).Unit);
        Assert.Equal("1 K", (await postgres.Server.SqlAsync(db, "SELECT count(*) || ' ' || max(unit) FROM series")).Trim());
        Assert.Equal(3, restarted.Count());
    }

    // Two channels alternating; every 9th reading a communication failure (no value), every 13th from a clock in 2099 (flagged, §4.3);
    // stream s2 three seconds after s1, so that both streams feed the same minutes and take turns at being the latest.
    // Holds the gateway's stream rows (a transaction of the test's own), so that the writer committing its readings waits
    // for them inside its transaction; kills that writer's backend while it waits, then lets go. The writer's part of the
    // commit fails as when a connection is lost mid-commit.
    private async Task KillWriterWhileItWaitsAsync(string cs, string db, string gateway, string writer, Func<Task> start)
    {
        await using var holder = new Npgsql.NpgsqlConnection(cs);
        await holder.OpenAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("SELECT id FROM streams WHERE gateway = @g FOR UPDATE", holder, tx))
        {
            hold.Parameters.AddWithValue("g", gateway);
            await hold.ExecuteNonQueryAsync();
        }

        await start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await postgres.Server.SqlAsync(db, $"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{writer}' AND wait_event_type = 'Lock'")).Trim() != "1")
        {
            Assert.True(DateTime.UtcNow < deadline, $"{writer} never waited for {gateway}'s stream");
            await Task.Delay(20);
        }

        await postgres.Server.SqlAsync(db, $"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = '{writer}'");
        await tx.RollbackAsync();
    }

    private static ReadingBatch RacingBatch(string stream, int round, int offsetSeconds) =>
        new("gw-p", stream, Enumerable.Range((round * 10) + 1, 20).Select(q => new SequencedReading(q, new Reading(
            q % 2 == 0 ? "env1/pm2_5" : "env1/t",
            q % 13 == 0 ? new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero) : Now.AddSeconds(-7200 + (q * 20) + offsetSeconds),
            q % 9 == 0 ? null : q + (offsetSeconds / 8.0), "u", q % 9 == 0 ? Quality.CommFailure : Quality.Good))).ToArray());

    [Fact]
    public async Task A_database_of_the_key_per_reading_layout_is_converted_to_ranges_and_keeps_every_key()
    {
        // A database written before wave 11: one row per key in reading_keys, and pruned_keys for what retention pruned.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        await postgres.Server.SqlAsync(db, """
            CREATE TABLE streams(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, gateway text NOT NULL, stream text NOT NULL, UNIQUE(gateway, stream));
            INSERT INTO streams(gateway, stream) VALUES ('gw-p', 's1'), ('gw-p', 's2');
            CREATE TABLE reading_keys(stream_id bigint NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL, PRIMARY KEY(stream_id, seq));
            CREATE TABLE pruned_keys(stream_id bigint NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL, PRIMARY KEY(stream_id, lo));
            -- s1: 1-3 pruned, 4-6 and 9 stored (7-8 never came); s2: 1 and 3 stored, 2 pruned.
            INSERT INTO pruned_keys VALUES (1, 1, 3), (2, 2, 2);
            INSERT INTO reading_keys SELECT 1, g, 0 FROM generate_series(4, 6) g;
            INSERT INTO reading_keys VALUES (1, 9, 0), (2, 1, 0), (2, 3, 0);
            """);

        using var store = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);

        Assert.Equal("s1:1-6 s1:9-9 s2:1-3", await RangesOfAsync(db));
        Assert.Equal("", (await postgres.Server.SqlAsync(db,
            "SELECT coalesce(string_agg(relname, ' '), '') FROM pg_class WHERE relname IN ('reading_keys', 'pruned_keys')")).Trim());
        // Every key it had is a duplicate; the gap (7, 8) and what comes after are stored.
        Assert.Equal(new StoreResult(2, 4), store.Store([Batch("s1", (1, Now.AddMinutes(-9), 1), (5, Now.AddMinutes(-8), 5),
            (7, Now.AddMinutes(-7), 7), (8, Now.AddMinutes(-6), 8), (9, Now.AddMinutes(-5), 9), (6, Now.AddMinutes(-4), 6))], Now)[0]);
        Assert.Equal(new StoreResult(1, 1), store.Store([Batch("s2", (2, Now.AddMinutes(-3), 2), (4, Now.AddMinutes(-2), 4))], Now)[0]);
        Assert.Equal("s1:1-9 s2:1-4", await RangesOfAsync(db));
    }

    [Fact]
    public async Task A_database_written_by_a_newer_aggregator_is_refused_before_anything_is_written()
    {
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using (var store = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance))
        {
            store.Store([Batch("s1", (1, Now.AddMinutes(-1), 1))], Now);
        }

        Assert.Equal($"{PostgresReadingStore.SchemaVersion}", (await postgres.Server.SqlAsync(db, "SELECT version FROM iocedge_schema")).Trim());

        // A newer aggregator's layout (here: its version row, and a table this one does not know).
        await postgres.Server.SqlAsync(db, $"UPDATE iocedge_schema SET version = {PostgresReadingStore.SchemaVersion + 1}; DROP TABLE rollup_1h");

        var refused = Assert.Throws<StoreSchemaTooNewException>(() => new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance));
        Assert.Contains($"has store schema {PostgresReadingStore.SchemaVersion + 1}", refused.Message, StringComparison.Ordinal);
        // Nothing was written: the schema script did not run (it would have created rollup_1h again).
        Assert.Equal("", (await postgres.Server.SqlAsync(db, "SELECT coalesce(string_agg(relname, ' '), '') FROM pg_class WHERE relname = 'rollup_1h'")).Trim());
    }

    [Fact]
    public async Task Hourly_history_over_a_range_not_on_whole_minutes_comes_from_the_rollups_after_retention()
    {
        // Issue 15: the IOC asks "the last 24 h" from any second. The whole minutes and hours of the range are served
        // by the rollups (HistoryPlan), so a range off the minute still finds a day whose raw partition was dropped.
        var (store, _) = await OpenAsync();
        using var __ = store;
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(50), 20), (3, old.AddMinutes(70), 30))], Now);
        store.DropPartitionsBefore(Now.AddDays(-7));

        var hourly = store.Buckets("gw-p", "env1/pm2_5", old.AddSeconds(-17.5), old.AddHours(2).AddSeconds(23), TimeSpan.FromHours(1));

        Assert.Equal([new HistoryBucket(old, 2, 10, 20, 15, 20), new HistoryBucket(old.AddHours(1), 1, 30, 30, 30, 30)], hourly);
    }

    [Fact]
    public async Task A_lost_server_fails_the_commit_and_the_same_store_writes_again_once_it_is_back()
    {
        // Its own cluster (stopping the shared one would break the tests beside this one), durable: a commit that
        // returned must survive the server's death, as in production.
        await using var server = await PostgresServer.StartAsync(durable: true);
        var cs = await server.CreateDatabaseAsync();
        using var store = new PostgresReadingStore(cs + ";Password=s3cret-never-shown", NullLogger<PostgresReadingStore>.Instance);
        store.Store([Batch("s1", (1, Now.AddMinutes(-2), 1))], Now);

        await server.StopAsync(immediate: true);
        var failure = Assert.ThrowsAny<IOException>(() => store.Store([Batch("s1", (2, Now.AddMinutes(-1), 2))], Now));
        Assert.IsType<StoreUnavailableException>(failure);
        Assert.Contains($"127.0.0.1:{server.Port}", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", failure.Message, StringComparison.Ordinal);

        await server.StartAgainAsync();
        // The gateway resends what was not acknowledged, with the reading the server already had: stored once.
        var results = store.Store([Batch("s1", (1, Now.AddMinutes(-2), 1), (2, Now.AddMinutes(-1), 2))], Now);
        Assert.Equal(new StoreResult(1, 1), results[0]);
        Assert.Equal([1.0, 2.0], store.History("gw-p", "env1/pm2_5").Select(h => h.Value!.Value));
    }

    [Fact]
    public async Task The_aggregator_selected_by_configuration_stores_through_PostgreSQL_and_acknowledges_after_commit()
    {
        var cs = await postgres.Server.CreateDatabaseAsync();
        using var dir = new TempDirectory("aggregator-pg");
        var time = new FakeTimeProvider(Now);
        await using var aggregator = await TestAggregator.StartAsync(dir.Path, b =>
        {
            b.Configuration.AddInMemoryCollection([
                new("Aggregator:Store:Engine", "postgresql"),
                new("Aggregator:Store:ConnectionString", cs),
            ]);
            b.Services.AddSingleton<TimeProvider>(time);
        });
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", aggregator.MqttPort).WithClientId("gw-p").Build());

        var batch = Batch("s1", (1, Now.AddSeconds(-2), 41), (2, Now.AddSeconds(-1), 42));
        var puback = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings("gw-p"))
            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        Assert.True(puback.IsSuccess, puback.ReasonString);
        Assert.IsType<PostgresReadingStore>(aggregator.Store);
        Assert.Equal(42, (await aggregator.LatestAsync("gw-p"))["env1/pm2_5"].Value); // the API reads it back from PostgreSQL
        Assert.Equal(2, long.Parse((await postgres.Server.SqlAsync(new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!,
            "SELECT count(*) FROM readings")).Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Write_connections_killed_while_gateways_publish_lose_nothing_and_acknowledge_only_what_is_stored()
    {
        // Wave 13: a running aggregator (two write connections) takes 16 gateways' batches while the test kills one of its
        // writers' server backends every 100-200 ms. A gateway resends a batch until it is acknowledged (as its outbox
        // does). Each acknowledged batch is in the database when its PUBACK arrives; in the end every reading is stored
        // once, the counters say so, and latest and rollups equal the stored readings.
        var cs = await postgres.Server.CreateDatabaseAsync();
        var db = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database!;
        using var dir = new TempDirectory("aggregator-pg-kill");
        await using var aggregator = await TestAggregator.StartAsync(dir.Path, b => b.Configuration.AddInMemoryCollection([
            new("Aggregator:Store:Engine", "postgresql"),
            new("Aggregator:Store:ConnectionString", cs),
            new("Aggregator:Store:WriteConnections", "2"),
        ]));
        const int Gateways = 16, Messages = 30, PerMessage = 20;
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-30);
        await using var check = new Npgsql.NpgsqlConnection(cs);
        await check.OpenAsync();
        var checkLock = new SemaphoreSlim(1);
        var notStoredAtAck = new System.Collections.Concurrent.ConcurrentBag<string>();
        var refusals = 0;

        async Task PublishAsync(int g)
        {
            var id = $"gw-k{g:D2}";
            using var client = new MqttClientFactory().CreateMqttClient();
            for (var m = 0; m < Messages; m++)
            {
                var batch = new ReadingBatch(id, "s1", Enumerable.Range(1 + (m * PerMessage), PerMessage).Select(q => new SequencedReading(q,
                    new Reading($"env1/ch{q % 2}", t0.AddSeconds(q), q + (g * 0.5), "ug/m3", Quality.Good))).ToArray());
                while (true)
                {
                    try
                    {
                        if (!client.IsConnected)
                        {
                            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", aggregator.MqttPort).WithClientId(id).Build());
                        }

                        var ack = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings(id))
                            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                        if (ack.IsSuccess)
                        {
                            break;
                        }

                        Interlocked.Increment(ref refusals);
                    }
                    catch (MQTTnet.Exceptions.MqttCommunicationException)
                    {
                    }

                    await Task.Delay(50);
                }

                await checkLock.WaitAsync();
                try
                {
                    await using var cmd = new Npgsql.NpgsqlCommand("""
                        SELECT count(*) FROM readings r JOIN streams s ON s.id = r.stream_id
                        WHERE s.gateway = @g AND s.stream = 's1' AND r.seq BETWEEN @lo AND @hi
                        """, check);
                    cmd.Parameters.AddWithValue("g", id);
                    cmd.Parameters.AddWithValue("lo", (long)(1 + (m * PerMessage)));
                    cmd.Parameters.AddWithValue("hi", (long)((m + 1) * PerMessage));
                    if ((long)(await cmd.ExecuteScalarAsync())! != PerMessage)
                    {
                        notStoredAtAck.Add($"{id} message {m}");
                    }
                }
                finally
                {
                    checkLock.Release();
                }
            }
        }

        using var stop = new CancellationTokenSource();
        var kills = 0;
        var killer = Task.Run(async () =>
        {
            var random = new Random(7);
            await using var admin = new Npgsql.NpgsqlConnection(cs);
            await admin.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(random.Next(100, 200));
                await using var kill = new Npgsql.NpgsqlCommand(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @d AND application_name = @a", admin);
                kill.Parameters.AddWithValue("d", db);
                kill.Parameters.AddWithValue("a", $"iocedge-aggregator writer {random.Next(1, 3)}");
                kills += (int)(long)(await kill.ExecuteScalarAsync())!;
            }
        });
        await Task.WhenAll(Enumerable.Range(0, Gateways).Select(g => Task.Run(() => PublishAsync(g))));
        await stop.CancelAsync();
        await killer;

        Assert.True(kills > 5, $"only {kills} writer backends killed");
        Assert.Empty(notStoredAtAck);
        const long Each = Messages * PerMessage;
        Assert.Equal($"{Gateways * Each} {Gateways * Each}", (await postgres.Server.SqlAsync(db,
            "SELECT count(*) || ' ' || count(DISTINCT (stream_id, seq)) FROM readings")).Trim());
        var gateways = aggregator.Store.Gateways();
        Assert.Equal(Gateways, gateways.Count);
        Assert.All(gateways, g => Assert.Equal(Each, g.Readings));
        await AssertRollupsAndLatestMatchReadingsAsync(db);
        // The API's latest (the live cache) equals the store's.
        foreach (var g in gateways)
        {
            var api = await aggregator.LatestAsync(g.Gateway);
            Assert.Equal(aggregator.Store.Latest(g.Gateway).Select(l => (l.Channel, l.Value)), api.Select(a => (a.Key, a.Value.Value)).OrderBy(a => a.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_status_whose_software_holds_a_NUL_is_stored_like_SQLite_does_and_fails_no_commit()
    {
        // A gateway's status (contract §5) whose software string holds U+0000 ("\u0000" in its JSON): the decoder takes
        // it, SQLite stores it, but PostgreSQL's text cannot hold a NUL. The store sent it as it came: the status write
        // failed (22021), which failed the whole group commit it was in (every other gateway's batches of that commit
        // were refused too), dropped the write connection, disconnected the gateway and turned /healthz to 503; the
        // gateway's status could never be stored. Stored now without the NUL.
        var cs = await postgres.Server.CreateDatabaseAsync();
        using var dir = new TempDirectory("aggregator-pg-status");
        await using var aggregator = await TestAggregator.StartAsync(dir.Path, b => b.Configuration.AddInMemoryCollection([
            new("Aggregator:Store:Engine", "postgresql"),
            new("Aggregator:Store:ConnectionString", cs),
        ]));
        using var odd = new MqttClientFactory().CreateMqttClient();
        await odd.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", aggregator.MqttPort).WithClientId("gw-odd").Build());
        var status = await odd.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status("gw-odd")).WithPayload(
                System.Text.Encoding.UTF8.GetBytes($$"""{"v":1,"gateway":"gw-odd","state":"online","ts":"{{ReadingBatchJson.FormatTimestamp(DateTimeOffset.UtcNow)}}","software":"0.1.0\u0000"}"""))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(status.IsSuccess, status.ReasonCode + " " + status.ReasonString);
        using (var health = await aggregator.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        }

        var gateway = Assert.Single(aggregator.Store.Gateways(), g => g.Gateway == "gw-odd");
        Assert.Equal(("online", "0.1.0"), (gateway.State, gateway.Software));
    }

    [Fact]
    public async Task An_unreachable_server_at_start_up_is_one_line_exit_69_without_the_password_or_a_stack_trace()
    {
        var port = FreePort.Next(); // nothing listens there
        var (code, stderr) = await RunAggregatorAsync("--Aggregator:Store:Engine=postgresql",
            $"--Aggregator:Store:ConnectionString=Host=127.0.0.1;Port={port};Database=iocedge;Username=ioc;Password=s3cret;Timeout=3");

        Assert.Equal(69, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"127.0.0.1:{port}/iocedge", line, StringComparison.Ordinal);
        Assert.Contains("Aggregator:Store:ConnectionString", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Aggregator:Store:Engine=oracle", "Aggregator:Store:Engine", "use sqlite")]
    [InlineData("--Aggregator:Store:Engine=postgresql", "Aggregator:Store:ConnectionString", "is empty")]
    [InlineData("--Aggregator:Store:ConnectionString=Host=x;Pasword=s3cret;Bogus", "Aggregator:Store:ConnectionString", "is not a PostgreSQL connection string")]
    [InlineData("--Aggregator:Store:RetainRawDays=-2", "Aggregator:Store:RetainRawDays", "")]
    [InlineData("--Aggregator:Store:WriteConnections=0", "Aggregator:Store:WriteConnections", "give 1 to 16")]
    [InlineData("--Aggregator:Store:WriteConnections=two", "Aggregator:Store:WriteConnections", "")]
    public async Task A_malformed_store_section_is_a_one_line_config_error_naming_the_key_exit_78(string argument, string key, string expected)
    {
        var args = argument.Contains("ConnectionString=", StringComparison.Ordinal)
            ? new[] { "--Aggregator:Store:Engine=postgresql", argument }
            : [argument];
        var (code, stderr) = await RunAggregatorAsync(args);

        Assert.Equal(78, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(key, StringComparison.Ordinal));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Err)> RunAggregatorAsync(params string[] args)
    {
        using var dir = new TempDirectory("aggregator-pg-exe");
        var (code, _, err) = await AggregatorExecutable.RunAsync(args.Concat(AggregatorExecutable.OnLoopback(dir.Path)));
        return (code, err);
    }
}
