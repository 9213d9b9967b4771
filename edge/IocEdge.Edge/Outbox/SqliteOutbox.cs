using System.Security.Cryptography;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
    private readonly ILogger _logger;
    private long _count;
    private long _invalidated;
    private long _deadLettered;

    /// <param name="path">The SQLite file (created with its folder when missing).</param>
    /// <param name="logger">Receives one line per reading set aside by <see cref="Peek"/>; none when null.</param>
    public SqliteOutbox(string path, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        _logger = logger ?? NullLogger.Instance;
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

    /// <summary>The highest sequence number ever given (SQLite's AUTOINCREMENT counter), 0 before the first append.</summary>
    public long LastSequence
    {
        get
        {
            lock (_lock)
            {
                using var cmd = _db.CreateCommand();
                cmd.CommandText = "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'";
                return cmd.ExecuteScalar() is long v ? v : 0;
            }
        }
    }

    /// <summary>A snapshot of the outbox's state for the gateway's health report and the technician's tools.</summary>
    public OutboxHealth Health()
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT min(ts) FROM outbox";
            DateTimeOffset? oldest = cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
            var bytes = new FileInfo(Path) is { Exists: true } f ? f.Length : 0;
            var wal = new FileInfo(Path + "-wal") is { Exists: true } w ? w.Length : 0;
            return new OutboxHealth(StreamId, Count, oldest, bytes + wal, DeadLettered, Invalidated,
                new Dictionary<string, long>(), 0);
        }
    }

    /// <summary>
    /// Readings whose value was not a finite number (NaN, ±infinity) or was missing with a quality that needs one,
    /// stored as quality <c>invalid</c> with a null value by <see cref="Append"/> since this outbox was opened.
    /// </summary>
    public long Invalidated => Interlocked.Read(ref _invalidated);

    /// <summary>
    /// Readings set aside in the dead-letter table since this outbox was opened: rows that break the contract
    /// (found by <see cref="Peek"/>) and batches the aggregator refused (<see cref="DeadLetter"/>).
    /// </summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Raised after readings were appended (the forwarder wakes up on it).</summary>
    public event Action? Appended;

    /// <summary>
    /// Appends readings in one transaction and returns the sequence number given to the last one. This is the boundary
    /// where every source's readings enter the store, so the contract's value rule (README §4, §4.2) is enforced here:
    /// a NaN or ±infinity value, or no value with a quality that needs one, is stored as quality <c>invalid</c> with a
    /// null value (counted in <see cref="Invalidated"/>); a value with comm_failure/device_exception/invalid is dropped.
    /// </summary>
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
            foreach (var given in readings)
            {
                var r = Normalise(given);
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

    /// <summary>
    /// The oldest waiting readings that can be sent, at most <paramref name="max"/>, in sequence order. A row that could
    /// not be encoded as contract v1 (README §4: a non-finite value, a channel id or unit outside the vocabulary, a
    /// quality out of range, a timestamp that is not a time, a value where none belongs) is moved to the dead-letter
    /// table with its reason and logged, so one corrupt row never stops the rows behind it.
    /// </summary>
    public IReadOnlyList<SequencedReading> Peek(int max) => ReadAfter(0, max);

    /// <summary>
    /// The waiting readings with a sequence above <paramref name="afterSequence"/>, at most <paramref name="max"/>, in
    /// sequence order (a sender's cursor: live readings after the backlog's boundary, or the backlog from its cursor).
    /// Rows that cannot be encoded are dead-lettered as in <see cref="Peek"/>.
    /// </summary>
    public IReadOnlyList<SequencedReading> ReadAfter(long afterSequence, int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        lock (_lock)
        {
            var list = new List<SequencedReading>(Math.Min(max, 1024));
            var after = afterSequence;
            while (true)
            {
                var rejected = new List<(long Seq, string Reason)>();
                var rows = 0;
                using (var cmd = _db.CreateCommand())
                {
                    cmd.CommandText = "SELECT seq, channel, ts, value, unit, quality FROM outbox WHERE seq > $a ORDER BY seq LIMIT $n";
                    cmd.Parameters.AddWithValue("$a", after);
                    cmd.Parameters.AddWithValue("$n", max - list.Count);
                    using var r = cmd.ExecuteReader();
                    var values = new object[6];
                    while (r.Read())
                    {
                        rows++;
                        r.GetValues(values);
                        var seq = (long)values[0];
                        after = seq;
                        if (TryRead(values, out var reading, out var reason))
                        {
                            list.Add(new SequencedReading(seq, reading));
                        }
                        else
                        {
                            rejected.Add((seq, reason));
                        }
                    }
                }

                foreach (var (seq, reason) in rejected)
                {
                    MoveToDeadLetter(seq, reason);
                }

                // Rows of this page were set aside: look further, so a run of bad rows neither looks like an empty queue
                // nor shrinks the batch.
                if (rejected.Count == 0 || rows == 0 || list.Count == max)
                {
                    return list;
                }
            }
        }
    }

    /// <summary>
    /// Why <paramref name="reading"/> cannot travel in a contract v1 readings message (README §4, §4.2), or null when it
    /// can. The same rules the aggregator's decoder applies, so a row it would refuse never takes a batch down with it.
    /// </summary>
    public static string? Problem(Reading reading)
    {
        if (!Identifiers.IsValidChannelId(reading.Channel))
        {
            return $"channel '{reading.Channel}' is not a channel id (§4: \"device/point\", lower-case)";
        }

        if (!Identifiers.IsValidUnit(reading.Unit))
        {
            return $"unit '{reading.Unit}' is not a unit of the vocabulary (§4)";
        }

        if (!Enum.IsDefined(reading.Quality))
        {
            return $"quality {(int)reading.Quality} is not a contract quality (§4.2: 0-5)";
        }

        if (reading.Value is { } v && !double.IsFinite(v))
        {
            return $"value {(double.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity")} is not a finite number (§4)";
        }

        var carries = QualityNames.CarriesValue(reading.Quality);
        if (carries && reading.Value is null)
        {
            return $"quality {QualityNames.ToWire(reading.Quality)} needs a value but the value is null (§4)";
        }

        if (!carries && reading.Value is not null)
        {
            return $"quality {QualityNames.ToWire(reading.Quality)} must carry a null value (§4)";
        }

        return null;
    }

    /// <summary>Applies the contract's value rule to a reading entering the outbox (see <see cref="Append"/>).</summary>
    private Reading Normalise(Reading r)
    {
        var carries = QualityNames.CarriesValue(r.Quality);
        if (carries && r.Value is { } v && double.IsFinite(v))
        {
            return r;
        }

        if (!carries)
        {
            return r.Value is null ? r : r with { Value = null };
        }

        // NaN, ±infinity, or null where the quality promises a number: there is no measurement (§4.2 invalid).
        _invalidated++;
        return r with { Value = null, Quality = Quality.Invalid };
    }

    private static bool TryRead(object[] row, out Reading reading, out string reason)
    {
        reading = default;
        if (row[1] is not string channel)
        {
            reason = "channel is not text";
            return false;
        }

        if (row[2] is not long ms || ms < MinUnixMilliseconds || ms > MaxUnixMilliseconds)
        {
            reason = $"timestamp '{row[2]}' is not a time (milliseconds since 1970 from 0001 to 9999)";
            return false;
        }

        double? value;
        switch (row[3])
        {
            case DBNull:
                value = null;
                break;
            case double d:
                value = d;
                break;
            case long l:
                value = l;
                break;
            default:
                reason = $"value '{row[3]}' is not a number";
                return false;
        }

        if (row[4] is not string unit)
        {
            reason = "unit is not text";
            return false;
        }

        if (row[5] is not long q || q is < 0 or > byte.MaxValue)
        {
            reason = $"quality '{row[5]}' is not a contract quality (§4.2: 0-5)";
            return false;
        }

        reading = new Reading(channel, DateTimeOffset.FromUnixTimeMilliseconds(ms), value, unit, (Quality)q);
        reason = Problem(reading)!;
        return reason is null;
    }

    private const long MinUnixMilliseconds = -62_135_596_800_000; // 0001-01-01T00:00:00Z
    private const long MaxUnixMilliseconds = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

    /// <summary>Moves one row to the dead-letter table (caller holds the lock).</summary>
    private void MoveToDeadLetter(long seq, string reason)
    {
        using var tx = _db.BeginTransaction();
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = """
                INSERT OR REPLACE INTO dead_letter(seq, channel, ts, value, unit, quality, reason)
                SELECT seq, channel, ts, value, unit, quality, $r FROM outbox WHERE seq = $s
                """;
            cmd.Parameters.AddWithValue("$r", reason);
            cmd.Parameters.AddWithValue("$s", seq);
            cmd.ExecuteNonQuery();
        }

        using (var del = _db.CreateCommand())
        {
            del.Transaction = tx;
            del.CommandText = "DELETE FROM outbox WHERE seq = $s";
            del.Parameters.AddWithValue("$s", seq);
            _count -= del.ExecuteNonQuery();
        }

        tx.Commit();
        _deadLettered++;
        _logger.RowDeadLettered(seq, reason);
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
    /// blocking the queue but stay on the card for a technician to inspect. Exactly the given sequence numbers move
    /// (not every row between the lowest and the highest).
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
                    SELECT seq, channel, ts, value, unit, quality, $r FROM outbox WHERE seq = $s
                    """;
                cmd.Parameters.AddWithValue("$r", reason);
                var p = cmd.Parameters.Add(new SqliteParameter("$s", null));
                foreach (var r in readings)
                {
                    p.Value = r.Sequence;
                    cmd.ExecuteNonQuery();
                }
            }

            var removed = DeleteSequences(readings, tx);
            tx.Commit();
            _count -= removed;
            _deadLettered += removed;
        }
    }

    /// <summary>The dead-letter table: each set-aside reading's sequence number and the reason, oldest first.</summary>
    public IReadOnlyList<(long Sequence, string Reason)> DeadLetters()
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT seq, reason FROM dead_letter ORDER BY seq";
            using var r = cmd.ExecuteReader();
            var list = new List<(long, string)>();
            while (r.Read())
            {
                list.Add((r.GetInt64(0), r.GetString(1)));
            }

            return list;
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
