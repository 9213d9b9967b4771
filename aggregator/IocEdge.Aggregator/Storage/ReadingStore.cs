using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// What one commit did with the readings it was given. <paramref name="Future"/>, <paramref name="TooOld"/> and
/// <paramref name="BeforeEpoch"/> count the stored readings whose device timestamp was flagged (contract §4.3).
/// </summary>
public readonly record struct StoreResult(int Stored, int Duplicates, int Future = 0, int TooOld = 0, int BeforeEpoch = 0, int ClockUntrusted = 0);

/// <summary>Per gateway, how many stored readings (and status messages) carried a flagged device timestamp (contract §4.3).</summary>
public sealed record TimestampCounts(long Future, long TooOld, long BeforeEpoch, long ClockUntrusted = 0);

/// <summary>One stored reading as the history API shows it.</summary>
public sealed record StoredReading(long Sequence, DateTimeOffset Timestamp, double? Value, string Unit, Quality Quality,
    TimestampStatus TimestampStatus, DateTimeOffset ReceivedAt);

/// <summary>The latest value of one channel, as the IOC sees it.</summary>
public sealed record LatestReading(string Gateway, string Channel, DateTimeOffset Timestamp, double? Value, string Unit,
    Quality Quality, long Sequence, DateTimeOffset ReceivedAt);

/// <summary>
/// What the aggregator knows of one gateway. <paramref name="Health"/> is the raw JSON object of the latest status that
/// carried one (contract §5), received at <paramref name="HealthAt"/> (aggregator clock); a status without one (such as
/// the offline will) keeps the previous health.
/// </summary>
public sealed record GatewayInfo(string Gateway, string State, DateTimeOffset? StatusAt, string? Software, long? OutboxPending,
    DateTimeOffset? LastSeen, long Readings, long Duplicates, int Channels, TimestampCounts TimestampsFlagged,
    string? Health = null, DateTimeOffset? HealthAt = null);

/// <summary>
/// The aggregator's SQLite store. Readings are keyed by (gateway, stream, seq): inserting a key that is already there
/// does nothing, which is what makes a redelivered message harmless (contract §4.1). Each channel is a row of
/// <c>series</c> that also holds its latest value, so "latest" is one small table scan whatever the history length.
/// Every reading is stored with its <c>ts_status</c> (contract §4.3): one whose device timestamp is implausible is kept
/// but never becomes the channel's latest value.
/// </summary>
/// <remarks>
/// One writer (the ingest loop) owns the write connection; readers open their own pooled connections (WAL lets them
/// read while the writer commits). synchronous=FULL: a reading is on disk before its PUBACK leaves.
/// </remarks>
public sealed class ReadingStore : IReadingStore
{
    private const string Schema = """
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS streams(
            id INTEGER PRIMARY KEY,
            gateway TEXT NOT NULL,
            stream TEXT NOT NULL,
            UNIQUE(gateway, stream));
        CREATE TABLE IF NOT EXISTS series(
            id INTEGER PRIMARY KEY,
            gateway TEXT NOT NULL,
            channel TEXT NOT NULL,
            unit TEXT NOT NULL,
            last_ts INTEGER,
            last_value REAL,
            last_quality INTEGER,
            last_seq INTEGER,
            last_received INTEGER,
            UNIQUE(gateway, channel));
        CREATE TABLE IF NOT EXISTS readings(
            stream_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            series_id INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            value REAL,
            quality INTEGER NOT NULL,
            received INTEGER NOT NULL,
            ts_status INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY(stream_id, seq)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS readings_series_ts ON readings(series_id, ts);
        CREATE TABLE IF NOT EXISTS gateways(
            gateway TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'unknown',
            status_ts INTEGER,
            software TEXT,
            outbox_pending INTEGER,
            last_seen INTEGER,
            readings INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            ts_future INTEGER NOT NULL DEFAULT 0,
            ts_too_old INTEGER NOT NULL DEFAULT 0,
            ts_before_epoch INTEGER NOT NULL DEFAULT 0,
            ts_clock_untrusted INTEGER NOT NULL DEFAULT 0,
            health TEXT,
            health_at INTEGER);
        """;

