using System.Globalization;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;

namespace IocEdge.Benchmarks.Outbox;

/// <summary>
/// Load tool: bytes written to the card per reading by the outbox (docs/BENCHMARKS.md, "Outbox").
/// 100 channels × 1 Hz for a simulated span (time advances 1 s per cycle, as fast as the machine runs); a sender
/// acknowledges each second's batch <c>lag</c> seconds after it was appended. Bytes are <c>/proc/self/io</c>
/// <c>write_bytes</c> (page-cache pages dirtied by this process, i.e. what the filesystem will write to the card; WAL
/// frames, checkpoints and the close-time checkpoint included) and <c>wchar</c> (bytes passed to write()).
/// Baseline in the same run: <see cref="PreIssueOutbox"/>, the outbox as it was before issue 14.
/// Usage: <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- outbox-bytes [seconds=1800] [dir=/var/tmp] [lag=5]</c>
/// (lag 0: each batch acknowledged right after its append, a gateway whose link is up).
/// </summary>
internal static class OutboxBytesTool
{
    private const int Channels = 100;

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1800;
        var root = args.Length > 1 ? args[1] : "/var/tmp";
        var lag = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        Console.WriteLine($"outbox bytes per reading: {Channels} channels x 1 Hz, {seconds} s simulated, ack lag {lag} s, dir {root}");
        Console.WriteLine("| outbox | readings | write_bytes/reading | wchar/reading | wall s |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        var baseline = Measure("pre-issue outbox (baseline: 4 KiB pages, one DELETE per acknowledged row)", root, seconds,
            lag, path => new PreIssueOutbox(path));
        var current = Measure("SqliteOutbox (this issue)", root, seconds, lag, path =>
        {
            var time = new SimulatedTime();
            return new CurrentOutbox(new SqliteOutbox(path, new OutboxOptions(), time), time);
        });
        Console.WriteLine(FormattableString.Invariant($"ratio write_bytes/reading: {current / baseline:F2}"));
        return 0;
    }

    private static double Measure(string name, string root, int seconds, int lag, Func<string, IBenchOutbox> open)
    {
        var dir = Directory.CreateDirectory(Path.Combine(root, "outbox-bytes-" + Guid.NewGuid().ToString("N"))).FullName;
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long readings = 0;
        var (wb0, wc0) = ProcIo();
        using (var outbox = open(Path.Combine(dir, "outbox.db")))
        {
            var cursor = 0L;
            var pending = new Queue<int>(); // readings per second not yet acknowledged
            for (var s = 0; s < seconds; s++)
            {
                outbox.Tick();
                var batch = new Reading[Channels];
                for (var c = 0; c < Channels; c++)
                {
                    batch[c] = new Reading($"env{c / 10}/ch{c % 10}", t0.AddSeconds(s), 20 + ((s * 7 + c) % 100) / 10.0, "ug/m3", Quality.Good);
                }

                outbox.Append(batch);
                readings += Channels;
                pending.Enqueue(Channels);
                if (pending.Count > lag)
                {
                    var sent = outbox.ReadAfter(cursor, pending.Dequeue());
                    cursor = sent[^1].Sequence;
                    outbox.Acknowledge(sent);
                }
            }
        }

        var (wb1, wc1) = ProcIo();
        var wall = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        Directory.Delete(dir, recursive: true);
        var perReading = (double)(wb1 - wb0) / readings;
        Console.WriteLine(FormattableString.Invariant(
            $"| {name} | {readings} | {perReading:F0} | {(double)(wc1 - wc0) / readings:F0} | {wall:F1} |"));
        return perReading;
    }

    private static (long WriteBytes, long WChar) ProcIo()
    {
        long wb = 0, wc = 0;
        foreach (var line in File.ReadAllLines("/proc/self/io"))
        {
            var parts = line.Split(':', StringSplitOptions.TrimEntries);
            if (parts[0] == "write_bytes")
            {
                wb = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            else if (parts[0] == "wchar")
            {
                wc = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
        }

        return (wb, wc);
    }

    private interface IBenchOutbox : IDisposable
    {
        void Tick();

        void Append(IReadOnlyList<Reading> readings);

        IReadOnlyList<SequencedReading> ReadAfter(long after, int max);

        void Acknowledge(IReadOnlyList<SequencedReading> readings);
    }

    private sealed class CurrentOutbox(SqliteOutbox outbox, SimulatedTime time) : IBenchOutbox
    {
        public void Tick() => time.Advance(TimeSpan.FromSeconds(1));

        public void Append(IReadOnlyList<Reading> readings) => outbox.Append(readings);

        public IReadOnlyList<SequencedReading> ReadAfter(long after, int max) => outbox.ReadAfter(after, max);

        public void Acknowledge(IReadOnlyList<SequencedReading> readings) => outbox.Acknowledge(readings);

        public void Dispose() => outbox.Dispose();
    }

    /// <summary>Wall and monotonic time that advance only when told (1 s per simulated cycle).</summary>
    private sealed class SimulatedTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        private long _ticks;

        public void Advance(TimeSpan by)
        {
            _now += by;
            _ticks += by.Ticks;
        }

        public override DateTimeOffset GetUtcNow() => _now;

        public override long GetTimestamp() => _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    /// <summary>
    /// The outbox before issue 14 (SqliteOutbox at commit 09cdab6), reduced to its writes: same schema, same pragmas
    /// (WAL, synchronous=FULL, default 4 KiB pages, default autocheckpoint, no journal_size_limit), one transaction per
    /// Append with one INSERT per reading, one transaction per Acknowledge with one <c>DELETE ... WHERE seq = $s</c>
    /// per reading.
    /// </summary>
    private sealed class PreIssueOutbox : IBenchOutbox
    {
        private readonly SqliteConnection _db;

        public PreIssueOutbox(string path)
        {
            _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            _db.Open();
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS outbox(
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    ts INTEGER NOT NULL,
                    value REAL,
                    unit TEXT NOT NULL,
                    quality INTEGER NOT NULL);
                """;
            cmd.ExecuteNonQuery();
        }

        public void Tick()
        {
        }

        public void Append(IReadOnlyList<Reading> readings)
        {
            using var tx = _db.BeginTransaction();
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO outbox(channel, ts, value, unit, quality) VALUES ($c, $t, $v, $u, $q)";
            var ps = new[] { "$c", "$t", "$v", "$u", "$q" }.Select(p => cmd.Parameters.Add(new SqliteParameter(p, null))).ToArray();
            foreach (var r in readings)
            {
                ps[0].Value = r.Channel;
                ps[1].Value = r.Timestamp.ToUnixTimeMilliseconds();
                ps[2].Value = r.Value is { } v ? v : DBNull.Value;
                ps[3].Value = r.Unit;
                ps[4].Value = (int)r.Quality;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }

        public IReadOnlyList<SequencedReading> ReadAfter(long after, int max)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT seq, channel, ts, value, unit, quality FROM outbox WHERE seq > $a ORDER BY seq LIMIT $n";
            cmd.Parameters.AddWithValue("$a", after);
            cmd.Parameters.AddWithValue("$n", max);
            using var r = cmd.ExecuteReader();
            var list = new List<SequencedReading>();
            while (r.Read())
            {
                list.Add(new SequencedReading(r.GetInt64(0), new Reading(r.GetString(1),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.IsDBNull(3) ? null : r.GetDouble(3),
                    r.GetString(4), (Quality)r.GetInt32(5))));
            }

            return list;
        }

        public void Acknowledge(IReadOnlyList<SequencedReading> readings)
        {
            using var tx = _db.BeginTransaction();
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM outbox WHERE seq = $s";
            var s = cmd.Parameters.Add(new SqliteParameter("$s", null));
            foreach (var r in readings)
            {
                s.Value = r.Sequence;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }

        public void Dispose() => _db.Dispose();
    }
}
