using System.Diagnostics;
using System.Globalization;
using IocEdge.Aggregator.Storage.Postgres;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace IocEdge.Benchmarks.Postgres;

/// <summary>
/// "PostgreSQL ingest" (docs/BENCHMARKS.md): sustained readings/s through <see cref="PostgresReadingStore.Store"/>
/// (group commits of <c>gateways × per-message</c> readings, as the ingest pipeline hands them over: binary COPY,
/// key guard, partitions, 1m/1h rollups, latest, gateway counters, one durable commit each) against a same-run
/// baseline: a raw binary COPY of the same rows into the same partitioned <c>readings</c> table, one transaction per
/// commit, nothing else. Rounds alternate store and baseline so machine noise hits both; medians are reported.
/// A real PostgreSQL 15 is started by the tool (durable: fsync and synchronous_commit on) and stopped at the end.
/// </summary>
/// <remarks>
/// Usage: <c>pg-ingest [--gateways 100] [--per-message 200] [--commits 25] [--rounds 5] [--writers 2] [--profile [--profile-batch]]</c>.
/// <c>--writers</c> is the store's write connections (<see cref="PostgresReadingStore.DefaultWriteConnections"/> by
/// default, as the service runs); the baseline always COPYs through one connection.
/// Each gateway has 20 channels read at 1 Hz; a message holds per-message/20 seconds of them. <c>--profile</c> prints,
/// per round, the client-side time of each section of a commit (<see cref="PostgresTimings"/>; the statements after the
/// COPY one round trip each, or together with <c>--profile-batch</c>, as the service sends them), and at the end the
/// server's own account of the store's statements (pg_stat_statements: calls, execution time, buffers, WAL), the
/// tables' HOT updates and sizes, and the plans of the last commit's slowest statements (auto_explain).
/// </remarks>
internal static class PgIngestTool
{
    private const int Channels = 20;

    public static async Task<int> RunAsync(string[] args)
    {
        int gateways = ToolArgs.Int(args, "--gateways", 100), perMessage = ToolArgs.Int(args, "--per-message", 200);
        int commits = ToolArgs.Int(args, "--commits", 25), rounds = ToolArgs.Int(args, "--rounds", 5);
        var profile = args.Contains("--profile");
        var writers = ToolArgs.Int(args, "--writers", PostgresReadingStore.DefaultWriteConnections);
        if (profile && writers != 1)
        {
            Console.Error.WriteLine("pg-ingest: --profile times one connection's sections: add --writers 1");
            return 64;
        }

        await using var server = await PostgresServer.StartAsync(durable: true).ConfigureAwait(false);
        if (profile)
        {
            // pg_stat_statements and auto_explain (the plans of statements over 3 ms, with buffers and WAL, into the
            // server's log) must be preloaded: set them and restart the server before any database is made.
            await server.SqlAsync("postgres", "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain").ConfigureAwait(false);
            await server.StopAsync(immediate: false).ConfigureAwait(false);
            await server.StartAgainAsync().ConfigureAwait(false);
            foreach (var setting in new[] { "log_min_duration = '3ms'", "log_analyze = on", "log_buffers = on", "log_wal = on" })
            {
                await server.SqlAsync("postgres", "ALTER SYSTEM SET auto_explain." + setting).ConfigureAwait(false);
            }

            await server.SqlAsync("postgres", "SELECT pg_reload_conf()").ConfigureAwait(false);
        }

        var storeCs = await server.CreateDatabaseAsync("pg_store").ConfigureAwait(false);
        var copyCs = await server.CreateDatabaseAsync("pg_copy").ConfigureAwait(false);
        using var store = new PostgresReadingStore(storeCs, NullLogger<PostgresReadingStore>.Instance, writeConnections: writers);
        if (profile)
        {
            store.Timings = new PostgresTimings { Split = !args.Contains("--profile-batch") };
            await server.SqlAsync("pg_store", "CREATE EXTENSION pg_stat_statements").ConfigureAwait(false);
        }

        // The baseline's database gets the same schema (and the day's partitions) from a store that is then closed.
        var receivedAt = DateTimeOffset.UtcNow;
        var start = receivedAt.AddHours(-6);
        using (var schema = new PostgresReadingStore(copyCs, NullLogger<PostgresReadingStore>.Instance))
        {
            schema.Store([Message(0, 0, 1, start)], receivedAt);
        }

        await using var copyData = NpgsqlDataSource.Create(copyCs);
        await using var copyConn = await copyData.OpenConnectionAsync().ConfigureAwait(false);

        Console.WriteLine($"pg-ingest: {gateways} gateways x {perMessage} readings a message = {gateways * perMessage} readings a commit, " +
                          $"{commits} commits a round, {rounds} rounds, {writers} write connection(s); PostgreSQL 15 on 127.0.0.1:{server.Port} (durable)");
        var storeRates = new List<double>();
        var copyRates = new List<double>();
        long seq = 1;
        var seconds = perMessage / Channels;
        for (var round = 0; round < rounds; round++)
        {
            // The same commits for both: built first, outside the timing.
            var work = new List<ReadingBatch[]>();
            for (var c = 0; c < commits; c++)
            {
                var ts = start.AddSeconds((long)((round * commits) + c) * seconds);
                work.Add(Enumerable.Range(0, gateways).Select(g => Message(g, seq, perMessage, ts)).ToArray());
                seq += perMessage;
            }

            var total = (long)commits * gateways * perMessage;
            var sw = Stopwatch.StartNew();
            foreach (var batches in work)
            {
                store.Store(batches, receivedAt);
            }

            storeRates.Add(total / sw.Elapsed.TotalSeconds);

            sw.Restart();
            foreach (var batches in work)
            {
                Copy(copyConn, batches, receivedAt);
            }

            copyRates.Add(total / sw.Elapsed.TotalSeconds);
            Console.WriteLine($"round {round + 1}: store {storeRates[^1]:N0} readings/s, raw COPY {copyRates[^1]:N0} rows/s");
            if (store.Timings is { } timings)
            {
                Console.WriteLine($"  store sections, {timings}");
                timings.Reset();
                if (round == 0)
                {
                    // The first round creates the series and streams; the server's figures start after it.
                    await server.SqlAsync("pg_store", "SELECT pg_stat_statements_reset()").ConfigureAwait(false);
                }
            }
        }

        double s = Median(storeRates), b = Median(copyRates);
        Console.WriteLine($"median: store {s:N0} readings/s; raw binary COPY baseline {b:N0} rows/s; ratio {s / b:F2}x; " +
                          $"stored {store.Count():N0}");
        if (profile)
        {
            Console.WriteLine("pg_stat_statements after round 1, the store's database, per commit: ms, rows, shared buffers, WAL bytes:");
            var perCommit = Math.Max(1, (rounds - 1) * commits).ToString(CultureInfo.InvariantCulture);
            Console.WriteLine(await server.SqlAsync("pg_store", $$"""
                SELECT format('%8s ms %6s rows  hit %6s read %4s dirtied %5s  wal %8s B  %s',
                    round((total_exec_time / {{perCommit}})::numeric, 2), rows / {{perCommit}},
                    shared_blks_hit / {{perCommit}}, shared_blks_read / {{perCommit}}, shared_blks_dirtied / {{perCommit}},
                    wal_bytes / {{perCommit}}, left(regexp_replace(query, '\s+', ' ', 'g'), 110))
                FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'pg_store')
                ORDER BY total_exec_time DESC LIMIT 14
                """).ConfigureAwait(false));
            Console.WriteLine("tables (updates, of which HOT; dead rows; heap and index size):");
            Console.WriteLine(await server.SqlAsync("pg_store", """
                SELECT format('%-14s upd %8s hot %8s dead %7s  heap %6s  indexes %6s', relname, n_tup_upd, n_tup_hot_upd,
                    n_dead_tup, pg_size_pretty(pg_relation_size(relid)), pg_size_pretty(pg_indexes_size(relid)))
                FROM pg_stat_user_tables WHERE relname IN ('series', 'rollup_1m', 'rollup_1h', 'stream_ranges', 'streams', 'gateways')
                ORDER BY relname
                """).ConfigureAwait(false));
        }

        if (profile)
        {
            // The plans of the last commit's slow statements (and of the count above), as auto_explain logged them.
            var log = server.Log.Split('\n');
            var plans = log.Select((line, i) => (line, i)).Where(x => x.line.Contains("LOG:  duration:", StringComparison.Ordinal))
                .Select(x => x.i).ToList();
            Console.WriteLine("auto_explain, the last plans:");
            Console.WriteLine(string.Join('\n', log[plans[Math.Max(0, plans.Count - 5)]..]));
        }

        return 0;
    }

