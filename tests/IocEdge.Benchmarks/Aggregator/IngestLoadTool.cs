using System.Diagnostics;
using System.Globalization;
using IocEdge.Aggregator;
using IocEdge.Aggregator.Broker;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using SQLitePCL;

namespace IocEdge.Benchmarks.Aggregator;

/// <summary>
/// Issue 15 benchmark "sustained ingest with N gateways into SQLite": a load tool, not BenchmarkDotNet (a run is
/// seconds long and goes through real sockets). N simulated gateways (MQTTnet 5 clients, MQTT 5, client id = gateway
/// id, one stream each, <c>--channels</c> channels at 1 Hz stamps) publish <c>--readings</c> readings in all, as JSON
/// messages of <c>--batch</c> readings (contract §4) at QoS 1 with up to <c>--in-flight</c> unacknowledged messages
/// each (default: the gateway's own MaxInFlight, 32), to the embedded broker of the real aggregator run as its own process
/// (<c>iocedge-aggregator.dll</c>, as deployed, a fresh data directory per run, warmed up first by other gateways' 200,000
/// readings), or with <c>--in-process</c> of an <see cref="AggregatorHost"/> in this process (the method before wave 8).
/// Payloads are encoded before the clock starts; the clock runs from the first PUBLISH to the last
/// PUBACK (every reading committed), and the store is then checked to hold exactly <c>--readings</c> readings.
/// <para>
/// Baselines, same run, each committing every min(N x batch, Aggregator:Ingest:MaxReadingsPerCommit) readings (the
/// commit size the aggregator's group commit could reach at best) with the store's durability (WAL, synchronous=FULL,
/// the same page cache). No MQTT, no decode, no duplicate check, no latest value, no counters, no rollups.
/// <list type="bullet">
/// <item>raw chunks: the same readings into the store's own schema (a fresh file made by <see cref="ReadingStore"/>):
/// per commit, each series' readings packed by <see cref="ChunkCodec"/> into one <c>chunks</c> row (per minute), and one
/// <c>stored_seqs</c> row per stream written: the least work that schema needs.</item>
/// <item>raw rows: the same readings as rows of the row-per-reading schema the store had before chunks (a
/// <c>(stream_id, seq)</c> key and a <c>(series_id, ts)</c> index), through prepared 64-row INSERT statements bound by
/// index: what a store of that layout could do at best.</item>
/// </list>
/// Runs alternate aggregator, baselines, ...; medians are printed.
/// </para>
/// <c>--store-only</c> replaces the MQTT side with <see cref="ReadingStore.Store"/> called directly on the decoded
/// batches, committed exactly as the baseline commits: the store's own cost against a raw insert.
/// Usage: <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- ingest-load [--gateways N] [--readings M]
/// [--batch B] [--in-flight F] [--channels C] [--runs R] [--in-process] [--store-only [--no-rollups] [--profile]]</c>.
/// </summary>
internal static class IngestLoadTool
{
    private static readonly int MaxReadingsPerCommit = new IngestOptions().MaxReadingsPerCommit;

