using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Aggregator.Storage.Postgres;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, store: one contract, two engines. Every test here runs against the SQLite store and against the PostgreSQL
/// store on a real server, and asserts what the IOC would see (API-level results of <see cref="IReadingStore"/>), so
/// the engines cannot drift apart.
/// </summary>
public abstract class StoreContractTests : IDisposable
{
    // The aggregator's clock for every commit; readings are stamped an hour before, within every §4.3 tolerance.
    protected static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-30T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly DateTimeOffset Hour = Now.AddHours(-1);
    private IReadingStore? _store;

    protected IReadingStore Store => _store ??= Open();

    /// <summary>A new, empty store of the engine under test.</summary>
    protected abstract IReadingStore Open();

    public virtual void Dispose()
    {
        _store?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static ReadingBatch Batch(string gateway, string stream, params (long Seq, DateTimeOffset Ts, double? Value)[] readings) =>
        Batch(gateway, stream, "env1/pm2_5", Quality.Good, readings);

    protected static ReadingBatch Batch(string gateway, string stream, string channel, Quality quality,
        params (long Seq, DateTimeOffset Ts, double? Value)[] readings) =>
        new(gateway, stream, readings.Select(r => new SequencedReading(r.Seq, new Reading(channel, r.Ts, r.Value, "ug/m3", quality))).ToArray());

    [Fact]
    public void A_key_stored_twice_is_stored_once_and_counted_as_a_duplicate_in_its_gateway()
    {
        // Contract §4.1: (gateway, stream, seq) identifies a reading for ever; a redelivered message changes nothing.
        var first = Store.Store([Batch("gw-a", "s1", (1, Hour, 10), (2, Hour.AddSeconds(1), 11))], Now);
        var again = Store.Store([Batch("gw-a", "s1", (2, Hour.AddSeconds(1), 99), (3, Hour.AddSeconds(2), 12))], Now);

        Assert.Equal(new StoreResult(2, 0), first[0]);
        Assert.Equal(new StoreResult(1, 1), again[0]);
        Assert.Equal([(1L, 10.0), (2L, 11.0), (3L, 12.0)], Store.History("gw-a", "env1/pm2_5").Select(h => (h.Sequence, h.Value!.Value)));
        var gw = Assert.Single(Store.Gateways());
        Assert.Equal((3L, 1L), (gw.Readings, gw.Duplicates));
        Assert.Equal(3, Store.Count());
    }

    [Fact]
    public void The_same_key_twice_in_one_commit_is_stored_once_and_the_first_wins()
    {
        // A redelivery that catches up with its original in the same group commit (two messages, one transaction).
        var results = Store.Store([Batch("gw-a", "s1", (5, Hour, 1)), Batch("gw-a", "s1", (5, Hour, 2)), Batch("gw-a", "s2", (5, Hour, 3))], Now);

        Assert.Equal([new StoreResult(1, 0), new StoreResult(0, 1), new StoreResult(1, 0)], results);
        Assert.Equal([1.0, 3.0], Store.History("gw-a", "env1/pm2_5").Select(h => h.Value!.Value).Order());
    }

    [Fact]
    public void Flagged_timestamps_are_stored_and_counted_but_never_become_latest()
    {
        // Contract §4.3: 1970 (before_epoch), 2099 (future), two years back (too_old): kept for the record only.
        var results = Store.Store([Batch("gw-a", "s1",
            (1, Hour, 20),
            (2, DateTimeOffset.FromUnixTimeSeconds(5), 91),
            (3, new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero), 92),
            (4, Now.AddDays(-730), 93))], Now);

        Assert.Equal(new StoreResult(4, 0, Future: 1, TooOld: 1, BeforeEpoch: 1), results[0]);
        var latest = Assert.Single(Store.Latest("gw-a"));
        Assert.Equal((20.0, 1L), (latest.Value!.Value, latest.Sequence));
        Assert.Equal(4, Store.History("gw-a", "env1/pm2_5").Count);
        Assert.Equal(new TimestampCounts(1, 1, 1), Assert.Single(Store.Gateways()).TimestampsFlagged);
        var flagged = Store.Readings("gw-a", "env1/pm2_5", 10).ToDictionary(r => r.Sequence, r => r.TimestampStatus);
        Assert.Equal(TimestampStatus.Future, flagged[3]);
        Assert.Equal(TimestampStatus.BeforeEpoch, flagged[2]);
    }