    // Columns added after the first release: a store created by an older aggregator gains them on open.
    private static readonly (string Table, string Column, string Definition)[] AddedColumns =
    [
        ("readings", "ts_status", "INTEGER NOT NULL DEFAULT 0"),
        ("gateways", "ts_future", "INTEGER NOT NULL DEFAULT 0"),
        ("gateways", "ts_too_old", "INTEGER NOT NULL DEFAULT 0"),
        ("gateways", "ts_before_epoch", "INTEGER NOT NULL DEFAULT 0"),
        ("gateways", "ts_clock_untrusted", "INTEGER NOT NULL DEFAULT 0"),
        ("gateways", "health", "TEXT"),
        ("gateways", "health_at", "INTEGER"),
    ];

    private readonly string _connectionString;
    private readonly ILogger _logger;
    private readonly TimestampPolicy _timestamps;
    private readonly SqliteConnection _writer;
    private readonly Dictionary<(string Gateway, string Stream), long> _streamIds = [];
    private readonly Dictionary<(string Gateway, string Channel), (long Id, string Unit)> _series = [];
    private readonly SqliteCommand _insertReading;
    private readonly SqliteCommand _updateLatest;

    /// <param name="databasePath">The SQLite file; its folder is created if missing.</param>
    /// <param name="logger">Where unit changes and the opening are logged.</param>
    /// <param name="timestamps">The device-timestamp rule (contract §4.3); <see cref="TimestampPolicy.Default"/> when null.</param>
    public ReadingStore(string databasePath, ILogger<ReadingStore> logger, TimestampPolicy? timestamps = null)
    {
        ArgumentNullException.ThrowIfNull(databasePath);
        _logger = logger;
        _timestamps = timestamps ?? TimestampPolicy.Default;
        var dir = Path.GetDirectoryName(Path.GetFullPath(databasePath));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Execute(_writer, Schema);
        AddMissingColumns(_writer);
        Execute(_writer, "PRAGMA synchronous=FULL;");

        _insertReading = _writer.CreateCommand();
        _insertReading.CommandText = """
            INSERT INTO readings(stream_id, seq, series_id, ts, value, quality, received, ts_status)
            VALUES ($stream, $seq, $series, $ts, $value, $quality, $received, $ts_status)
            ON CONFLICT DO NOTHING
            """;
        foreach (var p in new[] { "$stream", "$seq", "$series", "$ts", "$value", "$quality", "$received", "$ts_status" })
        {
            _insertReading.Parameters.Add(new SqliteParameter(p, null));
        }

        _updateLatest = _writer.CreateCommand();
        _updateLatest.CommandText = """
            UPDATE series SET last_ts=$ts, last_value=$value, last_quality=$quality, last_seq=$seq, last_received=$received
            WHERE id=$series AND (last_ts IS NULL OR last_ts < $ts OR (last_ts = $ts AND last_seq < $seq))
            """;
        foreach (var p in new[] { "$series", "$ts", "$value", "$quality", "$seq", "$received" })
        {
            _updateLatest.Parameters.Add(new SqliteParameter(p, null));
        }

        logger.StoreOpened(databasePath);
    }