    public static async Task<int> RunAsync(string[] args)
    {
        var gateways = ToolArgs.Int(args, "--gateways", 100);
        var readings = ToolArgs.Int(args, "--readings", 1_000_000);
        var batch = ToolArgs.Int(args, "--batch", 500);
        var inFlight = ToolArgs.Int(args, "--in-flight", new IocEdge.Edge.Configuration.GatewayMqttOptions().MaxInFlight);
        var inProcess = args.Contains("--in-process");
        var channels = ToolArgs.Int(args, "--channels", 20);
        var runs = ToolArgs.Int(args, "--runs", 3);
        var storeOnly = args.Contains("--store-only");
        var rollups = !args.Contains("--no-rollups");
        Profile = args.Contains("--profile");
        if (readings % (gateways * batch) != 0)
        {
            Console.Error.WriteLine($"--readings {readings} must be a multiple of --gateways x --batch ({gateways * batch}).");
            return 2;
        }

        var sw = Stopwatch.StartNew();
        var load = Load.Make(gateways, readings / gateways, batch, channels);
        Console.WriteLine($"{gateways} gateways x {readings / gateways:N0} readings ({batch} a message, {inFlight} in flight, " +
                          $"{channels} channels each): payloads encoded in {sw.Elapsed.TotalSeconds:0.0} s " +
                          $"({load.Bytes / 1e6:0} MB); {Environment.ProcessorCount} cores");

        using var dir = new TempDirectory("ingest-load");
        var aggregator = new List<double>();
        var baseline = new List<double>();
        var chunkBaseline = new List<double>();
        // Encoded once, like the measured load (each run's aggregator takes it before the measured one).
        var warm = storeOnly || inProcess ? null : Load.Make(gateways, Math.Max(batch, 200_000 / gateways / batch * batch), batch, channels, "gw-warm");
        for (var run = 1; run <= runs; run++)
        {
            var a = storeOnly ? StoreOnly(dir, run, load, Math.Min(gateways * batch, MaxReadingsPerCommit), rollups)
                : inProcess ? await IngestAsync(dir, run, load, inFlight)
                : await IngestProcessAsync(dir, run, load, warm!, inFlight);
            aggregator.Add(a);
            var b = RawInsert(dir, run, load, Math.Min(gateways * batch, MaxReadingsPerCommit));
            baseline.Add(b);
            var c = RawChunkInsert(dir, run, load, Math.Min(gateways * batch, MaxReadingsPerCommit));
            chunkBaseline.Add(c);
            Console.WriteLine($"run {run}: aggregator {a:0.00} s ({readings / a:N0}/s), raw rows {b:0.00} s ({readings / b:N0}/s), " +
                              $"raw chunks {c:0.00} s ({readings / c:N0}/s)");
        }

        var ma = Median(aggregator);
        var mb = Median(baseline);
        var mc = Median(chunkBaseline);
        Console.WriteLine($"median ingest of {readings:N0} from {gateways} gateways{(storeOnly ? $" (store only: ReadingStore.Store, no MQTT, no decode{(rollups ? string.Empty : ", no rollups")})" : string.Empty)}: aggregator {readings / ma:N0} readings/s; " +
                          $"raw chunks (same schema) {readings / mc:N0} readings/s, ratio {mc / ma:0.00}x; " +
                          $"raw rows (the row-per-reading schema) {readings / mb:N0} readings/s, ratio {mb / ma:0.00}x");
        return 0;
    }

    // The aggregator as its own process (iocedge-aggregator.dll, as deployed), warmed up first by other gateways' 200,000
    // readings (a deployed aggregator is a long-running service; a fresh one spends a quarter of its CPU in the JIT for a
    // while: docs/BENCHMARKS.md, "Outbox drain"); the stored count is checked through the HTTP API.
    private static async Task<double> IngestProcessAsync(TempDirectory dir, int run, Load load, Load warm, int inFlight)
    {
        await using var aggregator = await AggregatorProcess.StartAsync(dir.File($"aggp{run}"),
            ["--Logging:LogLevel:IocEdge.Aggregator.Broker=Error"]); // not a line per gateway disconnecting at the end
        await PublishAllAsync(aggregator.MqttPort, warm, inFlight);
        var elapsed = await PublishAllAsync(aggregator.MqttPort, load, inFlight);
        var stored = await aggregator.StoredAsync();
        var backstops = await aggregator.MetricAsync("iocedge_store_backstop_folds");
        if (backstops > 0)
        {
            Console.WriteLine($"run {run}: {backstops} commit(s) found 1,000,000 readings unfolded and folded them first (the fold fell behind)");
        }

        if (stored != load.Readings + warm.Readings)
        {
            throw new InvalidOperationException($"the aggregator stored {stored} readings, not {load.Readings} + {warm.Readings} (warm-up)");
        }

        return elapsed;
    }

