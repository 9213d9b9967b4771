using System.Diagnostics;
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
        Assert.Equal("0", (await postgres.Server.SqlAsync(db, "SELECT count(*) FROM reading_keys WHERE ts < " +
            Now.AddDays(-7).ToUnixTimeMilliseconds())).Trim());
    }

    [Fact]
    public async Task Retention_also_prunes_expired_flagged_readings_and_keys_in_short_transactions_and_a_resend_of_a_pruned_reading_is_still_a_duplicate()
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
        Assert.Equal("7 8", (await postgres.Server.SqlAsync(db, "SELECT string_agg(seq::text, ' ' ORDER BY seq) FROM reading_keys")).Trim());
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
        // The pruned keys are kept as ranges of seq, not one row each.
        Assert.Equal("3", (await postgres.Server.SqlAsync(db, "SELECT count(*) FROM pruned_keys")).Trim());
    }

    [Fact]
    public async Task A_late_reading_stored_while_its_day_is_being_emptied_goes_with_the_partition_and_its_resend_is_a_duplicate()
    {
        var (store, db) = await OpenAsync();
        using var _ = store;
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(10), 20))], old.AddHours(1));
        // A backlog reading of 20 November (seq 3, never sent before) commits after retention emptied that day's pages.
        store.BeforePartitionDrop = name =>
        {
            if (name == "readings_p20261120")
            {
                Assert.Equal(new StoreResult(1, 0), store.Store([Batch("s1", (3, old.AddMinutes(15), 30))], Now)[0]);
            }
        };

        store.DropPartitionsBefore(Now.AddDays(-7));

        Assert.Equal("0", (await postgres.Server.SqlAsync(db, "SELECT count(*) FROM reading_keys WHERE ts < " +
            Now.AddDays(-7).ToUnixTimeMilliseconds())).Trim()); // no key left behind by the dropped partition
        Assert.Equal(new StoreResult(0, 3), store.Store([Batch("s1", (1, old.AddMinutes(5), 10), (2, old.AddMinutes(10), 20),
            (3, old.AddMinutes(15), 30))], Now)[0]);
    }

    [Fact]
    public async Task A_resend_that_races_a_retention_batch_pruning_its_key_is_still_a_duplicate()
    {
        var cs = await postgres.Server.CreateDatabaseAsync();
        using var store = new PostgresReadingStore(cs, NullLogger<PostgresReadingStore>.Instance);
        var old = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        store.Store([Batch("s1", (1, old.AddMinutes(5), 10))], old.AddHours(1));
        store.Store([Batch("s2", (1, Now.AddMinutes(-1), 1))], Now); // today's partitions exist before the race

        // A retention batch in flight on its own connection, at the SQL level exactly as DropPartitionsBefore's batches
        // run: prune lock taken, the key deleted and its range recorded, not yet committed.
        await using var conn = new Npgsql.NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var batch = new Npgsql.NpgsqlCommand("""
            SELECT pg_advisory_xact_lock(7345603);
            DELETE FROM reading_keys WHERE seq = 1;
            INSERT INTO pruned_keys(stream_id, lo, hi) SELECT id, 1, 1 FROM streams WHERE stream = 's1';
            """, conn, tx))
        {
            await batch.ExecuteNonQueryAsync();
        }

        // The gateway resends the reading meanwhile; the batch commits while the resend is under way.
        var resend = Task.Run(() => store.Store([Batch("s1", (1, old.AddMinutes(5), 10))], Now));
        // Wait until the resend's commit is held by a lock in the server (however slow this machine is), then commit.
        await using (var waiting = new Npgsql.NpgsqlConnection(cs))
        {
            await waiting.OpenAsync();
            await using var query = new Npgsql.NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", waiting);
            await Eventually.True(async () => (long)(await query.ExecuteScalarAsync())! > 0, TimeSpan.FromSeconds(60),
                "the resend never reached the server");
        }

        await tx.CommitAsync();

        Assert.Equal(new StoreResult(0, 1), (await resend.WaitAsync(TimeSpan.FromSeconds(60)))[0]);
        Assert.Equal(1, Assert.Single(store.Buckets("gw-p", "env1/pm2_5", old, old.AddHours(1), TimeSpan.FromHours(1))).Count);
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
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "iocedge-aggregator.dll"));
        foreach (var a in args.Concat([$"--Aggregator:DataDirectory={dir.Path}", $"--Aggregator:Mqtt:Port={FreePort.Next()}",
                     "--Aggregator:Mqtt:BindAddress=127.0.0.1", $"--Aggregator:HttpUrls=http://127.0.0.1:{FreePort.Next()}"]))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"iocedge-aggregator did not exit: {await stderr}");
        }

        await stdout;
        return (p.ExitCode, await stderr);
    }
}