    private static ReadingBatch Message(int gateway, long firstSeq, int count, DateTimeOffset start)
    {
        var readings = new SequencedReading[count];
        for (var i = 0; i < count; i++)
        {
            readings[i] = new SequencedReading(firstSeq + i, new Reading(
                "dev" + (i % Channels).ToString(CultureInfo.InvariantCulture) + "/value", start.AddSeconds(i / Channels),
                20 + ((firstSeq + i) % 97 / 10.0), "degC", Quality.Good));
        }

        return new ReadingBatch("gw" + gateway.ToString("D4", CultureInfo.InvariantCulture), "s1", readings);
    }

    /// <summary>The baseline: the same rows (ids looked up in memory) COPYed straight into readings, one transaction.</summary>
    private static void Copy(NpgsqlConnection c, ReadingBatch[] batches, DateTimeOffset receivedAt)
    {
        var received = receivedAt.ToUnixTimeMilliseconds();
        using var tx = c.BeginTransaction();
        using (var import = c.BeginBinaryImport(
            "COPY readings(stream_id, seq, series_id, ts, value, quality, received, ts_status) FROM STDIN (FORMAT BINARY)"))
        {
            for (var g = 0; g < batches.Length; g++)
            {
                foreach (var (seq, r) in batches[g].Readings)
                {
                    import.StartRow();
                    import.Write((long)g, NpgsqlDbType.Bigint);
                    import.Write(seq, NpgsqlDbType.Bigint);
                    import.Write((long)((g * Channels) + (int)(seq % Channels)), NpgsqlDbType.Bigint);
                    import.Write(r.Timestamp.ToUnixTimeMilliseconds(), NpgsqlDbType.Bigint);
                    import.Write(r.Value!.Value, NpgsqlDbType.Double);
                    import.Write((short)r.Quality, NpgsqlDbType.Smallint);
                    import.Write(received, NpgsqlDbType.Bigint);
                    import.Write((short)0, NpgsqlDbType.Smallint);
                }
            }

            import.Complete();
        }

        tx.Commit();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