    // Connects one MQTT 5 client per gateway, publishes every message with up to inFlight awaiting PUBACK each, and
    // returns the seconds from the first PUBLISH to the last PUBACK.
    private static async Task<double> PublishAllAsync(int port, Load load, int inFlight)
    {
        var factory = new MqttClientFactory();
        var clients = new List<IMqttClient>();
        try
        {
            foreach (var g in load.Gateways)
            {
                var client = factory.CreateMqttClient();
                await client.ConnectAsync(new MqttClientOptionsBuilder()
                    .WithTcpServer("127.0.0.1", port)
                    .WithClientId(g.Id)
                    .WithProtocolVersion(MqttProtocolVersion.V500)
                    .WithTimeout(TimeSpan.FromSeconds(60))
                    .Build());
                clients.Add(client);
            }

            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(clients.Select((client, i) => SendAsync(client, load.Gateways[i], inFlight)));
            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisconnectAsync();
                c.Dispose();
            }
        }
    }

    private static Task SendAsync(IMqttClient client, GatewayLoad g, int inFlight)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
        {
            int m;
            while ((m = Interlocked.Increment(ref next)) < g.Messages.Length)
            {
                var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(g.Topic)
                    .WithPayload(g.Messages[m])
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build());
                if ((int)result.ReasonCode >= 0x80) // 0x10 "no matching subscribers" is a success too (MQTT 5 §3.4.2.1)
                {
                    throw new InvalidOperationException($"{g.Id}: PUBACK {result.ReasonCode} {result.ReasonString}");
                }
            }
        })));
    }

    private static async Task<double> IngestAsync(TempDirectory dir, int run, Load load, int inFlight)
    {
        var port = FreePort.Next();
        var app = AggregatorHost.Build(
        [
            $"--Aggregator:DataDirectory={dir.File($"agg{run}")}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{FreePort.Next()}",
            $"--Aggregator:Mqtt:Port={port}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:IocEdge.Aggregator.Broker=Error", // not a line per gateway disconnecting at the end
        ]);
        await app.StartAsync();
        _ = app.Services.GetRequiredService<EmbeddedBroker>();
        try
        {
            var elapsed = await PublishAllAsync(port, load, inFlight);
            var stored = app.Services.GetRequiredService<IReadingStore>().Count();
            if (stored != load.Readings)
            {
                throw new InvalidOperationException($"the aggregator stored {stored} readings, not {load.Readings}");
            }

            return elapsed;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    // ReadingStore.Store alone on decoded batches, committed as the raw baseline commits (the same rows per commit).
    private static bool Profile { get; set; }

    private static double StoreOnly(TempDirectory dir, int run, Load load, int commitRows, bool rollups)
    {
        var batches = load.Gateways.Select(g => g.Messages.Select(m =>
            ReadingBatchJson.TryDecode(m, g.Id, out var b, out var e) ? b! : throw new InvalidOperationException(e)).ToArray()).ToArray();
        var timings = Profile ? new StoreTimings() : null;
        using var store = new ReadingStore(dir.File($"store{run}/aggregator.db"), NullLogger<ReadingStore>.Instance)
        {
            RollupsEnabled = rollups,
            Timings = timings,
        };
        var received = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        var pending = new List<ReadingBatch>();
        var rows = 0;
        for (var m = 0; m < batches[0].Length; m++)
        {
            foreach (var g in batches)
            {
                pending.Add(g[m]);
                rows += g[m].Readings.Count;
                if (rows >= commitRows)
                {
                    store.Store(pending, received);
                    (rows, pending) = (0, []);
                }
            }
        }

        if (pending.Count > 0)
        {
            store.Store(pending, received);
        }

        // What still waits in the journal is folded inside the timing: the raw baseline ends with everything in chunks.
        store.Fold();
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (timings is not null)
        {
            Console.WriteLine($"  run {run} store sections: {timings}");
        }

        if (store.Count() != load.Readings)
        {
            throw new InvalidOperationException($"the store holds {store.Count()} readings, not {load.Readings}");
        }

        return elapsed;
    }

    // The store's checkpoint policy (ReadingStore.CheckpointInterval): the baselines write with the same durability and
    // the same checkpoints, so the ratio is the store's own work.
    private static void CheckpointIfDue(sqlite3 db, ref long last)
    {
        if (Stopwatch.GetElapsedTime(last) >= ReadingStore.CheckpointInterval)
        {
            last = Stopwatch.GetTimestamp();
            Check(db, raw.sqlite3_exec(db, "PRAGMA wal_checkpoint(PASSIVE)"));
        }
    }

    private static double RawInsert(TempDirectory dir, int run, Load load, int commitRows)
    {
        var path = dir.File($"raw{run}/aggregator.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using (var p = c.CreateCommand())
        {
            // The row-per-reading layout of the store before chunks (see LegacyReadings).
            p.CommandText = """
                PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=0;
                CREATE TABLE readings(stream_id INTEGER NOT NULL, seq INTEGER NOT NULL, series_id INTEGER NOT NULL,
                    ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL, received INTEGER NOT NULL,
                    ts_status INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(stream_id, seq)) WITHOUT ROWID;
                CREATE INDEX readings_series_ts ON readings(series_id, ts);
                """;
            p.ExecuteNonQuery();
        }

        const int Rows = 64;
        var db = c.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO readings(stream_id, seq, series_id, ts, value, quality, received, ts_status) VALUES " +
            string.Join(",", Enumerable.Repeat("(?,?,?,?,?,?,?,?)", Rows)), out var stmt));
        Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO readings(stream_id, seq, series_id, ts, value, quality, received, ts_status) " +
            "VALUES (?,?,?,?,?,?,?,?)", out var one));
        Check(db, raw.sqlite3_prepare_v2(db, "BEGIN", out var begin));
        Check(db, raw.sqlite3_prepare_v2(db, "COMMIT", out var commit));
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var lastCheckpoint = Stopwatch.GetTimestamp();
        var flat = Interleaved(load);

        var started = Stopwatch.GetTimestamp();
        for (var start = 0; start < flat.Count; start += commitRows)
        {
            var end = Math.Min(flat.Count, start + commitRows);
            Check(db, raw.sqlite3_step(begin), raw.SQLITE_DONE);
            raw.sqlite3_reset(begin);
            var i = start;
            for (; i + Rows <= end; i += Rows)
            {
                for (var k = 0; k < Rows; k++)
                {
                    Bind(stmt, k * 8, flat[i + k], received);
                }

                Check(db, raw.sqlite3_step(stmt), raw.SQLITE_DONE);
                raw.sqlite3_reset(stmt);
            }

            for (; i < end; i++)
            {
                Bind(one, 0, flat[i], received);
                Check(db, raw.sqlite3_step(one), raw.SQLITE_DONE);
                raw.sqlite3_reset(one);
            }

            Check(db, raw.sqlite3_step(commit), raw.SQLITE_DONE);
            CheckpointIfDue(db, ref lastCheckpoint);
            raw.sqlite3_reset(commit);
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        stmt.Dispose();
        one.Dispose();
        begin.Dispose();
        commit.Dispose();
        using var count = c.CreateCommand();
        count.CommandText = "SELECT count(*) FROM readings";
        var n = (long)count.ExecuteScalar()!;
        if (n != load.Readings)
        {
            throw new InvalidOperationException($"the raw insert stored {n} rows, not {load.Readings}");
        }

        return elapsed;
    }

    private static double RawChunkInsert(TempDirectory dir, int run, Load load, int commitRows)
    {
        var path = dir.File($"chunks{run}/aggregator.db");
        // The same schema: made by the store itself, then closed.
        new ReadingStore(path, NullLogger<ReadingStore>.Instance).Dispose();
        SqliteConnection.ClearAllPools();
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using (var p = c.CreateCommand())
        {
            p.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=0;";
            p.ExecuteNonQuery();
        }

        var db = c.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO chunks(series_id, minute, id, stream_id, received, n, data) VALUES (?,?,?,?,?,?,?)", out var chunk));
        Check(db, raw.sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO stored_seqs(stream_id, lo, hi) VALUES (?, 1, ?)", out var range));
        Check(db, raw.sqlite3_prepare_v2(db, "BEGIN", out var begin));
        Check(db, raw.sqlite3_prepare_v2(db, "COMMIT", out var commit));
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var lastCheckpoint = Stopwatch.GetTimestamp();
        var flat = Interleaved(load);
        var groups = new Dictionary<(long Series, long Minute), List<ChunkReading>>();
        var lastSeq = new Dictionary<long, long>();
        var chunkIds = new Dictionary<long, long>();
        var buffer = new byte[ChunkCodec.MaxLength(MaxReadingsPerCommit)];
        var started = Stopwatch.GetTimestamp();
        for (var start = 0; start < flat.Count; start += commitRows)
        {
            var end = Math.Min(flat.Count, start + commitRows);
            Check(db, raw.sqlite3_step(begin), raw.SQLITE_DONE);
            raw.sqlite3_reset(begin);
            for (var i = start; i < end; i++)
            {
                var (g, r) = flat[i];
                var key = ((long)g * 1000 + r.Channel + 1, ChunkCodec.Minute(r.Ts));
                if (!groups.TryGetValue(key, out var list))
                {
                    groups[key] = list = [];
                }

                list.Add(new ChunkReading(r.Seq, r.Ts, r.Value, Quality.Good, TimestampStatus.Ok, received));
                lastSeq[g + 1] = r.Seq;
            }

            foreach (var ((series, minute), list) in groups)
            {
                if (list.Count == 0)
                {
                    continue;
                }

                var length = ChunkCodec.Encode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list), minute, received, buffer);
                chunkIds[series] = chunkIds.GetValueOrDefault(series) + 1;
                raw.sqlite3_bind_int64(chunk, 1, series);
                raw.sqlite3_bind_int64(chunk, 2, minute);
                raw.sqlite3_bind_int64(chunk, 3, chunkIds[series]);
                raw.sqlite3_bind_int64(chunk, 4, series / 1000 + 1);
                raw.sqlite3_bind_int64(chunk, 5, received);
                raw.sqlite3_bind_int64(chunk, 6, list.Count);
                raw.sqlite3_bind_blob(chunk, 7, buffer.AsSpan(0, length));
                Check(db, raw.sqlite3_step(chunk), raw.SQLITE_DONE);
                raw.sqlite3_reset(chunk);
                list.Clear();
            }

            foreach (var (stream, hi) in lastSeq)
            {
                raw.sqlite3_bind_int64(range, 1, stream);
                raw.sqlite3_bind_int64(range, 2, hi);
                Check(db, raw.sqlite3_step(range), raw.SQLITE_DONE);
                raw.sqlite3_reset(range);
            }

            lastSeq.Clear();
            Check(db, raw.sqlite3_step(commit), raw.SQLITE_DONE);
            CheckpointIfDue(db, ref lastCheckpoint);
            raw.sqlite3_reset(commit);
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        chunk.Dispose();
        range.Dispose();
        begin.Dispose();
        commit.Dispose();
        using var count = c.CreateCommand();
        count.CommandText = "SELECT sum(n) FROM chunks";
        var n = (long)count.ExecuteScalar()!;
        if (n != load.Readings)
        {
            throw new InvalidOperationException($"the raw chunk insert stored {n} readings, not {load.Readings}");
        }

        return elapsed;
    }

    // Interleaved as the aggregator receives them: message m of every gateway, then message m + 1... (not timed)
    private static List<(int Gateway, Row Row)> Interleaved(Load load)
    {
        var flat = new List<(int Gateway, Row Row)>((int)load.Readings);
        for (var m = 0; m < load.Gateways[0].Rows.Length; m++)
        {
            for (var g = 0; g < load.Gateways.Count; g++)
            {
                flat.AddRange(load.Gateways[g].Rows[m].Select(r => (g, r)));
            }
        }

        return flat;
    }

    private static void Bind(sqlite3_stmt stmt, int p, (int Gateway, Row Row) x, long received)
    {
        var (g, r) = x;
        raw.sqlite3_bind_int64(stmt, p + 1, g + 1);
        raw.sqlite3_bind_int64(stmt, p + 2, r.Seq);
        raw.sqlite3_bind_int64(stmt, p + 3, g * 1000 + r.Channel + 1);
        raw.sqlite3_bind_int64(stmt, p + 4, r.Ts);
        raw.sqlite3_bind_double(stmt, p + 5, r.Value);
        raw.sqlite3_bind_int64(stmt, p + 6, 0);
        raw.sqlite3_bind_int64(stmt, p + 7, received);
        raw.sqlite3_bind_int64(stmt, p + 8, 0);
    }

    private static void Check(sqlite3 db, int rc, int expected = 0)
    {
        if (rc != expected)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }


    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private readonly record struct Row(long Seq, int Channel, long Ts, double Value);

    private sealed record GatewayLoad(string Id, string Topic, byte[][] Messages, Row[][] Rows);

    private sealed record Load(IReadOnlyList<GatewayLoad> Gateways, long Readings, long Bytes)
    {
        public static Load Make(int gateways, int perGateway, int batch, int channels, string prefix = "gw-load")
        {
            var t0 = DateTimeOffset.UtcNow.AddHours(-1);
            var units = new[] { "ug/m3", "ug/m3", "degC", "%RH" };
            var names = new[] { "pm2_5", "pm10", "temperature", "humidity" };
            var list = new List<GatewayLoad>();
            long bytes = 0;
            for (var g = 0; g < gateways; g++)
            {
                var id = $"{prefix}{g:D4}";
                var messages = new byte[perGateway / batch][];
                var rows = new Row[messages.Length][];
                for (var m = 0; m < messages.Length; m++)
                {
                    var sequenced = new SequencedReading[batch];
                    rows[m] = new Row[batch];
                    for (var k = 0; k < batch; k++)
                    {
                        var i = m * batch + k;
                        var ch = i % channels;
                        var ts = t0.AddSeconds(i / channels);
                        var value = 10 + (i % 997) / 10.0;
                        sequenced[k] = new SequencedReading(i + 1, new Reading($"env{ch / 4 + 1}/{names[ch % 4]}", ts, value, units[ch % 4], Quality.Good));
                        rows[m][k] = new Row(i + 1, ch, ts.ToUnixTimeMilliseconds(), value);
                    }

                    messages[m] = ReadingBatchJson.Encode(new ReadingBatch(id, "s" + g.ToString(CultureInfo.InvariantCulture), sequenced));
                    bytes += messages[m].Length;
                }

                list.Add(new GatewayLoad(id, Topics.Readings(id), messages, rows));
            }

            return new Load(list, (long)gateways * perGateway, bytes);
        }
    }
}
