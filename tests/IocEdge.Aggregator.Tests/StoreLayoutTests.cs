using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// The SQLite store's chunked layout (readings packed per series, stream and minute; each stream's stored sequences as
/// ranges), against real files: what the IOC reads back is exactly what was stored, exactly-once holds across gaps,
/// out-of-order messages and retention, and a store written by an older aggregator (a row per reading) is moved over
/// with nothing lost.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class StoreLayoutTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("store-layout");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    /// <summary>The schema aggregators before chunks created (streams, series and a row per reading).</summary>
    internal const string RowPerReadingSchema = """
        PRAGMA journal_mode=WAL;
        CREATE TABLE streams(id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, stream TEXT NOT NULL, UNIQUE(gateway, stream));
        CREATE TABLE series(id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, channel TEXT NOT NULL, unit TEXT NOT NULL,
            last_ts INTEGER, last_value REAL, last_quality INTEGER, last_seq INTEGER, last_received INTEGER, UNIQUE(gateway, channel));
        CREATE TABLE readings(stream_id INTEGER NOT NULL, seq INTEGER NOT NULL, series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
            value REAL, quality INTEGER NOT NULL, received INTEGER NOT NULL, ts_status INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY(stream_id, seq)) WITHOUT ROWID;
        CREATE INDEX readings_series_ts ON readings(series_id, ts);
        """;

    private ReadingStore Open() => new(_dir.File("aggregator.db"), NullLogger<ReadingStore>.Instance);

    private static ReadingBatch Batch(string stream, IEnumerable<long> seqs, string channel = "env1/pm2_5") =>
        new("gw-l", stream, seqs.Select(s => new SequencedReading(s,
            new Reading(channel, T0.AddSeconds(s * 13), s % 7 == 0 ? null : s * 0.25, "ug/m3", s % 7 == 0 ? Quality.CommFailure : Quality.Good)))
            .ToArray());

    [Fact]
    public void A_chunk_reads_back_every_field_it_was_given()
    {
        // Receive times of several commits (a fold merges them), earlier and later than the chunk's column.
        ChunkReading[] readings =
        [
            new(0, -3_600_000 * 5 + 1, -0.0, Quality.Good, TimestampStatus.BeforeEpoch, 1_764_000_000_000),
            new(long.MaxValue / 2, -3_600_000 * 4 - 1, double.MaxValue, Quality.OutOfRange, TimestampStatus.ClockUntrusted, 1_764_000_000_000),
            new(7, -3_600_000 * 4 - 1, null, Quality.Invalid, TimestampStatus.Future, 1_764_000_009_250),
            new(6, -3_600_000 * 5, double.Epsilon, Quality.Stale, TimestampStatus.TooOld, -5),
        ];
        var minute = ChunkCodec.Minute(-3_600_000 * 5 + 1);
        Assert.Equal(-300, minute);
        var buffer = new byte[ChunkCodec.MaxLength(readings.Length)];
        var length = ChunkCodec.Encode(readings, minute, 1_764_000_009_250, buffer);

        var back = new List<ChunkReading>();
        ChunkCodec.Decode(buffer.AsSpan(0, length), minute, 1_764_000_009_250, back);

        Assert.Equal(readings, back);
        Assert.Throws<InvalidDataException>(() => ChunkCodec.Decode(buffer.AsSpan(0, length - 1), minute, 0, back));
        buffer[0] = 3;
        Assert.Throws<InvalidDataException>(() => ChunkCodec.Decode(buffer.AsSpan(0, length), minute, 0, back));
    }

    // Chunks written before wave 9 (layout v1) carry no receive time per reading: each was received at the chunk's column.
    [Fact]
    public void A_layout_1_chunk_still_reads_back_with_the_chunks_receive_time()
    {
        // version 1, n = 2; seq +5, ts +1,000 ms, good with a value 2.5; seq +1, ts +1,000 ms, comm_failure without a value.
        byte[] v1 = [1, 2, 10, 0xD0, 0x0F, 0x80, .. BitConverter.GetBytes(2.5), 2, 0xD0, 0x0F, (byte)Quality.CommFailure];
        var back = new List<ChunkReading>();
        ChunkCodec.Decode(v1, 100, 1_764_000_000_123, back);

        Assert.Equal(new[]
        {
            new ChunkReading(5, 6_001_000, 2.5, Quality.Good, TimestampStatus.Ok, 1_764_000_000_123),
            new ChunkReading(6, 6_002_000, null, Quality.CommFailure, TimestampStatus.Ok, 1_764_000_000_123),
        }, back);
    }

    [Fact]
    public void Gaps_out_of_order_messages_and_resends_are_each_stored_once_and_read_back_in_time_order()
    {
        using var store = Open();
        // A stream with gaps (readings the gateway evicted), sent out of order, then everything again in one message.
        var first = store.Store([Batch("s1", Enumerable.Range(100, 50).Select(i => (long)i))], T0.AddHours(1));
        var gap = store.Store([Batch("s1", Enumerable.Range(1, 40).Select(i => (long)i * 2))], T0.AddHours(1)); // even 2..80
        var bridge = store.Store([Batch("s1", Enumerable.Range(60, 60).Select(i => (long)i))], T0.AddHours(1)); // 60..119
        var all = store.Store([Batch("s1", Enumerable.Range(1, 200).Select(i => (long)i))], T0.AddHours(1));

        Assert.Equal(new StoreResult(50, 0), first[0]);
        Assert.Equal(new StoreResult(40, 0), gap[0]);
        // 60..119: the 11 even ones of 60..80 and 100..119 were stored; 29 are new.
        Assert.Equal(new StoreResult(29, 31), bridge[0]);
        Assert.Equal(new StoreResult(200 - 50 - 40 - 29, 50 + 40 + 29), all[0]);
        var expected = Enumerable.Range(1, 200).Select(i => (long)i).ToArray();
        Assert.Equal(expected.Length, store.Count());
        var history = store.History("gw-l", "env1/pm2_5");
        Assert.Equal(expected, history.Select(h => h.Sequence));
        Assert.All(history, h => Assert.Equal(T0.AddSeconds(h.Sequence * 13), h.Timestamp));
        Assert.All(history, h => Assert.Equal(h.Sequence % 7 == 0 ? null : h.Sequence * 0.25, h.Value));

        // Newest by receive order: the last message's readings, highest sequence first.
        var newest = store.Readings("gw-l", "env1/pm2_5", 5);
        Assert.Equal([200L, 199, 198, 197, 196], newest.Select(r => r.Sequence));
        // Keyset paging over a minute boundary gives every reading once, in time order.
        var paged = new List<long>();
        DateTimeOffset? at = null;
        long? after = null;
        while (true)
        {
            var page = store.Range("gw-l", "env1/pm2_5", T0, T0.AddDays(1), 37, at, after);
            if (page.Count == 0)
            {
                break;
            }

            paged.AddRange(page.Select(p => p.Sequence));
            (at, after) = (page[^1].Timestamp, page[^1].Sequence);
        }

        Assert.Equal(expected, paged);
    }

    [Fact]
    public void A_resend_of_a_reading_retention_already_deleted_is_a_duplicate_not_a_new_reading()
    {
        using var store = Open();
        var batch = Batch("s1", Enumerable.Range(1, 600).Select(i => (long)i)); // 13 s apart: 2 h 10 min from T0
        // Received before the cutoff (retention waits for that too); the cutoff falls inside a minute: that chunk is cut.
        store.Store([batch], T0.AddHours(1));
        var cutoff = T0.AddHours(1).AddMinutes(30);

        var deleted = store.Prune(StoreTable.Readings, cutoff, 1_000_000);

        var older = batch.Readings.Count(r => r.Reading.Timestamp < cutoff);
        Assert.Equal(older, deleted);
        Assert.Equal(600 - older, store.Count());
        Assert.Equal(batch.Readings.Where(r => r.Reading.Timestamp >= cutoff).Select(r => r.Sequence),
            store.History("gw-l", "env1/pm2_5").Select(h => h.Sequence));
        Assert.Equal(new StoreResult(0, 600), store.Store([batch], T0.AddHours(4))[0]);
        Assert.Equal(600 - older, store.Count());
    }

    [Fact]
    public void A_store_written_with_a_row_per_reading_is_moved_into_chunks_with_nothing_lost_and_resends_still_duplicates()
    {
        var path = _dir.File("aggregator.db");
        // The layout of aggregators before chunks, as they created it.
        using (var old = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            old.Open();
            using var cmd = old.CreateCommand();
            cmd.CommandText = RowPerReadingSchema + """
                INSERT INTO streams VALUES (1, 'gw-l', 's1'), (2, 'gw-l', 's2');
                INSERT INTO series(id, gateway, channel, unit) VALUES (1, 'gw-l', 'env1/pm2_5', 'ug/m3'), (2, 'gw-l', 'env1/pm10', 'ug/m3');
                -- s1: seq 1..60000 (more than one migration transaction), s2: seq 1..10 and 21..30; two channels, 1 s apart.
                WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 60000)
                INSERT INTO readings SELECT 1, value, 1 + value % 2, $t0 + value * 1000, value * 0.5, 0, $t0 + 7200000 + value / 1000, 0
                    FROM g;
                WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 30)
                INSERT INTO readings SELECT 2, value, 2, $t0 + value * 1000, NULL, 2, $t0 + 9000000, 0
                    FROM g WHERE value <= 10 OR value > 20;
                """;
            cmd.Parameters.AddWithValue("$t0", T0.ToUnixTimeMilliseconds());
            cmd.ExecuteNonQuery();
            cmd.CommandText = "SELECT count(*) FROM readings";
            Assert.Equal(60_020L, cmd.ExecuteScalar());
        }

        SqliteConnection.ClearAllPools();
        using var store = Open();

        Assert.Equal(60_020, store.Count());
        var pm25 = store.History("gw-l", "env1/pm2_5");
        Assert.Equal(Enumerable.Range(1, 60000).Where(i => i % 2 == 0).Select(i => (long)i), pm25.Select(h => h.Sequence));
        Assert.All(pm25, h => Assert.Equal(h.Sequence * 0.5, h.Value));
        var pm10 = store.History("gw-l", "env1/pm10");
        Assert.Equal(30_000 + 20, pm10.Count);
        var s2 = pm10.Where(h => h.Quality == Quality.CommFailure).Select(h => h.Sequence).ToArray();
        Assert.Equal(Enumerable.Range(1, 10).Concat(Enumerable.Range(21, 10)).Select(i => (long)i), s2);
        Assert.Equal(T0.AddMilliseconds(7_200_000 + 60), store.Readings("gw-l", "env1/pm2_5", 1)[0].ReceivedAt);

        // Exactly-once carried over: s1's old sequences are duplicates; s2's gap 11..20 is new.
        var resend = new ReadingBatch("gw-l", "s1", Enumerable.Range(59_990, 20).Select(i => new SequencedReading(i,
            new Reading("env1/pm2_5", T0.AddSeconds(i), 1, "ug/m3", Quality.Good))).ToArray());
        Assert.Equal(new StoreResult(9, 11), store.Store([resend], T0.AddHours(20))[0]);
        var fill = new ReadingBatch("gw-l", "s2", Enumerable.Range(5, 20).Select(i => new SequencedReading(i,
            new Reading("env1/pm10", T0.AddSeconds(i), 1, "ug/m3", Quality.Good))).ToArray());
        Assert.Equal(new StoreResult(10, 10), store.Store([fill], T0.AddHours(20))[0]);

        using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        check.Open();
        using var q = check.CreateCommand();
        q.CommandText = "SELECT count(*) FROM sqlite_master WHERE name IN ('readings', 'readings_series_ts')";
        Assert.Equal(0L, q.ExecuteScalar());
    }

    // The WAL is checkpointed by time (ReadingStore.CheckpointInterval, shortened here), off SQLite's automatic
    // checkpoint: what was committed reaches the database file while the store keeps writing (not only at close), and
    // every reading reads back.
    [Fact]
    public void The_wal_is_checkpointed_into_the_database_file_each_interval()
    {
        var path = _dir.File("aggregator.db");
        long seq = 0;
        using var store = new ReadingStore(path, NullLogger<ReadingStore>.Instance) { CheckpointEvery = TimeSpan.FromMilliseconds(100) };
        void Commit()
        {
            // 2,000 readings over 200 channels a commit: many pages dirtied by each one.
            var readings = new SequencedReading[2000];
            for (var i = 0; i < readings.Length; i++)
            {
                seq++;
                readings[i] = new SequencedReading(seq, new Reading($"ch{i % 200:D3}/v", T0.AddSeconds(seq / 200), seq * 0.5, "V", Quality.Good));
            }

            store.Store([new ReadingBatch("gw-wal", "s1", readings)], T0.AddSeconds(seq / 200 + 1));
        }

        Commit();
        var first = new FileInfo(path).Length; // no checkpoint yet: the file holds the empty schema
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var commits = 1;
        while (commits < 40 || System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3))
        {
            Commit();
            commits++;
        }

        var db = new FileInfo(path).Length;
        Assert.True(db >= 4 * first, $"the database file is {db:N0} bytes after {commits} commits ({first:N0} after the first): nothing was checkpointed");
        // The checkpoint runs beside the commits; it must still let the WAL start again from its beginning, or the WAL
        // file would hold every commit since the opening (as large as the database, and growing). 3 s of commits: after
        // 1.5 s, in a loaded CI run, one interval's WAL was already 0.54 of the database.
        var wal = new FileInfo(path + "-wal").Length;
        Assert.True(wal < db / 2, $"the WAL is {wal:N0} bytes beside a database of {db:N0}: it never restarted");
        Assert.Equal(seq, store.Count());
    }
}