    /// <summary>
    /// Stores every batch in one transaction. Returns, per batch, how many readings were new, how many were
    /// already stored and how many new ones had a flagged device timestamp (judged against
    /// <paramref name="receivedAt"/>, contract §4.3; those are stored but never become a channel's latest).
    /// Throws (and stores nothing) when the database cannot be written (disk full, I/O error).
    /// </summary>
    public StoreResult[] Store(IReadOnlyList<ReadingBatch> batches, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var results = new StoreResult[batches.Count];
        var received = receivedAt.ToUnixTimeMilliseconds();
        using var tx = _writer.BeginTransaction();
        _insertReading.Transaction = tx;
        _updateLatest.Transaction = tx;
        // The newest stored reading of each series in this commit: its latest value is written once per commit, not
        // once per reading.
        var newest = new Dictionary<long, (long Ts, long Seq, object Value, int Quality)>();
        try
        {
            for (var b = 0; b < batches.Count; b++)
            {
                var batch = batches[b];
                var streamId = StreamId(batch.GatewayId, batch.StreamId, tx);
                int stored = 0, duplicates = 0;
                var flagged = new int[5];
                foreach (var sr in batch.Readings)
                {
                    var (seq, r) = sr;
                    var seriesId = SeriesId(batch.GatewayId, r.Channel, r.Unit, tx);
                    var ts = r.Timestamp.ToUnixTimeMilliseconds();
                    var tsStatus = _timestamps.Classify(r.Timestamp, receivedAt);
                    if (tsStatus == TimestampStatus.Ok && sr.ClockUntrusted)
                    {
                        tsStatus = TimestampStatus.ClockUntrusted; // §4.4: the gateway says its clock was wrong
                    }

                    object value = r.Value is { } v ? v : DBNull.Value;
                    var ps = _insertReading.Parameters;
                    ps[0].Value = streamId;
                    ps[1].Value = seq;
                    ps[2].Value = seriesId;
                    ps[3].Value = ts;
                    ps[4].Value = value;
                    ps[5].Value = (int)r.Quality;
                    ps[6].Value = received;
                    ps[7].Value = (int)tsStatus;
                    if (_insertReading.ExecuteNonQuery() == 0)
                    {
                        duplicates++;
                        continue;
                    }

                    stored++;
                    flagged[(int)tsStatus]++;
                    if (tsStatus != TimestampStatus.Ok)
                    {
                        // Kept for the record, but a clock that was wrong must not put 1970 or 2099 in front of the IOC.
                        continue;
                    }

                    if (!newest.TryGetValue(seriesId, out var n) || n.Ts < ts || (n.Ts == ts && n.Seq < seq))
                    {
                        newest[seriesId] = (ts, seq, value, (int)r.Quality);
                    }
                }

                using var gw = _writer.CreateCommand();
                gw.Transaction = tx;
                gw.CommandText = """
                    INSERT INTO gateways(gateway, last_seen, readings, duplicates, ts_future, ts_too_old, ts_before_epoch, ts_clock_untrusted)
                    VALUES ($g, $t, $n, $d, $f, $o, $e, $u)
                    ON CONFLICT(gateway) DO UPDATE SET last_seen=max(coalesce(last_seen, 0), $t),
                        readings=readings+$n, duplicates=duplicates+$d,
                        ts_future=ts_future+$f, ts_too_old=ts_too_old+$o, ts_before_epoch=ts_before_epoch+$e,
                        ts_clock_untrusted=ts_clock_untrusted+$u
                    """;
                gw.Parameters.AddWithValue("$g", batch.GatewayId);
                gw.Parameters.AddWithValue("$t", received);
                gw.Parameters.AddWithValue("$n", stored);
                gw.Parameters.AddWithValue("$d", duplicates);
                gw.Parameters.AddWithValue("$f", flagged[(int)TimestampStatus.Future]);
                gw.Parameters.AddWithValue("$o", flagged[(int)TimestampStatus.TooOld]);
                gw.Parameters.AddWithValue("$e", flagged[(int)TimestampStatus.BeforeEpoch]);
                gw.Parameters.AddWithValue("$u", flagged[(int)TimestampStatus.ClockUntrusted]);
                gw.ExecuteNonQuery();
                results[b] = new StoreResult(stored, duplicates, flagged[(int)TimestampStatus.Future],
                    flagged[(int)TimestampStatus.TooOld], flagged[(int)TimestampStatus.BeforeEpoch], flagged[(int)TimestampStatus.ClockUntrusted]);
            }

            foreach (var (seriesId, n) in newest)
            {
                // The statement's own condition keeps a newer value already stored by an earlier commit.
                var us = _updateLatest.Parameters;
                us[0].Value = seriesId;
                us[1].Value = n.Ts;
                us[2].Value = n.Value;
                us[3].Value = n.Quality;
                us[4].Value = n.Seq;
                us[5].Value = received;
                _updateLatest.ExecuteNonQuery();
            }

            tx.Commit();
            return results;
        }
        catch
        {
            // The transaction rolled back: forget ids that were allocated inside it.
            _streamIds.Clear();
            _series.Clear();
            throw;
        }
    }