    [Fact]
    public void Latest_never_moves_backwards_when_an_older_backlog_arrives_later()
    {
        Store.Store([Batch("gw-a", "live", (100, Hour.AddMinutes(30), 30))], Now);
        // The outbox's backlog from before an outage arrives afterwards: older device time, stored, not latest.
        Store.Store([Batch("gw-a", "backlog", (1, Hour.AddMinutes(1), 1), (2, Hour.AddMinutes(2), 2))], Now.AddSeconds(1));

        var latest = Assert.Single(Store.Latest());
        Assert.Equal((30.0, Hour.AddMinutes(30)), (latest.Value!.Value, latest.Timestamp));
        Assert.Equal(3, Store.History("gw-a", "env1/pm2_5").Count);
    }

    [Fact]
    public void Status_health_and_catalogue_are_kept_per_gateway()
    {
        Store.RecordStatus(new GatewayStatus("gw-b", GatewayState.Online, Hour, "1.4.0", 7), Now, """{"outbox":{"pending":7}}""");
        Store.Store([Batch("gw-b", "s1", "env1/temp", Quality.Good, (1, Hour, 25)), Batch("gw-a", "s1", (1, Hour, 5))], Now);
        // The will: offline, no health, no software: the previous ones are kept.
        Store.RecordStatus(new GatewayStatus("gw-b", GatewayState.Offline, Hour.AddMinutes(1)), Now.AddMinutes(1));

        var gateways = Store.Gateways();
        Assert.Equal(["gw-a", "gw-b"], gateways.Select(g => g.Gateway));
        var b = gateways[1];
        Assert.Equal(("offline", "1.4.0", 7L, 1), (b.State, b.Software, b.OutboxPending, b.Channels));
        Assert.Equal("""{"outbox":{"pending":7}}""", b.Health);
        Assert.Equal(Now, b.HealthAt);
        Assert.Equal(Now, b.LastSeen);
        Assert.Equal(["gw-a/env1/pm2_5", "gw-b/env1/temp"], Store.Channels().Select(c => c.Gateway + "/" + c.Channel));
        Assert.Equal(Hour, Assert.Single(Store.Channels("gw-b")).LastTimestamp);
    }

    [Fact]
    public void Range_pages_by_timestamp_and_sequence_without_gaps_or_repeats()
    {
        var readings = Enumerable.Range(0, 25).Select(i => ((long)i + 1, Hour.AddSeconds(i / 2), (double?)i)).ToArray();
        Store.Store([Batch("gw-a", "s1", readings)], Now);

        var pages = new List<StoredReading>();
        DateTimeOffset? afterTs = null;
        long? afterSeq = null;
        while (true)
        {
            var page = Store.Range("gw-a", "env1/pm2_5", Hour, Hour.AddSeconds(12), 4, afterTs, afterSeq);
            if (page.Count == 0)
            {
                break;
            }

            pages.AddRange(page);
            (afterTs, afterSeq) = (page[^1].Timestamp, page[^1].Sequence);
        }

        // [Hour, Hour+12s) holds the readings of seconds 0..11: sequences 1..24.
        Assert.Equal(Enumerable.Range(1, 24).Select(i => (long)i), pages.Select(p => p.Sequence));
    }

