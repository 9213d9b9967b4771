using System.Security.Cryptography;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;

namespace IocEdge.Edge.Outbox;

/// <summary>
/// The gateway's store-and-forward buffer: every reading is appended here before anything else happens to it, and
/// leaves only when the aggregator acknowledged it.
/// </summary>
/// <remarks>
/// <para>Sequence numbers are SQLite AUTOINCREMENT row ids: strictly increasing and never reused, even after the rows
/// are deleted, so (gateway, stream, seq) names one reading for ever (contract §4.1). The stream id is made once, when
/// the file is created; a new file (a new SD card) starts a new stream.</para>
/// <para>synchronous=FULL in WAL mode: an appended reading is on the card before <see cref="Append"/> returns, so a
/// power cut loses nothing that was appended. One instance is used from several threads (sampler, forwarder); a lock
/// serialises them, which costs nothing next to the fsync.</para>
/// </remarks>
public sealed class SqliteOutbox : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SqliteConnection _db;
    private readonly SqliteCommand _insert;
    private long _count;

    public SqliteOutbox(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        Path = path;
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Execute("""
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
            CREATE TABLE IF NOT EXISTS dead_letter(
                seq INTEGER PRIMARY KEY,
                channel TEXT NOT NULL,
                ts INTEGER NOT NULL,
                value REAL,
                unit TEXT NOT NULL,
                quality INTEGER NOT NULL,
                reason TEXT NOT NULL);
            """);
        StreamId = LoadOrCreateStreamId();
        _count = Scalar("SELECT count(*) FROM outbox");

        _insert = _db.CreateCommand();
        _insert.CommandText = "INSERT INTO outbox(channel, ts, value, unit, quality) VALUES ($c, $t, $v, $u, $q)";
        foreach (var p in new[] { "$c", "$t", "$v", "$u", "$q" })
        {
            _insert.Parameters.Add(new SqliteParameter(p, null));
        }
    }

    public string Path { get; }

    /// <summary>This outbox file's stream id (contract §4.1).</summary>
    public string StreamId { get; }

    /// <summary>Readings waiting to be acknowledged.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Raised after readings were appended (the forwarder wakes up on it).</summary>
    public event Action? Appended;

    /// <summary>Appends readings in one transaction and returns the sequence number given to the last one.</summary>
    /// <exception cref="SqliteException">The card is full or failing; nothing of this call was stored.</exception>
    public long Append(IReadOnlyList<Reading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            return 0;
        }

        long last;
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            _insert.Transaction = tx;
            foreach (var r in readings)
            {
                var ps = _insert.Parameters;
                ps[0].Value = r.Channel;
                ps[1].Value = r.Timestamp.ToUnixTimeMilliseconds();
                ps[2].Value = r.Value is { } v ? v : DBNull.Value;
                ps[3].Value = r.Unit;
                ps[4].Value = (int)r.Quality;
                _insert.ExecuteNonQuery();
            }

            last = Scalar("SELECT last_insert_rowid()", tx);
            tx.Commit();
            _count += readings.Count;
        }

        Appended?.Invoke();
        return last;
    }

    /// <summary>The oldest waiting readings, at most <paramref name="max"/>, in sequence order.</summary>
    public IReadOnlyList<SequencedReading> Peek(int max)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT seq, channel, ts, value, unit, quality FROM outbox ORDER BY seq LIMIT $n";
            cmd.Parameters.AddWithValue("$n", max);
            using var r = cmd.ExecuteReader();
            var list = new List<SequencedReading>(Math.Min(max, 1024));
            while (r.Read())
            {
                list.Add(new SequencedReading(r.GetInt64(0), new Reading(r.GetString(1),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.IsDBNull(3) ? null : r.GetDouble(3),
                    r.GetString(4), (Quality)r.GetInt32(5))));
            }

            return list;
        }
    }

    /// <summary>Removes readings the aggregator acknowledged.</summary>
    public void Acknowledge(IReadOnlyList<SequencedReading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            var removed = DeleteSequences(readings, tx);
            tx.Commit();
            _count -= removed;
        }
    }

    /// <summary>
    /// Moves readings the aggregator will never accept (it answered "payload format invalid") aside, so they stop
    /// blocking the queue but stay on the card for a technician to inspect.
    /// </summary>
    public void DeadLetter(IReadOnlyList<SequencedReading> readings, string reason)
    {
        ArgumentNullException.ThrowIfNull(readings);
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            using (var cmd = _db.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = """
                    INSERT OR REPLACE INTO dead_letter(seq, channel, ts, value, unit, quality, reason)
                    SELECT seq, channel, ts, value, unit, quality, $r FROM outbox WHERE seq BETWEEN $a AND $b
                    """;
                cmd.Parameters.AddWithValue("$r", reason);
                cmd.Parameters.AddWithValue("$a", readings.Min(r => r.Sequence));
                cmd.Parameters.AddWithValue("$b", readings.Max(r => r.Sequence));
                cmd.ExecuteNonQuery();
            }

            var removed = DeleteSequences(readings, tx);
            tx.Commit();
            _count -= removed;
        }
    }

    /// <summary>How many readings were set aside as undeliverable.</summary>
    public long DeadLetterCount()
    {
        lock (_lock)
        {
            return Scalar("SELECT count(*) FROM dead_letter");
        }
    }

    public void Dispose()
    {
        _insert.Dispose();
        _db.Dispose();
    }

    private int DeleteSequences(IReadOnlyList<SequencedReading> readings, SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM outbox WHERE seq = $s";
        var p = cmd.Parameters.Add(new SqliteParameter("$s", null));
        var removed = 0;
        foreach (var r in readings)
        {
            p.Value = r.Sequence;
            removed += cmd.ExecuteNonQuery();
        }

        return removed;
    }

    private string LoadOrCreateStreamId()
    {
        using var tx = _db.BeginTransaction();
        using var get = _db.CreateCommand();
        get.Transaction = tx;
        get.CommandText = "SELECT value FROM meta WHERE key = 'stream'";
        if (get.ExecuteScalar() is string existing)
        {
            return existing;
        }

        // 12 base-36 characters: 62 bits of randomness, enough that two outboxes of one gateway never collide.
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        var id = string.Create(12, 0, static (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            }
        });
        using var put = _db.CreateCommand();
        put.Transaction = tx;
        put.CommandText = "INSERT INTO meta(key, value) VALUES ('stream', $v)";
        put.Parameters.AddWithValue("$v", id);
        put.ExecuteNonQuery();
        tx.Commit();
        return id;
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private long Scalar(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }
}