    /// <summary>
    /// Records a gateway's status message (or its disconnection, with <paramref name="status"/> offline). A status whose
    /// device timestamp is flagged (contract §4.3) is recorded at <paramref name="receivedAt"/> instead, and counted
    /// in the gateway's flagged timestamps. <paramref name="healthJson"/> (the status's health object, contract §5)
    /// replaces the gateway's stored health when given; null keeps the previous one.
    /// </summary>
    public void RecordStatus(GatewayStatus status, DateTimeOffset receivedAt, string? healthJson = null)
    {
        ArgumentNullException.ThrowIfNull(status);
        var tsStatus = _timestamps.Classify(status.Timestamp, receivedAt);
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = """
            INSERT INTO gateways(gateway, state, status_ts, software, outbox_pending, ts_future, ts_too_old, ts_before_epoch,
                health, health_at)
            VALUES ($g, $s, $t, $sw, $p, $f, $o, $e, $h, CASE WHEN $h IS NULL THEN NULL ELSE $ha END)
            ON CONFLICT(gateway) DO UPDATE SET state=$s, status_ts=$t, software=coalesce($sw, software),
                outbox_pending=coalesce($p, outbox_pending),
                health=coalesce($h, health), health_at=CASE WHEN $h IS NULL THEN health_at ELSE $ha END,
                ts_future=ts_future+$f, ts_too_old=ts_too_old+$o, ts_before_epoch=ts_before_epoch+$e
            """;
        cmd.Parameters.AddWithValue("$g", status.GatewayId);
        cmd.Parameters.AddWithValue("$s", status.State == GatewayState.Online ? "online" : "offline");
        cmd.Parameters.AddWithValue("$t", (tsStatus == TimestampStatus.Ok ? status.Timestamp : receivedAt).ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$f", tsStatus == TimestampStatus.Future ? 1 : 0);
        cmd.Parameters.AddWithValue("$o", tsStatus == TimestampStatus.TooOld ? 1 : 0);
        cmd.Parameters.AddWithValue("$e", tsStatus == TimestampStatus.BeforeEpoch ? 1 : 0);
        cmd.Parameters.AddWithValue("$sw", (object?)status.Software ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$p", (object?)status.OutboxPending ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$h", (object?)healthJson ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$ha", receivedAt.ToUnixTimeMilliseconds());
        cmd.ExecuteNonQuery();
    }

    public IReadOnlyList<LatestReading> Latest(string? gateway = null)
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT gateway, channel, last_ts, last_value, unit, last_quality, last_seq, last_received
            FROM series WHERE last_ts IS NOT NULL AND ($g IS NULL OR gateway = $g)
            ORDER BY gateway, channel
            """;
        cmd.Parameters.AddWithValue("$g", (object?)gateway ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<LatestReading>();
        while (r.Read())
        {
            list.Add(new LatestReading(r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                r.IsDBNull(3) ? null : r.GetDouble(3), r.GetString(4), (Quality)r.GetInt32(5), r.GetInt64(6),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7))));
        }

        return list;
    }

    public IReadOnlyList<GatewayInfo> Gateways()
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT g.gateway, g.state, g.status_ts, g.software, g.outbox_pending, g.last_seen, g.readings, g.duplicates,
                   (SELECT count(*) FROM series s WHERE s.gateway = g.gateway), g.ts_future, g.ts_too_old, g.ts_before_epoch,
                   g.health, g.health_at, g.ts_clock_untrusted
            FROM gateways g ORDER BY g.gateway
            """;
        using var r = cmd.ExecuteReader();
        var list = new List<GatewayInfo>();
        while (r.Read())
        {
            list.Add(new GatewayInfo(r.GetString(0), r.GetString(1), Time(r, 2), r.IsDBNull(3) ? null : r.GetString(3),
                r.IsDBNull(4) ? null : r.GetInt64(4), Time(r, 5), r.GetInt64(6), r.GetInt64(7), r.GetInt32(8),
                new TimestampCounts(r.GetInt64(9), r.GetInt64(10), r.GetInt64(11), r.GetInt64(14)), r.IsDBNull(12) ? null : r.GetString(12), Time(r, 13)));
        }

        return list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<ChannelInfo> Channels(string? gateway = null)
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT gateway, channel, unit, last_ts FROM series WHERE $g IS NULL OR gateway = $g ORDER BY gateway, channel";
        cmd.Parameters.AddWithValue("$g", (object?)gateway ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<ChannelInfo>();
        while (r.Read())
        {
            list.Add(new ChannelInfo(r.GetString(0), r.GetString(1), r.GetString(2), Time(r, 3)));
        }

        return list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<StoredReading> Range(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, int limit,
        DateTimeOffset? afterTs = null, long? afterSeq = null)
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT r.seq, r.ts, r.value, s.unit, r.quality, r.ts_status, r.received
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.gateway = $g AND s.channel = $c AND r.ts >= $from AND r.ts < $to
              AND ($at IS NULL OR r.ts > $at OR (r.ts = $at AND r.seq > $as))
            ORDER BY r.ts, r.seq LIMIT $n
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        cmd.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$at", afterTs is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value);
        cmd.Parameters.AddWithValue("$as", afterSeq ?? long.MinValue);
        cmd.Parameters.AddWithValue("$n", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredReading>();
        while (r.Read())
        {
            list.Add(new StoredReading(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
                r.IsDBNull(2) ? null : r.GetDouble(2), r.GetString(3), (Quality)r.GetInt32(4), (TimestampStatus)r.GetInt32(5),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6))));
        }

        return list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<HistoryBucket> Buckets(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
    {
        var stepMs = (long)step.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfLessThan(stepMs, 1, nameof(step));
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        // Reduced from the raw readings, oldest first (the rollup tables are the next step for long ranges).
        cmd.CommandText = """
            SELECT r.ts, r.value FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.gateway = $g AND s.channel = $c AND r.ts >= $from AND r.ts < $to
              AND r.quality = $good AND r.ts_status = 0 AND r.value IS NOT NULL
            ORDER BY r.ts, r.seq
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        cmd.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$good", (int)Quality.Good);
        using var r = cmd.ExecuteReader();
        var list = new List<HistoryBucket>();
        long bucket = long.MinValue, count = 0;
        double min = 0, max = 0, sum = 0, last = 0;
        while (r.Read())
        {
            var ts = r.GetInt64(0);
            var v = r.GetDouble(1);
            var b = ts - (((ts % stepMs) + stepMs) % stepMs);
            if (b != bucket)
            {
                if (count > 0)
                {
                    list.Add(new HistoryBucket(DateTimeOffset.FromUnixTimeMilliseconds(bucket), count, min, max, sum / count, last));
                }

                (bucket, count, min, max, sum) = (b, 0, v, v, 0);
            }

            count++;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            last = v;
        }

        if (count > 0)
        {
            list.Add(new HistoryBucket(DateTimeOffset.FromUnixTimeMilliseconds(bucket), count, min, max, sum / count, last));
        }

        return list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<(long Sequence, DateTimeOffset Timestamp, double? Value, Quality Quality)> History(string gateway, string channel)
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT r.seq, r.ts, r.value, r.quality FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.gateway = $g AND s.channel = $c ORDER BY r.ts, r.seq
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        using var r = cmd.ExecuteReader();
        var list = new List<(long, DateTimeOffset, double?, Quality)>();
        while (r.Read())
        {
            list.Add((r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.IsDBNull(2) ? null : r.GetDouble(2),
                (Quality)r.GetInt32(3)));
        }

        return list;
    }

    /// <summary>
    /// The newest <paramref name="limit"/> stored readings of one channel by receive order (newest first), each with
    /// its timestamp status: what GET /api/v1/readings shows. Ordered by receive time and sequence rather than device
    /// time, so a reading stamped 1970 or 2099 still shows where it arrived.
    /// </summary>
    public IReadOnlyList<StoredReading> Readings(string gateway, string channel, int limit)
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT r.seq, r.ts, r.value, s.unit, r.quality, r.ts_status, r.received
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.gateway = $g AND s.channel = $c ORDER BY r.received DESC, r.stream_id DESC, r.seq DESC LIMIT $n
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        cmd.Parameters.AddWithValue("$n", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredReading>();
        while (r.Read())
        {
            list.Add(new StoredReading(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
                r.IsDBNull(2) ? null : r.GetDouble(2), r.GetString(3), (Quality)r.GetInt32(4), (TimestampStatus)r.GetInt32(5),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6))));
        }

        return list;
    }

    /// <summary>How many readings are stored in all (a health figure).</summary>
    public long Count()
    {
        using var c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM readings";
        return (long)cmd.ExecuteScalar()!;
    }

    public void Dispose()
    {
        _insertReading.Dispose();
        _updateLatest.Dispose();
        _writer.Dispose();
    }

    private SqliteConnection OpenReader()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private long StreamId(string gateway, string stream, SqliteTransaction tx)
    {
        if (_streamIds.TryGetValue((gateway, stream), out var id))
        {
            return id;
        }

        using var cmd = _writer.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO streams(gateway, stream) VALUES ($g, $s) ON CONFLICT DO NOTHING;
            SELECT id FROM streams WHERE gateway=$g AND stream=$s;
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$s", stream);
        id = (long)cmd.ExecuteScalar()!;
        _streamIds[(gateway, stream)] = id;
        return id;
    }

    private long SeriesId(string gateway, string channel, string unit, SqliteTransaction tx)
    {
        if (_series.TryGetValue((gateway, channel), out var s) && s.Unit == unit)
        {
            return s.Id;
        }

        using var cmd = _writer.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO series(gateway, channel, unit) VALUES ($g, $c, $u) ON CONFLICT DO NOTHING;
            SELECT id, unit FROM series WHERE gateway=$g AND channel=$c;
            """;
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        cmd.Parameters.AddWithValue("$u", unit);
        long id;
        string stored;
        using (var r = cmd.ExecuteReader())
        {
            r.Read();
            id = r.GetInt64(0);
            stored = r.GetString(1);
        }

        if (stored != unit)
        {
            // A channel's unit changed (a reconfigured instrument). The series keeps one unit: the newest.
            _logger.UnitChanged(gateway, channel, stored, unit);
            using var u = _writer.CreateCommand();
            u.Transaction = tx;
            u.CommandText = "UPDATE series SET unit=$u WHERE id=$id";
            u.Parameters.AddWithValue("$u", unit);
            u.Parameters.AddWithValue("$id", id);
            u.ExecuteNonQuery();
        }

        _series[(gateway, channel)] = (id, unit);
        return id;
    }

    private static DateTimeOffset? Time(SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    private static void AddMissingColumns(SqliteConnection c)
    {
        foreach (var (table, column, definition) in AddedColumns)
        {
            using var probe = c.CreateCommand();
            probe.CommandText = $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = '{column}'";
            if ((long)probe.ExecuteScalar()! == 0)
            {
                Execute(c, $"ALTER TABLE {table} ADD COLUMN {column} {definition}");
            }
        }
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