    [Fact]
    public void Buckets_reduce_only_good_plausible_values_and_are_not_changed_by_duplicates()
    {
        // Two hours of one channel: good values, a stale one, a comm failure (no value) and a flagged clock.
        var t0 = Hour.AddHours(-1);
        Store.Store([
            Batch("gw-a", "s1", (1, t0.AddMinutes(0), 4), (2, t0.AddMinutes(30), 8), (3, t0.AddMinutes(59), 6)),
            Batch("gw-a", "s2", "env1/pm2_5", Quality.Stale, (1, t0.AddMinutes(10), 1000)),
            Batch("gw-a", "s3", "env1/pm2_5", Quality.CommFailure, (1, t0.AddMinutes(11), null)),
            Batch("gw-a", "s1", (4, Hour.AddMinutes(5), 1), (5, Hour.AddMinutes(6), 3)),
            Batch("gw-a", "s4", (1, new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero), 5000)),
        ], Now);
        // Redelivery of the whole first message: the rollups (PostgreSQL) must not count it twice.
        Store.Store([Batch("gw-a", "s1", (1, t0.AddMinutes(0), 4), (2, t0.AddMinutes(30), 8), (3, t0.AddMinutes(59), 6))], Now);

        foreach (var (from, to) in new[] { (t0, Now), (t0.AddMinutes(-7), Now.AddSeconds(1)) }) // hour-aligned and not
        {
            var hourly = Store.Buckets("gw-a", "env1/pm2_5", from, to, TimeSpan.FromHours(1));
            Assert.Equal(2, hourly.Count);
            Assert.Equal(new HistoryBucket(t0, 3, 4, 8, 6, 6), hourly[0]);
            Assert.Equal(new HistoryBucket(Hour, 2, 1, 3, 2, 3), hourly[1]);
        }

        var minutes = Store.Buckets("gw-a", "env1/pm2_5", t0, Now, TimeSpan.FromMinutes(30));
        Assert.Equal([(t0, 1L), (t0.AddMinutes(30), 2L), (Hour, 2L)], minutes.Select(m => (m.Start, m.Count)));
        Assert.Equal(6, minutes[1].Last); // the newest in the bucket (59 min), not the largest
    }

    [Fact]
    public void A_buckets_average_shows_no_binary_rounding_noise()
    {
        // 0.1 + 0.2 is 0.30000000000000004 in binary; the average of these two readings is 0.15, not 0.15000000000000002,
        // from the raw readings (one minute) and from the rollups (an hour of ten readings of 0.1: 0.1, not 0.09999999999999999).
        var t0 = Hour.AddHours(-1);
        Store.Store([Batch("gw-a", "s1", (1, t0.AddSeconds(1), 0.1), (2, t0.AddSeconds(2), 0.2))], Now);
        Store.Store([Batch("gw-a", "s1", Enumerable.Range(0, 10).Select(i => (3L + i, Hour.AddMinutes(i), (double?)0.1)).ToArray())], Now);

        Assert.Equal(0.15, Store.Buckets("gw-a", "env1/pm2_5", t0, t0.AddMinutes(1), TimeSpan.FromMinutes(1)).Single().Avg);
        Assert.Equal(0.1, Store.Buckets("gw-a", "env1/pm2_5", Hour, Now, TimeSpan.FromHours(1)).Single().Avg);
    }
}

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class SqliteStoreContractTests : StoreContractTests
{
    private readonly TempDirectory _dir = new("store-contract");

    protected override IReadingStore Open() => new ReadingStore(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance);

    public override void Dispose()
    {
        base.Dispose();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class PostgresStoreContractTests(PostgresFixture postgres) : StoreContractTests
{
    protected override IReadingStore Open() =>
        new PostgresReadingStore(postgres.Server.CreateDatabaseAsync().GetAwaiter().GetResult(), NullLogger<PostgresReadingStore>.Instance);
}

/// <summary>One PostgreSQL cluster for every test class of the collection (initdb costs seconds; a database per test does not).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL server is not started.");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL server";
}

/// <summary>The same contract with one write connection (Store:WriteConnections=1): no commit is split.</summary>
[Collection(PostgresCollection.Name)]
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class PostgresOneConnectionStoreContractTests(PostgresFixture postgres) : StoreContractTests
{
    protected override IReadingStore Open() =>
        new PostgresReadingStore(postgres.Server.CreateDatabaseAsync().GetAwaiter().GetResult(), NullLogger<PostgresReadingStore>.Instance, writeConnections: 1);
}
