using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using System.Diagnostics;
using System.Runtime.InteropServices;
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
/// The aggregator's SQLite store. Readings are keyed by (gateway, stream, seq): a key already stored is not stored
/// again, which is what makes a redelivered message harmless (contract §4.1); each stream's stored sequences are kept as
/// ranges (<c>stored_seqs</c>, one row for a contiguous stream). A commit appends its new readings as one row of
/// <c>journal</c> (<see cref="Journal"/>); every <see cref="FoldInterval"/> (or <see cref="FoldReadings"/> readings) a fold, in slices
/// of whole series between commits (<see cref="FoldSliceReadings"/>), moves them into chunks (<c>chunks</c>, one row per series, stream, minute of device time and run of consecutive
/// commits, packed by <see cref="ChunkCodec"/>), the rollups and each series' latest value, so each series' pages are written once per fold
/// instead of once per commit. Reads merge the journal's readings of their own snapshot: nothing waits to be visible.
/// Each channel is a row of <c>series</c> that also holds its latest value, so "latest" is one small table scan whatever
/// the history length. Every reading is stored with its <c>ts_status</c> (contract §4.3): one whose device timestamp is
/// implausible is kept but never becomes the channel's latest value.
/// </summary>
/// <remarks>
/// One writer (the ingest loop) owns the write connection; readers open their own pooled connections (WAL lets them
/// read while the writer commits). synchronous=FULL: a reading is on disk before its PUBACK leaves.
/// </remarks>
public sealed class ReadingStore : IReadingStore, IStoreRetention
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
        CREATE TABLE IF NOT EXISTS chunks(
            series_id INTEGER NOT NULL,
            minute INTEGER NOT NULL,
            id INTEGER NOT NULL,
            stream_id INTEGER NOT NULL,
            received INTEGER NOT NULL,
            n INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY(series_id, minute, id)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS chunks_receive ON chunks(series_id, id);
        CREATE TABLE IF NOT EXISTS journal(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            received INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS fold(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            upto INTEGER NOT NULL,
            series_done INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS stored_seqs(
            stream_id INTEGER NOT NULL,
            lo INTEGER NOT NULL,
            hi INTEGER NOT NULL,
            PRIMARY KEY(stream_id, lo)) WITHOUT ROWID;
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
    private long _lastCheckpoint = Stopwatch.GetTimestamp();
    private volatile bool _walWritten;
    private SqliteConnection? _checkpointer;
    private readonly Dictionary<(string Gateway, string Stream), long> _streamIds = [];
    private readonly Dictionary<(string Gateway, string Channel), (long Id, string Unit)> _series = [];
    private readonly RawStatement _updateLatest;
    private readonly ChunkWriter _chunks;
    private readonly SequenceRanges _ranges = new();
    private readonly Rollups _rollups;
    private readonly GatewayUpsert _upsertGateway;
    // The journal: each commit appends one row; folds move its readings into chunks, rollups and latest values.
    private readonly UnfoldedReadings _unfolded = new();
    private readonly HashSet<long> _liveUpTo = [];
    private readonly List<ChunkReading> _decodeScratch = [];
    // The fold in progress as this process last saw it (the series it folds, in order), FoldState.None between folds.
    private FoldState _fold = FoldState.None;
    private long[] _foldSeries = [];
    // The fold worker: slices run there, between commits, never inside one (FoldWorker).
    private Thread? _folder;
    private readonly SemaphoreSlim _foldWake = new(0, 1);
    private int _writersWaiting;
    private long _commits;
    private volatile bool _disposed;
    private readonly RawStatement _insertJournal;
    private readonly RawStatement _deleteJournalUpTo;
    private readonly RawStatement _readFold;
    private readonly RawStatement _writeFold;
    private readonly RawStatement _endFold;
    private readonly RawStatement _dataVersion;
    private long _lastDataVersion = long.MinValue;
    private readonly List<(long Series, long Stream, ChunkReading Reading)> _staged = [];
    private byte[] _journalBuffer = new byte[64 * 1024];
    // Per commit: each gateway's counters (written once per commit).
    private readonly Dictionary<string, GatewayTally> _gatewayTally = new(StringComparer.Ordinal);
    // The write connection is used by the ingest loop (Store, RecordStatus) and the retention loop (Prune), one at a time.
    private readonly Lock _writeLock = new();
    private readonly Dictionary<StoreTable, long> _pruneCursor = [];

    /// <param name="databasePath">The SQLite file; its folder is created if missing.</param>
    /// <param name="logger">Where unit changes and the opening are logged.</param>
    /// <param name="timestamps">The device-timestamp rule (contract §4.3); <see cref="TimestampPolicy.Default"/> when null.</param>
    /// <param name="migrationProgress">
    /// Called while a store of the row-per-reading layout is moved into chunks at opening, with the readings moved so
    /// far (before the first 50,000 and after each); never called for a store already in chunks.
    /// </param>
    public ReadingStore(string databasePath, ILogger<ReadingStore> logger, TimestampPolicy? timestamps = null,
        Action<long>? migrationProgress = null)
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

        _writer = OpenOrQuarantine(databasePath);
        // synchronous=FULL in WAL: every commit's WAL frames are fsynced before COMMIT returns, so a PUBACK (sent after
        // Store returns) never precedes durability. cache_size -16384 = 16 MiB of page cache for the writer (SQLite's
        // default is 2 MiB): the readings and history-index B-trees' upper levels stay in memory.
        Execute(_writer, "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;");
        // Checkpoints by time, not after every commit: SQLite's automatic checkpoint (after a commit passes 1,000 WAL
        // pages) copied a page that every commit dirties (a series' newest chunk, its rollup row) into the database file
        // after every commit; once every CheckpointInterval it is copied once (Checkpoint). journal_size_limit
        // truncates the reset WAL file to 64 MiB (sqlite.org/pragma.html#pragma_journal_size_limit).
        Execute(_writer, "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;");
        _chunks = new ChunkWriter(_writer);
        if (LegacyReadings.Migrate(_writer, _chunks, _ranges, migrationProgress) is var migrated and > 0)
        {
            logger.LegacyReadingsMigrated(migrated);
        }

        _rollups = new Rollups(_writer);
        _upsertGateway = new GatewayUpsert(_writer);

        // Prepared once and bound directly (RawStatement): one execution per series and commit, the SqliteCommand path
        // with its boxed parameters cost ~4 µs each (the "latest" section of ingest-load --profile).
        _updateLatest = new RawStatement(_writer, """
            UPDATE series SET last_ts=?2, last_value=?3, last_quality=?4, last_seq=?5, last_received=?6
            WHERE id=?1 AND (last_ts IS NULL OR last_ts < ?2 OR (last_ts = ?2 AND last_seq < ?5))
            """);
        _insertJournal = new RawStatement(_writer, "INSERT INTO journal(received, data) VALUES (?1, ?2) RETURNING id");
        _deleteJournalUpTo = new RawStatement(_writer, "DELETE FROM journal WHERE id <= ?1");
        _readFold = new RawStatement(_writer, ReadFoldSql);
        _writeFold = new RawStatement(_writer, "INSERT OR REPLACE INTO fold(id, upto, series_done) VALUES (1, ?1, ?2)");
        _endFold = new RawStatement(_writer, "DELETE FROM fold");
        _dataVersion = new RawStatement(_writer, "PRAGMA data_version");

        // What the last run committed but had not folded (a kill, a power cut): folded now, before anything is served.
        if (FoldJournalAtOpen() is var (rows, readings) and (> 0, _))
        {
            logger.JournalFolded(readings, rows);
        }

        logger.StoreOpened(databasePath);
    }

    /// <summary>
    /// How long committed readings may wait in the journal before they are folded into chunks, rollups and latest values
    /// (after the commit that finds this much time has passed). At 1 Hz a fold writes each series' pages once for this many
    /// readings instead of once per commit; reads merge the unfolded readings, so nothing waits to be visible.
    /// </summary>
    public static readonly TimeSpan FoldInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The journal is folded as soon as it holds this many readings, whatever <see cref="FoldInterval"/> says: the
    /// in-memory index costs ~56 bytes a reading (14 MB at this figure).
    /// </summary>
    public const int FoldReadings = 250_000;

    /// <summary>
    /// A commit is refused (nothing stored; its senders retry) while this many readings wait unfolded and a fold fails:
    /// the in-memory index stays bounded (~56 MB) on a disk that takes journal rows but not folds.
    /// </summary>
    public const int MaxUnfoldedReadings = 4 * FoldReadings;

    /// <summary>
    /// A fold works in slices of whole series, each its own transaction, of at least this many readings: a commit waits
    /// for one slice (~0.8 µs a reading: ~13 ms), never for a whole fold (a quarter of a second at
    /// <see cref="FoldReadings"/>). Between commits the fold thread runs slice after slice; when commits come faster than
    /// slices fold (a backlog drained at hundreds of thousands of readings a second), the unfolded readings grow until
    /// <see cref="MaxUnfoldedReadings"/>, where a commit folds everything first: the same work, in one pause.
    /// </summary>
    public const int FoldSliceReadings = 16_384;

    /// <summary>Tests only: this store's fold interval (<see cref="FoldInterval"/> in the service).</summary>
    internal TimeSpan FoldEvery { get; init; } = FoldInterval;

    /// <summary>Tests only: this store's backstop (<see cref="MaxUnfoldedReadings"/> in the service).</summary>
    internal int MaxUnfolded { get; init; } = MaxUnfoldedReadings;

    /// <summary>Tests only: readings of at least this many per slice (<see cref="FoldSliceReadings"/> in the service).</summary>
    internal int FoldSlice { get; init; } = FoldSliceReadings;

    /// <summary>
    /// Readings committed to the journal and not yet folded into chunks by this instance (gauge; at most
    /// <see cref="MaxUnfoldedReadings"/>).
    /// </summary>
    public int UnfoldedReadings => _unfolded.Count;

    /// <summary>
    /// Commits that found <see cref="MaxUnfoldedReadings"/> waiting and folded them all first: the fold fell behind the
    /// ingest, and ingest paused for a whole fold (counter; 0 in a service that keeps up).
    /// </summary>
    public long BackstopFolds => Interlocked.Read(ref _backstopFolds);

    private long _backstopFolds;

    /// <summary>Tests only: folds now, to the end, what this instance holds unfolded (<see cref="FoldAllLocked"/>).</summary>
    internal void Fold()
    {
        lock (_writeLock)
        {
            FoldAllLocked();
        }
    }

    /// <summary>Tests only: one slice of a fold (<see cref="FoldSliceLocked"/>); true when it ended the fold.</summary>
    internal bool FoldOneSlice()
    {
        lock (_writeLock)
        {
            return FoldSliceLocked(FoldSlice);
        }
    }

    private (int Rows, int Readings) FoldJournalAtOpen()
    {
        var rows = 0;
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = "SELECT id, received, data FROM journal ORDER BY id";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                AddJournalRow(r.GetInt64(0), r.GetInt64(1), r.GetFieldValue<byte[]>(2));
                rows++;
            }
        }

        var readings = _unfolded.Count;
        lock (_writeLock)
        {
            FoldAllLocked();
        }

        return (rows, readings);
    }

    private void AddJournalRow(long id, long received, byte[] data)
    {
        _staged.Clear();
        Journal.Decode(data, received, null, _decodeScratch, (series, stream, reading) => _staged.Add((series, stream, reading)));
        _unfolded.Add(id, received, _staged);
        _staged.Clear();
    }

    // True when a fold should run now: one is in progress, or the journal holds FoldReadings, or its oldest row is
    // FoldEvery old.
    private bool FoldDue() =>
        _fold != FoldState.None || _unfolded.Count >= FoldReadings ||
        (_unfolded.Count > 0 && Stopwatch.GetElapsedTime(_unfolded.FirstAdded) >= FoldEvery);

    // After a commit: wakes the fold thread when a fold is due, or when the journal was empty or the WAL checkpointed
    // (the thread then sleeps until the new rows are FoldEvery old or the checkpoint is due, so both happen also when
    // no further commit comes).
    private void WakeFolder(bool wasEmpty)
    {
        if (_folder is null)
        {
            _folder = new Thread(FoldWorker) { IsBackground = true, Name = "iocedge-store-fold" };
            _folder.Start();
        }

        if ((wasEmpty || FoldDue()) && _foldWake.CurrentCount == 0)
        {
            try
            {
                _foldWake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Woken already.
            }
        }
    }

    // The fold worker: sleeps until a fold is due, then folds slice by slice, each under the write lock, letting a waiting
    // commit in between slices. A failed slice is logged and retried after a second; the commits stand (they are in the
    // journal), and a commit is refused only once MaxUnfoldedReadings wait.
    private void FoldWorker()
    {
        while (!_disposed)
        {
            _foldWake.Wait(UntilDue());
            try
            {
                while (!_disposed)
                {
                    var worked = false;
                    if (CheckpointDue())
                    {
                        Checkpoint();
                        worked = true;
                    }

                    lock (_writeLock)
                    {
                        if (!_disposed && FoldDue())
                        {
                            var mark = _timings is null ? 0 : Stopwatch.GetTimestamp();
                            FoldSliceLocked(FoldSlice);
                            _timings?.Lap(StoreSection.Fold, mark);
                            worked = true;
                        }
                    }

                    if (!worked)
                    {
                        break;
                    }

                    LetWaitingCommitIn();
                }
            }
            catch (Exception ex)
            {
                // The worker must never stop: a disk that refuses the fold now may take it later.
                _logger.FoldFailed(ex, _unfolded.Count);
                _foldWake.Wait(TimeSpan.FromSeconds(1));
            }
        }
    }

    // How long the fold thread may sleep: until the oldest unfolded row is FoldEvery old, or the next checkpoint is due.
    private TimeSpan UntilDue()
    {
        lock (_writeLock)
        {
            if (FoldDue())
            {
                return TimeSpan.Zero;
            }

            var wait = Timeout.InfiniteTimeSpan;
            if (_unfolded.Count > 0 && FoldEvery != TimeSpan.MaxValue)
            {
                wait = FoldEvery - Stopwatch.GetElapsedTime(_unfolded.FirstAdded);
            }

            if (_walWritten)
            {
                var checkpoint = CheckpointEvery - Stopwatch.GetElapsedTime(_lastCheckpoint);
                wait = wait == Timeout.InfiniteTimeSpan || checkpoint < wait ? checkpoint : wait;
            }

            return wait == Timeout.InfiniteTimeSpan || wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
    }

    // A lock is not fair: released and taken again at once, it could keep a waiting commit out for a whole fold. When a
    // commit waits, the worker lets it through before its next slice (for at most 100 ms).
    private void LetWaitingCommitIn()
    {
        if (Volatile.Read(ref _writersWaiting) == 0)
        {
            return;
        }

        var commits = Interlocked.Read(ref _commits);
        var since = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _writersWaiting) > 0 && Interlocked.Read(ref _commits) == commits &&
               Stopwatch.GetElapsedTime(since) < TimeSpan.FromMilliseconds(100))
        {
            Thread.Yield();
        }
    }

    /// <summary>
    /// Folds, to the end, the fold in progress and every journal row the index holds (under the write lock: at opening,
    /// at disposal, before retention, and in a commit that finds <see cref="MaxUnfoldedReadings"/> waiting). Throws
    /// <see cref="SqliteException"/> when a slice cannot be written; what was folded before stays folded.
    /// </summary>
    private void FoldAllLocked()
    {
        while (_unfolded.Count > 0 || _fold != FoldState.None)
        {
            FoldSliceLocked(int.MaxValue);
        }
    }

    // The fold in progress (FoldState), as the writer's slices and every reader's snapshot read it.
    private const string ReadFoldSql = "SELECT upto, series_done FROM fold WHERE id = 1";

    private FoldState ReadFoldState()
    {
        try
        {
            return _readFold.Step() ? new FoldState(_readFold.ColumnInt64(0), _readFold.ColumnInt64(1)) : FoldState.None;
        }
        finally
        {
            _readFold.Reset();
        }
    }

    /// <summary>
    /// One slice of a fold, in one transaction: starts a fold over every journal row when none is in progress (table
    /// <c>fold</c>: the highest journal id it covers), adopts the rows of that range the index does not hold (another
    /// aggregator's on the same file), then moves the readings of the next series (ascending id, whole series, at least
    /// <paramref name="minReadings"/> readings) from those rows into chunks (<see cref="FoldSeries"/>), the 1-minute and
    /// 1-hour rollups and the series' latest values, and records the last series done. The slice that reaches the last
    /// series deletes the fold's journal rows and ends it. Returns true when this slice ended a fold. The state lives in
    /// the file, so after a kill the next opening goes on where the last committed slice stopped (no reading folded twice),
    /// and so do two stores sharing the file (each slice reads it in its own write transaction).
    /// </summary>
    /// <remarks>
    /// A slice is written with synchronous=NORMAL (no fsync of its own): it only moves readings that the journal already
    /// holds durably, and the next commit's fsync (synchronous=FULL) makes it durable with the commit; a slice lost in a
    /// power cut is folded again from the journal, in the same WAL order.
    /// </remarks>
    private bool FoldSliceLocked(int minReadings)
    {
        Execute(_writer, "PRAGMA synchronous=NORMAL");
        try
        {
            using var tx = _writer.BeginTransaction();
            try
            {
                // Another aggregator on the file (PRAGMA data_version changes when another connection commits,
                // sqlite.org/pragma.html#pragma_data_version) may have written chunks since: the chunk writer's cached
                // last chunk ids are then re-read, or a chunk id could be taken twice and the slice refused.
                if (_dataVersion.Step() && _dataVersion.ColumnInt64(0) is var version && version != _lastDataVersion)
                {
                    _chunks.Reset();
                    _lastDataVersion = version;
                }

                _dataVersion.Reset();
                var fold = ReadFoldState();
                var started = fold == FoldState.None;
                if (started)
                {
                    using var max = _writer.CreateCommand();
                    max.CommandText = "SELECT max(id) FROM journal";
                    if (max.ExecuteScalar() is not long upTo)
                    {
                        // Nothing in the journal: whatever the index holds was folded by another aggregator on the file.
                        tx.Commit();
                        _unfolded.RemoveUpTo(long.MaxValue);
                        _fold = FoldState.None;
                        return true;
                    }

                    fold = new FoldState(upTo, long.MinValue);
                }

                var adopted = AdoptJournalRows(fold.UpTo);
                if (started || adopted || fold.UpTo != _fold.UpTo)
                {
                    _foldSeries = _unfolded.SeriesInOrder();
                }

                // Rows of the fold this index holds that another aggregator folded before it began: skipped.
                var everyRow = _unfolded.RowsUpTo(fold.UpTo) == _liveUpTo.Count;
                _rollups.Clear();
                var next = Array.BinarySearch(_foldSeries, fold.SeriesDone);
                next = next >= 0 ? next + 1 : ~next;
                var folded = 0;
                while (next < _foldSeries.Length && folded < minReadings)
                {
                    folded += FoldSeries(_foldSeries[next++], fold.UpTo, everyRow);
                }

                _rollups.Write();
                var ended = next == _foldSeries.Length;
                if (ended)
                {
                    _deleteJournalUpTo.Bind(1, fold.UpTo);
                    _deleteJournalUpTo.Execute();
                    _endFold.Execute();
                }
                else
                {
                    _writeFold.Bind(1, fold.UpTo);
                    _writeFold.Bind(2, _foldSeries[next - 1]);
                    _writeFold.Execute();
                }

                tx.Commit();
                _walWritten = true;
                if (ended)
                {
                    _unfolded.RemoveUpTo(fold.UpTo);
                    _fold = FoldState.None;
                }
                else
                {
                    _fold = fold with { SeriesDone = _foldSeries[next - 1] };
                }

                return ended;
            }
            catch
            {
                _chunks.Reset();
                _rollups.Reset();
                _updateLatest.Reset();
                _deleteJournalUpTo.Reset();
                _readFold.Reset();
                _writeFold.Reset();
                _endFold.Reset();
                _dataVersion.Reset();
                throw;
            }
        }
        finally
        {
            Execute(_writer, "PRAGMA synchronous=FULL");
        }
    }

    // Inside a slice's transaction: loads the ids of the fold's journal rows (_liveUpTo) and adds to the index those it
    // does not hold (written by another aggregator on the file). True when it added any.
    private bool AdoptJournalRows(long upTo)
    {
        _liveUpTo.Clear();
        List<long>? missing = null;
        using (var ids = _writer.CreateCommand())
        {
            ids.CommandText = "SELECT id FROM journal WHERE id <= $u";
            ids.Parameters.AddWithValue("$u", upTo);
            using var r = ids.ExecuteReader();
            while (r.Read())
            {
                var id = r.GetInt64(0);
                _liveUpTo.Add(id);
                if (!_unfolded.Holds(id))
                {
                    (missing ??= []).Add(id);
                }
            }
        }

        foreach (var id in missing ?? [])
        {
            using var row = _writer.CreateCommand();
            row.CommandText = "SELECT received, data FROM journal WHERE id = $id";
            row.Parameters.AddWithValue("$id", id);
            using var r = row.ExecuteReader();
            if (r.Read())
            {
                AddJournalRow(id, r.GetInt64(0), r.GetFieldValue<byte[]>(1));
            }
        }

        return missing is not null;
    }

    // One chunk per run of consecutive readings (in commit order) of one stream and minute: at 1 Hz, one chunk for all
    // the commits of a fold instead of one per commit. Chunk ids therefore still increase in receive order, and each
    // reading keeps its own receive time (ChunkCodec v2). Folds only the readings of the fold's rows (journal id up to
    // `upTo`, still in the journal); returns how many.
    private int FoldSeries(long series, long upTo, bool everyRow)
    {
        (long Stream, long Minute) run = (long.MinValue, long.MinValue);
        long runReceived = long.MinValue;
        var hasNewest = false;
        PendingReading newest = default;
        var folded = 0;
        // The run's measurements, added to the rollups once per run (one minute: one bucket per level).
        Rollups.Acc measured = default;

        void EndRun()
        {
            if (run.Stream == long.MinValue)
            {
                return;
            }

            _chunks.Flush(runReceived);
            if (measured.Count > 0)
            {
                _rollups.AddRun(series, measured);
                measured = default;
            }
        }

        _unfolded.ForEach(series, p =>
        {
            if (p.JournalId > upTo || (!everyRow && !_liveUpTo.Contains(p.JournalId)))
            {
                return;
            }

            folded++;
            var key = (p.Stream, ChunkCodec.Minute(p.Reading.Ts));
            if (key != run)
            {
                EndRun();
                (run, runReceived) = (key, long.MinValue);
            }

            runReceived = Math.Max(runReceived, p.Reading.Received);

            var r = p.Reading;
            _chunks.Add(series, p.Stream, r);
            // Only readings with a plausible timestamp (contract §4.3) become the latest value or enter a rollup.
            if (r.TsStatus != TimestampStatus.Ok)
            {
                return;
            }

            if (!hasNewest || IsNewer(r, newest.Reading))
            {
                (hasNewest, newest) = (true, p);
            }

            if (r.Quality == Quality.Good && r.Value is { } value && RollupsEnabled)
            {
                // HistoryBucket's rule: only good values with a plausible timestamp are measurements.
                measured.Add(r.Ts, r.Seq, value);
            }
        });

        EndRun();

        if (hasNewest)
        {
            // The statement's own condition keeps a newer value already stored by an earlier fold.
            var n = newest.Reading;
            _updateLatest.Bind(1, series);
            _updateLatest.Bind(2, n.Ts);
            _updateLatest.Bind(3, n.Value);
            _updateLatest.Bind(4, (long)n.Quality);
            _updateLatest.Bind(5, n.Seq);
            _updateLatest.Bind(6, n.Received);
            _updateLatest.Execute();
        }

        return folded;
    }

    /// <summary>
    /// How often the WAL is checkpointed into the database file (by the store's fold thread, when commits came since the
    /// last one), instead of SQLite's automatic checkpoint after every commit past 1,000 WAL pages.
    /// </summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(5);

    /// <summary>Tests only: the checkpoint interval of this store (<see cref="CheckpointInterval"/> in the service).</summary>
    internal TimeSpan CheckpointEvery { get; init; } = CheckpointInterval;

    private bool CheckpointDue() => _walWritten && Stopwatch.GetElapsedTime(_lastCheckpoint) >= CheckpointEvery;

    // On the fold thread, in two steps. First on a connection of its own, without the write lock: PASSIVE copies the WAL's
    // frames into the database file while commits go on (a checkpoint needs no writer lock, sqlite.org/wal.html §
    // "Checkpointing"; after a prefill or a backlog that is ~100-200 ms that a commit, and its PUBACKs and live events,
    // used to wait for). Then under the write lock on the writer's connection: PASSIVE again copies only the frames
    // written meanwhile, so the WAL is wholly backfilled and the next commit starts it from its beginning (a checkpoint
    // that only ever ran beside a busy writer would never let the WAL restart, and it would grow).
    private void Checkpoint()
    {
        _lastCheckpoint = Stopwatch.GetTimestamp();
        _walWritten = false;
        try
        {
            if (_checkpointer is null)
            {
                _checkpointer = new SqliteConnection(_connectionString);
                _checkpointer.Open();
            }

            Execute(_checkpointer, "PRAGMA wal_checkpoint(PASSIVE)");
            lock (_writeLock)
            {
                if (!_disposed)
                {
                    Execute(_writer, "PRAGMA wal_checkpoint(PASSIVE)");
                }
            }
        }
        catch (SqliteException ex)
        {
            // The readings are committed whatever the checkpoint does; the next interval tries again.
            _walWritten = true;
            _logger.CheckpointFailed(ex);
        }
    }

    /// <summary>
    /// Benchmarks only (IngestBenchmarks, ingest-load --no-rollups): false skips the rollups, to measure what they cost.
    /// History from whole minutes or hours is then wrong; never false in the service.
    /// </summary>
    internal bool RollupsEnabled { get; init; } = true;

    /// <summary>Benchmarks only: when set, each commit adds the time of its sections here.</summary>
    internal StoreTimings? Timings
    {
        get => _timings;
        init => _timings = _chunks.Timings = value;
    }

    private readonly StoreTimings? _timings;

    /// <summary>How many unreadable store files this instance moved to quarantine when it opened (0 or 1).</summary>
    public int Quarantined { get; private set; }

    /// <summary>
    /// Opens the store, creating or upgrading its schema. A file SQLite cannot read (a garbage header: SQLITE_NOTADB;
    /// a damaged or truncated B-tree: SQLITE_CORRUPT; a file shorter than its header's page count says) is moved with
    /// its -wal and -shm files to <c>{folder}/quarantine/{name}.{UTC time}</c>, logged and counted
    /// (<see cref="Quarantined"/>), and a fresh store is started in its place: the gateways resend whatever they still
    /// hold. Anything else (SQLITE_FULL on a full disk, SQLITE_CANTOPEN, permissions) is thrown for the caller to
    /// report in one line (AggregatorMain: exit 73).
    /// </summary>
    private SqliteConnection OpenOrQuarantine(string databasePath)
    {
        try
        {
            return OpenWriter(databasePath);
        }
        catch (Exception ex) when (Unreadable(ex) is { } reason)
        {
            SqliteConnection.ClearAllPools();
            var full = Path.GetFullPath(databasePath);
            var folder = Path.Combine(Path.GetDirectoryName(full)!, "quarantine");
            Directory.CreateDirectory(folder);
            var target = Path.Combine(folder, $"{Path.GetFileName(full)}.{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}");
            for (var i = 1; File.Exists(target); i++)
            {
                target = Path.Combine(folder, $"{Path.GetFileName(full)}.{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}.{i}");
            }

            File.Move(full, target);
            foreach (var suffix in new[] { "-wal", "-shm" })
            {
                if (File.Exists(full + suffix))
                {
                    File.Move(full + suffix, target + suffix);
                }
            }

            Quarantined++;
            _logger.StoreQuarantined(full, reason, target);
            return OpenWriter(databasePath);
        }
    }

    /// <summary>
    /// The layout this code writes, kept in the file's <c>PRAGMA user_version</c> (sqlite.org/pragma.html#pragma_user_version;
    /// 0 in a file made before versions were kept, wave 12). A file with a higher version was written by a newer
    /// aggregator and is refused at opening (<see cref="StoreSchemaTooNewException"/>). Raise it with every change an
    /// older aggregator could not read or would undo.
    /// </summary>
    public const int SchemaVersion = 1;

    private static long UserVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return (long)command.ExecuteScalar()!;
    }

    private SqliteConnection OpenWriter(string databasePath)
    {
        CheckLength(databasePath);
        var writer = new SqliteConnection(_connectionString);
        try
        {
            writer.Open();
            var version = UserVersion(writer);
            if (version > SchemaVersion)
            {
                throw new StoreSchemaTooNewException(
                    $"{Path.GetFullPath(databasePath)} has store schema {version}, written by a newer aggregator; this one knows up to {SchemaVersion}");
            }

            Execute(writer, Schema);
            AddMissingColumns(writer);
            using (var probe = writer.CreateCommand())
            {
                probe.CommandText = "SELECT count(*) FROM sqlite_master WHERE name = 'rollup_1m'";
                var hadRollups = (long)probe.ExecuteScalar()! > 0;
                Execute(writer, Rollups.Schema);
                // Only a store of the row-per-reading layout (before chunks) can lack rollups and hold readings.
                if (!hadRollups && LegacyReadings.Exists(writer) && Rollups.Backfill(writer) is var rows and > 0)
                {
                    _logger.RollupsBackfilled(rows);
                }
            }

            // Cheap probes that walk to the last page of each big B-tree: a truncated or damaged tail fails here, at
            // start-up, rather than at the first commit (a full integrity check would take minutes on a large store).
            Execute(writer, """
                SELECT count(*) FROM (SELECT 1 FROM chunks ORDER BY series_id DESC, minute DESC, id DESC LIMIT 1);
                SELECT count(*) FROM (SELECT 1 FROM chunks INDEXED BY chunks_receive ORDER BY series_id DESC, id DESC LIMIT 1);
                SELECT count(*) FROM (SELECT 1 FROM stored_seqs ORDER BY stream_id DESC, lo DESC LIMIT 1);
                SELECT count(*) FROM (SELECT 1 FROM series ORDER BY id DESC LIMIT 1);
                SELECT count(*) FROM (SELECT 1 FROM rollup_1m ORDER BY series_id DESC, bucket DESC LIMIT 1);
                """);
            if (version < SchemaVersion)
            {
                Execute(writer, $"PRAGMA user_version = {SchemaVersion}");
            }

            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    // A file shorter than the page count its header declares (bytes 16-17 page size, 28-31 page count, big-endian;
    // SQLite file format §1.3) lost its tail. Another aggregator sharing the file shows the same for an instant while its
    // checkpoint writes page 1 (the new count) before the pages that extend the file: only a shortfall that is still
    // there after a second is a lost tail (a live store was once quarantined by this race, found by opening a second
    // store 1,314 times beside a checkpointing one).
    private static void CheckLength(string databasePath)
    {
        for (var look = 1; ; look++)
        {
            try
            {
                CheckLengthOnce(databasePath);
                return;
            }
            catch (InvalidDataException) when (look < 10)
            {
                Thread.Sleep(100);
            }
        }
    }

    private static void CheckLengthOnce(string databasePath)
    {
        var info = new FileInfo(databasePath);
        if (!info.Exists || info.Length < 100)
        {
            if (info.Exists && info.Length > 0)
            {
                throw new InvalidDataException($"the file is {info.Length} bytes, shorter than SQLite's 100-byte header");
            }

            return;
        }

        Span<byte> header = stackalloc byte[100];
        using (var f = new FileStream(databasePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            f.ReadExactly(header);
        }

        if (!header[..16].SequenceEqual("SQLite format 3\0"u8))
        {
            return; // SQLite itself reports SQLITE_NOTADB.
        }

        var pageSize = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(header[16..]);
        pageSize = pageSize == 1 ? 65_536 : pageSize;
        var pages = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[28..]);
        if (pages > 0 && pages * pageSize > info.Length)
        {
            throw new InvalidDataException($"the file is {info.Length} bytes, but its header declares {pages} pages of {pageSize} bytes");
        }
    }

    private static string? Unreadable(Exception ex) => ex switch
    {
        SqliteException { SqliteErrorCode: 26 } => "not a database (SQLITE_NOTADB)",
        SqliteException { SqliteErrorCode: 11 } => "damaged (SQLITE_CORRUPT)",
        InvalidDataException => "truncated: " + ex.Message,
        _ => null,
    };

    /// <summary>
    /// Stores every batch in one transaction. Returns, per batch, how many readings were new, how many were
    /// already stored and how many new ones had a flagged device timestamp (judged against
    /// <paramref name="receivedAt"/>, contract §4.3; those are stored but never become a channel's latest nor enter a
    /// rollup). Throws <see cref="SqliteException"/> (and stores nothing) when the database cannot be written (disk
    /// full, I/O error).
    /// </summary>
    /// <remarks>
    /// Per batch: one index seek loads the stream's stored sequence ranges around the message's span (a redelivery,
    /// contract §4.1) and one or two statements write them back extended. Per commit, not per reading: one journal row
    /// (sequential pages) and the gateway counters (one UPSERT per gateway). Per fold (on the fold thread, in slices of whole series
    /// between commits, <see cref="FoldSliceLocked"/>; a slice that fails is logged and retried, the commits stand): the
    /// chunks (<see cref="ChunkWriter"/>), the latest value (one UPDATE per series) and the 1-minute and 1-hour rollups
    /// (one UPSERT per series and bucket, <see cref="Rollups"/>), and at its end the journal rows deleted; a duplicate
    /// (never journalled) adds nothing to them. Throws without storing when <see cref="MaxUnfoldedReadings"/>
    /// wait and the fold it then forces fails.
    /// </remarks>
    public StoreResult[] Store(IReadOnlyList<ReadingBatch> batches, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(batches);
        Interlocked.Increment(ref _writersWaiting);
        lock (_writeLock)
        {
            Interlocked.Decrement(ref _writersWaiting);
            try
            {
                return StoreLocked(batches, receivedAt);
            }
            finally
            {
                Interlocked.Increment(ref _commits);
            }
        }
    }

    private StoreResult[] StoreLocked(IReadOnlyList<ReadingBatch> batches, DateTimeOffset receivedAt)
    {
        var results = new StoreResult[batches.Count];
        var received = receivedAt.ToUnixTimeMilliseconds();
        if (_unfolded.Count >= MaxUnfolded)
        {
            // Folds have failed (or fallen behind) for a while: fold now or refuse this commit (throws), never grow the
            // index without bound.
            _logger.FoldBackstop(_unfolded.Count);
            Interlocked.Increment(ref _backstopFolds);
            FoldAllLocked();
        }

        using var tx = _writer.BeginTransaction();
        _gatewayTally.Clear();
        _staged.Clear();
        try
        {
            var mark = _timings is null ? 0 : Stopwatch.GetTimestamp();
            for (var b = 0; b < batches.Count; b++)
            {
                results[b] = StoreBatch(batches[b], receivedAt, received, tx);
            }

            long journalId = 0;
            var length = _chunks.TakeForJournal(received, ref _journalBuffer, _staged);
            if (_staged.Count > 0)
            {
                _insertJournal.Bind(1, received);
                _insertJournal.Bind(2, _journalBuffer.AsSpan(0, length));
                _insertJournal.Step();
                journalId = _insertJournal.ColumnInt64(0);
                _insertJournal.Reset();
            }

            mark = _timings?.Lap(StoreSection.Messages, mark) ?? 0;
            foreach (var (gateway, t) in _gatewayTally)
            {
                _upsertGateway.Add(gateway, received, t.Stored, t.Duplicates, t.Future, t.TooOld, t.BeforeEpoch, t.ClockUntrusted);
            }

            mark = _timings?.Lap(StoreSection.Gateways, mark) ?? 0;
            tx.Commit();
            _timings?.Lap(StoreSection.Commit, mark);
            var wasEmpty = _unfolded.Count == 0;
            if (_staged.Count > 0)
            {
                _unfolded.Add(journalId, received, _staged);
            }

            // The fold thread folds also when no further commit comes (a quiet hour, the end of a backlog), and
            // checkpoints the WAL this commit wrote.
            var wasCheckpointed = !_walWritten;
            _walWritten = true;
            WakeFolder((wasEmpty && _staged.Count > 0) || wasCheckpointed);
            return results;
        }
        catch
        {
            // The transaction rolled back: forget ids that were allocated inside it.
            _streamIds.Clear();
            _series.Clear();
            _chunks.Reset();
            _staged.Clear();
            _insertJournal.Reset();
            _upsertGateway.Reset();
            throw;
        }
    }

    private StoreResult StoreBatch(ReadingBatch batch, DateTimeOffset receivedAt, long received, SqliteTransaction tx)
    {
        var streamId = StreamId(batch.GatewayId, batch.StreamId, tx);
        var readings = batch.Readings;
        int stored = 0, duplicates = 0, future = 0, tooOld = 0, beforeEpoch = 0, clockUntrusted = 0;
        HashSet<long>? seen = null;
        var increasing = true;
        long min = long.MaxValue, max = long.MinValue;
        for (var i = 0; i < readings.Count; i++)
        {
            var s = readings[i].Sequence;
            (min, max) = (Math.Min(min, s), Math.Max(max, s));
            increasing &= i == 0 || s > readings[i - 1].Sequence;
        }

        // What the stream already holds around this message's span (earlier commits, or earlier in this one).
        if (readings.Count > 0)
        {
            _chunks.LoadRanges(streamId, min, max, _ranges);
        }
        else
        {
            _ranges.Clear();
        }

        if (!increasing)
        {
            // A message that repeats a sequence (or is out of order): each key counts once (contract §4.1).
            seen = [];
        }

        string? lastChannel = null;
        string? lastUnit = null;
        long seriesId = 0;
        for (var i = 0; i < readings.Count; i++)
        {
            var (seq, r) = readings[i];
            if (_ranges.Contains(seq) || (seen is not null && !seen.Add(seq)))
            {
                duplicates++;
                continue;
            }

            if (!string.Equals(r.Channel, lastChannel, StringComparison.Ordinal) || !string.Equals(r.Unit, lastUnit, StringComparison.Ordinal))
            {
                seriesId = SeriesId(batch.GatewayId, r.Channel, r.Unit, tx);
                (lastChannel, lastUnit) = (r.Channel, r.Unit);
            }

            var ts = r.Timestamp.ToUnixTimeMilliseconds();
            var tsStatus = _timestamps.Classify(r.Timestamp, receivedAt);
            if (tsStatus == TimestampStatus.Ok && readings[i].ClockUntrusted)
            {
                tsStatus = TimestampStatus.ClockUntrusted; // §4.4: the gateway says its clock was not trusted then
            }

            _chunks.Add(seriesId, streamId, new ChunkReading(seq, ts, r.Value, r.Quality, tsStatus, received));
            _ranges.Add(seq);
            stored++;
            // Kept for the record, but a clock that was wrong must not put 1970 or 2099 in front of the IOC: the fold
            // keeps a flagged reading out of the latest value and the rollups (FoldSeries).
            switch (tsStatus)
            {
                case TimestampStatus.Future:
                    future++;
                    break;
                case TimestampStatus.TooOld:
                    tooOld++;
                    break;
                case TimestampStatus.BeforeEpoch:
                    beforeEpoch++;
                    break;
                case TimestampStatus.ClockUntrusted:
                    clockUntrusted++;
                    break;
            }
        }

        _chunks.SaveRanges(streamId, _ranges);
        ref var t = ref CollectionsMarshal.GetValueRefOrAddDefault(_gatewayTally, batch.GatewayId, out _);
        t.Stored += stored;
        t.Duplicates += duplicates;
        t.Future += future;
        t.TooOld += tooOld;
        t.BeforeEpoch += beforeEpoch;
        t.ClockUntrusted += clockUntrusted;
        return new StoreResult(stored, duplicates, future, tooOld, beforeEpoch, clockUntrusted);
    }

    /// <inheritdoc/>
    public int Prune(StoreTable table, DateTimeOffset olderThan, int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        var cutoff = olderThan.ToUnixTimeMilliseconds();
        lock (_writeLock)
        {
            // Retention works on chunks and rollups: what waits in the journal goes there first, when any of it could be
            // pruned (a device time before the cutoff, or in the cutoff's widest rollup bucket). A retention pass calls
            // this thousands of times; live readings are newer than any cutoff and wait for their regular fold.
            if (_unfolded.Count > 0 && _unfolded.MinTimestamp < cutoff + Rollups.Levels[^1].StepMs)
            {
                FoldAllLocked();
            }
        }

        if (table == StoreTable.Readings)
        {
            lock (_writeLock)
            {
                return PruneReadings(cutoff, maxRows);
            }
        }

        // Through the series index (series_id first in both keys): one series at a time, never a whole-table scan.
        var sql = table switch
        {
            StoreTable.MinuteRollups => """
                DELETE FROM rollup_1m WHERE series_id = $s AND bucket IN (
                    SELECT bucket FROM rollup_1m WHERE series_id = $s AND bucket < $c LIMIT $n)
                """,
            StoreTable.HourRollups => """
                DELETE FROM rollup_1h WHERE series_id = $s AND bucket IN (
                    SELECT bucket FROM rollup_1h WHERE series_id = $s AND bucket < $c LIMIT $n)
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(table), table, "Not a store table."),
        };
        lock (_writeLock)
        {
            using var ids = _writer.CreateCommand();
            ids.CommandText = "SELECT id FROM series WHERE id > $after ORDER BY id LIMIT 1";
            var after = _pruneCursor.TryGetValue(table, out var a) ? a : 0;
            var deleted = 0;
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            ids.Transaction = tx;
            cmd.CommandText = sql;
            var ps = cmd.Parameters.Add(new SqliteParameter("$s", null));
            cmd.Parameters.AddWithValue("$c", cutoff);
            var pn = cmd.Parameters.Add(new SqliteParameter("$n", null));
            var pa = ids.Parameters.Add(new SqliteParameter("$after", null));
            var wrapped = false;
            // Each series visited costs an index seek: at most maxRows of them per call, too, so a store with many
            // series and nothing to delete still holds the write lock only briefly.
            for (var visits = 0; deleted < maxRows && visits < maxRows; visits++)
            {
                pa.Value = after;
                if (ids.ExecuteScalar() is not long id)
                {
                    if (wrapped || after == 0)
                    {
                        break;
                    }

                    // Every series visited once: start again from the first, once.
                    (after, wrapped) = (0, true);
                    continue;
                }

                ps.Value = id;
                pn.Value = maxRows - deleted;
                var n = cmd.ExecuteNonQuery();
                deleted += n;
                if (deleted < maxRows)
                {
                    after = id;
                }
            }

            tx.Commit();
            _pruneCursor[table] = after;
            return deleted;
        }
    }

    // Raw readings go by device time, and only once they were also received before the cutoff: a reading a wrong clock
    // stamped 1970 (contract §4.3) is kept as long as a plausible one received with it. A chunk wholly before the cutoff's
    // minute goes in one DELETE; one of the cutoff's own minute (or one that the batch limit splits) is rewritten with the
    // readings it keeps. Counts and limits are in readings. The sequence ranges stay: a resend of a pruned reading is
    // still a duplicate (contract §4.1), not a reading stored anew.
    private int PruneReadings(long cutoff, int maxRows)
    {
        var cutoffMinute = ChunkCodec.Minute(cutoff);
        var after = _pruneCursor.TryGetValue(StoreTable.Readings, out var a) ? a : 0;
        var deleted = 0;
        using var tx = _writer.BeginTransaction();
        using var ids = _writer.CreateCommand();
        ids.Transaction = tx;
        ids.CommandText = "SELECT id FROM series WHERE id > $after ORDER BY id LIMIT 1";
        var pa = ids.Parameters.Add(new SqliteParameter("$after", null));
        using var select = _writer.CreateCommand();
        select.Transaction = tx;
        select.CommandText = """
            SELECT minute, id, n, data, received FROM chunks WHERE series_id = $s AND minute <= $h AND received < $c ORDER BY minute, id LIMIT $n
            """;
        var ss = select.Parameters.Add(new SqliteParameter("$s", null));
        select.Parameters.AddWithValue("$h", cutoffMinute);
        select.Parameters.AddWithValue("$c", cutoff);
        var sn = select.Parameters.Add(new SqliteParameter("$n", null));
        using var delete = _writer.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = "DELETE FROM chunks WHERE series_id = $s AND minute = $h AND id = $id";
        using var rewrite = _writer.CreateCommand();
        rewrite.Transaction = tx;
        rewrite.CommandText = "UPDATE chunks SET n = $n, data = $d WHERE series_id = $s AND minute = $h AND id = $id";
        foreach (var p in new[] { "$s", "$h", "$id" })
        {
            delete.Parameters.Add(new SqliteParameter(p, null));
            rewrite.Parameters.Add(new SqliteParameter(p, null));
        }

        rewrite.Parameters.Add(new SqliteParameter("$n", null));
        rewrite.Parameters.Add(new SqliteParameter("$d", null));
        var candidates = new List<(long Minute, long Id, int N, byte[] Data, long Received)>();
        var decoded = new List<ChunkReading>();
        var wrapped = false;
        for (var visits = 0; deleted < maxRows && visits < maxRows; visits++)
        {
            pa.Value = after;
            if (ids.ExecuteScalar() is not long series)
            {
                if (wrapped || after == 0)
                {
                    break;
                }

                (after, wrapped) = (0, true);
                continue;
            }

            ss.Value = series;
            sn.Value = maxRows - deleted; // every chunk holds one reading at least
            candidates.Clear();
            using (var r = select.ExecuteReader())
            {
                while (r.Read())
                {
                    candidates.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt32(2), r.GetFieldValue<byte[]>(3), r.GetInt64(4)));
                }
            }

            foreach (var (minute, id, n, data, chunkReceived) in candidates)
            {
                var budget = maxRows - deleted;
                if (budget <= 0)
                {
                    break;
                }

                if (minute < cutoffMinute && n <= budget)
                {
                    Run(delete, series, minute, id);
                    deleted += n;
                    continue;
                }

                decoded.Clear();
                ChunkCodec.Decode(data, minute, chunkReceived, decoded);
                var removed = 0;
                decoded.RemoveAll(x => x.Ts < cutoff && removed < budget && ++removed > 0);
                if (removed == 0)
                {
                    continue;
                }

                if (decoded.Count == 0)
                {
                    Run(delete, series, minute, id);
                }
                else
                {
                    var buffer = new byte[ChunkCodec.MaxLength(decoded.Count)];
                    var length = ChunkCodec.Encode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(decoded), minute, chunkReceived, buffer);
                    rewrite.Parameters["$n"].Value = decoded.Count;
                    rewrite.Parameters["$d"].Value = buffer.AsSpan(0, length).ToArray();
                    Run(rewrite, series, minute, id);
                }

                deleted += removed;
            }

            if (deleted < maxRows)
            {
                after = series;
            }
        }

        tx.Commit();
        _pruneCursor[StoreTable.Readings] = after;
        return deleted;

        static void Run(SqliteCommand cmd, long series, long minute, long id)
        {
            cmd.Parameters["$s"].Value = series;
            cmd.Parameters["$h"].Value = minute;
            cmd.Parameters["$id"].Value = id;
            cmd.ExecuteNonQuery();
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
        lock (_writeLock)
        {
            RecordStatusLocked(status, receivedAt, healthJson);
        }
    }

    private void RecordStatusLocked(GatewayStatus status, DateTimeOffset receivedAt, string? healthJson)
    {
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
        using var tx = c.BeginTransaction(deferred: true);
        var unfolded = NewestUnfolded(c, gateway);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT gateway, channel, last_ts, last_value, unit, last_quality, last_seq, last_received, id
            FROM series WHERE $g IS NULL OR gateway = $g
            ORDER BY gateway, channel
            """;
        cmd.Parameters.AddWithValue("$g", (object?)gateway ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<LatestReading>();
        while (r.Read())
        {
            var folded = r.IsDBNull(2) ? (ChunkReading?)null
                : new ChunkReading(r.GetInt64(6), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetDouble(3), (Quality)r.GetInt32(5),
                    TimestampStatus.Ok, r.IsDBNull(7) ? 0 : r.GetInt64(7));
            if (unfolded.TryGetValue(r.GetInt64(8), out var u) && (folded is not { } f || IsNewer(u.Reading, f)))
            {
                folded = u.Reading;
            }

            if (folded is { } n)
            {
                list.Add(new LatestReading(r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(n.Ts), n.Value,
                    r.GetString(4), n.Quality, n.Seq, DateTimeOffset.FromUnixTimeMilliseconds(n.Received)));
            }
        }

        return list;
    }

    private static bool IsNewer(in ChunkReading a, in ChunkReading b) => a.Ts > b.Ts || (a.Ts == b.Ts && a.Seq > b.Seq);

    // Inside a read transaction: per series of `gateway` (all when null), the newest unfolded reading with a plausible
    // timestamp (what a fold would make its latest value, contract §4.3). Only that gateway's series are looked at: the
    // series budget asks for one gateway's channels when it first sees it, and 1,000 gateways connecting at once must not
    // each copy every unfolded reading.
    private Dictionary<long, PendingReading> NewestUnfolded(SqliteConnection c, string? gateway)
    {
        HashSet<long>? ids = null;
        if (gateway is not null)
        {
            ids = [];
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT id FROM series WHERE gateway = $g";
            cmd.Parameters.AddWithValue("$g", gateway);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                ids.Add(r.GetInt64(0));
            }
        }

        var newest = new Dictionary<long, PendingReading>();
        foreach (var (series, p) in Unfolded(c, ids))
        {
            if (p.Reading.TsStatus == TimestampStatus.Ok &&
                (!newest.TryGetValue(series, out var n) || IsNewer(p.Reading, n.Reading)))
            {
                newest[series] = p;
            }
        }

        return newest;
    }

    /// <summary>
    /// Inside a read transaction on <paramref name="c"/> (its first statement: it pins the snapshot): the readings of
    /// <paramref name="series"/> (every series when null) that the snapshot holds in the journal, not yet in chunks.
    /// </summary>
    private List<(long Series, PendingReading Reading)> Unfolded(SqliteConnection c, long? series) =>
        Unfolded(c, series is { } one ? new HashSet<long> { one } : null);

    /// <summary>As <see cref="Unfolded(SqliteConnection, long?)"/>, for a set of series (every series when null).</summary>
    private List<(long Series, PendingReading Reading)> Unfolded(SqliteConnection c, HashSet<long>? series) =>
        Unfolded(c, series, countOnly: false).Readings;

    // The snapshot's journal rows and fold state (its first statements pin the snapshot), then the unfolded readings:
    // from the index for the rows it holds, decoded from the table for the others. With countOnly, counted, not listed.
    private (List<(long Series, PendingReading Reading)> Readings, int Count) Unfolded(SqliteConnection c, HashSet<long>? series,
        bool countOnly)
    {
        var live = new HashSet<long>();
        using (var ids = c.CreateCommand())
        {
            ids.CommandText = "SELECT id FROM journal";
            using var r = ids.ExecuteReader();
            while (r.Read())
            {
                live.Add(r.GetInt64(0));
            }
        }

        var fold = FoldState.None;
        if (live.Count > 0)
        {
            using var state = c.CreateCommand();
            state.CommandText = ReadFoldSql;
            using var r = state.ExecuteReader();
            if (r.Read())
            {
                fold = new FoldState(r.GetInt64(0), r.GetInt64(1));
            }
        }

        var list = new List<(long Series, PendingReading Reading)>();
        if (series is { Count: 0 })
        {
            return (list, 0);
        }

        var into = countOnly ? null : list;
        var (count, missing) = _unfolded.Collect(live, fold, series, into);

        if (missing.Count > 0)
        {
            // Rows this process does not index: folded since the snapshot began, or another aggregator's.
            using var row = c.CreateCommand();
            row.CommandText = "SELECT received, data FROM journal WHERE id = $id";
            var pid = row.Parameters.Add(new SqliteParameter("$id", null));
            var scratch = new List<ChunkReading>();
            foreach (var id in missing)
            {
                pid.Value = id;
                using var r = row.ExecuteReader();
                if (r.Read())
                {
                    var received = r.GetInt64(0);
                    Journal.Decode(r.GetFieldValue<byte[]>(1), received, series is { Count: 1 } ? series.First() : null, scratch,
                        (s, stream, reading) =>
                        {
                            if ((series is null || series.Contains(s)) && !fold.Folded(id, s))
                            {
                                count++;
                                into?.Add((s, new PendingReading(id, stream, reading)));
                            }
                        });
                }
            }
        }

        return (list, count);
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
        using var tx = c.BeginTransaction(deferred: true);
        var unfolded = NewestUnfolded(c, gateway);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT gateway, channel, unit, last_ts, id FROM series WHERE $g IS NULL OR gateway = $g ORDER BY gateway, channel";
        cmd.Parameters.AddWithValue("$g", (object?)gateway ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<ChannelInfo>();
        while (r.Read())
        {
            var last = Time(r, 3);
            if (unfolded.TryGetValue(r.GetInt64(4), out var u) && (last is null || u.Reading.Ts > last.Value.ToUnixTimeMilliseconds()))
            {
                last = DateTimeOffset.FromUnixTimeMilliseconds(u.Reading.Ts);
            }

            list.Add(new ChannelInfo(r.GetString(0), r.GetString(1), r.GetString(2), last));
        }

        return list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<StoredReading> Range(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, int limit,
        DateTimeOffset? afterTs = null, long? afterSeq = null)
    {
        var list = new List<StoredReading>();
        long fromMs = from.ToUnixTimeMilliseconds(), toMs = to.ToUnixTimeMilliseconds();
        long at = afterTs?.ToUnixTimeMilliseconds() ?? long.MinValue, after = afterSeq ?? long.MinValue;
        var start = Math.Max(fromMs, at);
        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true);
        if (limit <= 0 || start >= toMs || SeriesOf(c, gateway, channel) is not { } series)
        {
            return list;
        }

        ScanMinutes(c, series.Id, ChunkCodec.Minute(start), ChunkCodec.Minute(toMs - 1), Unfolded(c, series.Id), minute =>
        {
            foreach (var r in minute)
            {
                if (r.Ts < fromMs || r.Ts >= toMs || (afterTs is not null && (r.Ts < at || (r.Ts == at && r.Seq <= after))))
                {
                    continue;
                }

                list.Add(Stored(r, series.Unit));
                if (list.Count >= limit)
                {
                    return false;
                }
            }

            return true;
        });
        return list;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Any range is cut by <see cref="HistoryPlan"/>: whole hours from <c>rollup_1h</c>, whole minutes at the edges from
    /// <c>rollup_1m</c> (when the step is a multiple of them), and only the partial minutes at the very edges from the raw
    /// readings, so the cost grows with the number of buckets, not of readings. The answer is the one the raw readings
    /// give (<see cref="RawBuckets"/>), up to the rounding of the floating-point sums in <see cref="HistoryBucket.Avg"/>.
    /// </remarks>
    public IReadOnlyList<HistoryBucket> Buckets(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
    {
        var stepMs = (long)step.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfLessThan(stepMs, 1, nameof(step));
        var buckets = new BucketList();
        var segments = HistoryPlan.Segments(from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds(), stepMs);
        if (segments.Count == 0)
        {
            return [];
        }

        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true); // one snapshot for every segment (a read: never BEGIN IMMEDIATE)
        var seriesId = SeriesIdOf(c, gateway, channel);
        if (seriesId is not { } id)
        {
            return [];
        }

        var unfolded = Unfolded(c, id);
        foreach (var (f, t, level) in segments)
        {
            if (level < 0)
            {
                BucketsFromRaw(c, id, f, t, stepMs, unfolded, buckets);
            }
            else
            {
                BucketsFromRollup(c, Rollups.Levels[level], id, f, t, stepMs, unfolded, buckets);
            }
        }

        return buckets.ToList();
    }

    /// <summary>Tests only: the buckets reduced from the raw readings alone (what the rollups must agree with).</summary>
    internal IReadOnlyList<HistoryBucket> RawBuckets(string gateway, string channel, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
    {
        var buckets = new BucketList();
        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true);
        if (SeriesIdOf(c, gateway, channel) is { } id)
        {
            BucketsFromRaw(c, id, from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds(), (long)step.TotalMilliseconds,
                Unfolded(c, id), buckets);
        }

        return buckets.ToList();
    }

    private static (long Id, string Unit)? SeriesOf(SqliteConnection c, string gateway, string channel)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, unit FROM series WHERE gateway = $g AND channel = $c";
        cmd.Parameters.AddWithValue("$g", gateway);
        cmd.Parameters.AddWithValue("$c", channel);
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetInt64(0), r.GetString(1)) : null;
    }

    private static StoredReading Stored(in ChunkReading r, string unit) =>
        new(r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.Ts), r.Value, unit, r.Quality, r.TsStatus,
            DateTimeOffset.FromUnixTimeMilliseconds(r.Received));

    /// <summary>
    /// Decodes the chunks of one series whose minute lies in [<paramref name="firstMinute"/>, <paramref name="lastMinute"/>],
    /// with its readings still in the journal (<paramref name="unfolded"/>, from <see cref="Unfolded(SqliteConnection, long?)"/> in the same
    /// snapshot), a minute at a time, oldest first, and hands each minute's readings (sorted by device time, then
    /// sequence, then receive time) to <paramref name="onMinute"/> until it returns false.
    /// </summary>
    private static void ScanMinutes(SqliteConnection c, long seriesId, long firstMinute, long lastMinute,
        List<(long Series, PendingReading Reading)> unfolded, Func<List<ChunkReading>, bool> onMinute)
    {
        var pending = new List<(long Minute, ChunkReading Reading)>();
        foreach (var (_, p) in unfolded)
        {
            var m = ChunkCodec.Minute(p.Reading.Ts);
            if (m >= firstMinute && m <= lastMinute)
            {
                pending.Add((m, p.Reading));
            }
        }

        pending.Sort(static (a, b) => a.Minute.CompareTo(b.Minute));
        var next = 0;
        var emitted = new List<ChunkReading>();
        // Emits the journal's minutes before `minute` that have no chunk; false when onMinute asked to stop.
        bool EmitPendingBefore(long minute)
        {
            while (next < pending.Count && pending[next].Minute < minute)
            {
                var m = pending[next].Minute;
                emitted.Clear();
                for (; next < pending.Count && pending[next].Minute == m; next++)
                {
                    emitted.Add(pending[next].Reading);
                }

                if (!onMinute(SortedByTime(emitted)))
                {
                    return false;
                }
            }

            return true;
        }

        // Adds the journal's readings of `minute` to that minute's chunk readings.
        void AddPendingOf(long minute, List<ChunkReading> into)
        {
            for (; next < pending.Count && pending[next].Minute == minute; next++)
            {
                into.Add(pending[next].Reading);
            }
        }

        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT minute, received, data FROM chunks WHERE series_id = $s AND minute >= $h0 AND minute <= $h1 ORDER BY minute, id
            """;
        cmd.Parameters.AddWithValue("$s", seriesId);
        cmd.Parameters.AddWithValue("$h0", firstMinute);
        cmd.Parameters.AddWithValue("$h1", lastMinute);
        using var r = cmd.ExecuteReader();
        var minuteReadings = new List<ChunkReading>();
        var current = long.MinValue;
        var buffer = Array.Empty<byte>();
        while (r.Read())
        {
            var minute = r.GetInt64(0);
            if (minute != current && minuteReadings.Count > 0)
            {
                AddPendingOf(current, minuteReadings);
                if (!onMinute(SortedByTime(minuteReadings)))
                {
                    return;
                }

                minuteReadings.Clear();
            }

            if (minute != current && !EmitPendingBefore(minute))
            {
                return;
            }

            current = minute;
            var received = r.GetInt64(1);
            var length = (int)r.GetBytes(2, 0, null, 0, 0);
            if (buffer.Length < length)
            {
                buffer = new byte[Math.Max(length, 2 * buffer.Length)];
            }

            r.GetBytes(2, 0, buffer, 0, length);
            ChunkCodec.Decode(buffer.AsSpan(0, length), minute, received, minuteReadings);
        }

        if (minuteReadings.Count > 0)
        {
            AddPendingOf(current, minuteReadings);
            if (!onMinute(SortedByTime(minuteReadings)))
            {
                return;
            }
        }

        EmitPendingBefore(long.MaxValue);
    }

    private static List<ChunkReading> SortedByTime(List<ChunkReading> readings)
    {
        readings.Sort(static (a, b) => a.Ts != b.Ts ? a.Ts.CompareTo(b.Ts)
            : a.Seq != b.Seq ? a.Seq.CompareTo(b.Seq) : a.Received.CompareTo(b.Received));
        return readings;
    }

    private static long? SeriesIdOf(SqliteConnection c, string gateway, string channel) => SeriesOf(c, gateway, channel)?.Id;

    private static void BucketsFromRollup(SqliteConnection c, (long StepMs, string Table) level, long seriesId, long fromMs, long toMs,
        long stepMs, List<(long Series, PendingReading Reading)> unfolded, BucketList into)
    {
        // The level's rows: the table's, and one per journal reading that a fold would add to them (Rollups.AddRun).
        var rows = new List<RollupRow>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = $"""
                SELECT bucket, count, sum, min_value, max_value, last_ts, last_seq, last_value
                FROM {level.Table} WHERE series_id = $s AND bucket >= $from AND bucket < $to
                ORDER BY bucket
                """;
            cmd.Parameters.AddWithValue("$s", seriesId);
            cmd.Parameters.AddWithValue("$from", fromMs);
            cmd.Parameters.AddWithValue("$to", toMs);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add(new RollupRow(r.GetInt64(0), new Rollups.Acc(r.GetInt64(1), r.GetDouble(2), r.GetDouble(3), r.GetDouble(4),
                    r.GetInt64(5), r.GetInt64(6), r.GetDouble(7))));
            }
        }

        var sorted = true;
        foreach (var (_, p) in unfolded)
        {
            var x = p.Reading;
            if (x.Ts >= fromMs && x.Ts < toMs && x.Quality == Quality.Good && x.TsStatus == TimestampStatus.Ok && x.Value is { } v)
            {
                rows.Add(new RollupRow(HistoryPlan.Floor(x.Ts, level.StepMs), new Rollups.Acc(1, v, v, v, x.Ts, x.Seq, v)));
                sorted = false;
            }
        }

        if (!sorted)
        {
            rows.Sort(static (a, b) => a.Bucket.CompareTo(b.Bucket));
        }

        var bucket = long.MinValue;
        var acc = default(Rollups.Acc);
        foreach (var row in rows)
        {
            var b = HistoryPlan.Floor(row.Bucket, stepMs);
            if (b != bucket)
            {
                into.Add(bucket, acc.Count, acc.Sum, acc.Min, acc.Max, acc.LastValue);
                (bucket, acc) = (b, default);
            }

            acc.Merge(row.Acc);
        }

        into.Add(bucket, acc.Count, acc.Sum, acc.Min, acc.Max, acc.LastValue);
    }

    private readonly record struct RollupRow(long Bucket, Rollups.Acc Acc);

    private static void BucketsFromRaw(SqliteConnection c, long seriesId, long fromMs, long toMs, long stepMs,
        List<(long Series, PendingReading Reading)> unfolded, BucketList into)
    {
        if (fromMs >= toMs)
        {
            return;
        }

        // Reduced from the raw readings, oldest first (ties: sequence): only good values with a plausible timestamp.
        long bucket = long.MinValue, count = 0;
        double min = 0, max = 0, sum = 0, last = 0;
        ScanMinutes(c, seriesId, ChunkCodec.Minute(fromMs), ChunkCodec.Minute(toMs - 1), unfolded, minute =>
        {
            foreach (var r in minute)
            {
                if (r.Ts < fromMs || r.Ts >= toMs || r.Quality != Quality.Good || r.TsStatus != TimestampStatus.Ok || r.Value is not { } v)
                {
                    continue;
                }

                var b = HistoryPlan.Floor(r.Ts, stepMs);
                if (b != bucket)
                {
                    into.Add(bucket, count, sum, min, max, last);
                    (bucket, count, min, max, sum) = (b, 0, v, v, 0);
                }

                count++;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
                sum += v;
                last = v;
            }

            return true;
        });
        into.Add(bucket, count, sum, min, max, last);
    }

    /// <inheritdoc/>
    public IReadOnlyList<(long Sequence, DateTimeOffset Timestamp, double? Value, Quality Quality)> History(string gateway, string channel)
    {
        var list = new List<(long, DateTimeOffset, double?, Quality)>();
        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true);
        if (SeriesOf(c, gateway, channel) is { } series)
        {
            ScanMinutes(c, series.Id, long.MinValue, long.MaxValue, Unfolded(c, series.Id), minute =>
            {
                foreach (var r in minute)
                {
                    list.Add((r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.Ts), r.Value, r.Quality));
                }

                return true;
            });
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
        var list = new List<StoredReading>();
        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true);
        if (limit <= 0 || SeriesOf(c, gateway, channel) is not { } series)
        {
            return list;
        }

        // The journal's readings were received after every folded one: newest commit first, then newest sequence.
        var unfolded = Unfolded(c, series.Id);
        unfolded.Sort(static (a, b) => a.Reading.JournalId != b.Reading.JournalId ? b.Reading.JournalId.CompareTo(a.Reading.JournalId)
            : b.Reading.Reading.Seq.CompareTo(a.Reading.Reading.Seq));
        for (var i = 0; i < unfolded.Count && list.Count < limit; i++)
        {
            list.Add(Stored(unfolded[i].Reading.Reading, series.Unit));
        }

        // Chunk ids increase in receive order; within a chunk, the newest sequence first.
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT minute, received, data FROM chunks WHERE series_id = $s ORDER BY id DESC";
        cmd.Parameters.AddWithValue("$s", series.Id);
        using var r = cmd.ExecuteReader();
        var decoded = new List<ChunkReading>();
        while (list.Count < limit && r.Read())
        {
            decoded.Clear();
            ChunkCodec.Decode(r.GetFieldValue<byte[]>(2), r.GetInt64(0), r.GetInt64(1), decoded);
            // A chunk a fold merged holds several commits: the newest receive time first, then the newest sequence.
            decoded.Sort(static (a, b) => a.Received != b.Received ? b.Received.CompareTo(a.Received) : b.Seq.CompareTo(a.Seq));
            for (var i = 0; i < decoded.Count && list.Count < limit; i++)
            {
                list.Add(Stored(decoded[i], series.Unit));
            }
        }

        return list;
    }

    /// <summary>How many readings are stored in all (a health figure; sums every chunk's count).</summary>
    public long Count()
    {
        using var c = OpenReader();
        using var tx = c.BeginTransaction(deferred: true);
        long unfolded = Unfolded(c, null, countOnly: true).Count;
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT coalesce(sum(n), 0) FROM chunks";
        return (long)cmd.ExecuteScalar()! + unfolded;
    }

    public void Dispose()
    {
        lock (_writeLock)
        {
            _disposed = true;
        }

        if (_folder is not null)
        {
            if (_foldWake.CurrentCount == 0)
            {
                _foldWake.Release();
            }

            _folder.Join();
        }

        try
        {
            // A clean stop leaves an empty journal; a failed fold is redone at the next opening.
            lock (_writeLock)
            {
                FoldAllLocked();
            }
        }
        catch (SqliteException ex)
        {
            _logger.FoldFailed(ex, _unfolded.Count);
        }

        _insertJournal.Dispose();
        _deleteJournalUpTo.Dispose();
        _readFold.Dispose();
        _writeFold.Dispose();
        _endFold.Dispose();
        _dataVersion.Dispose();
        _foldWake.Dispose();
        _checkpointer?.Dispose();
        _chunks.Dispose();
        _rollups.Dispose();
        _upsertGateway.Dispose();
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

    private struct GatewayTally
    {
        public int Stored;
        public int Duplicates;
        public int Future;
        public int TooOld;
        public int BeforeEpoch;
        public int ClockUntrusted;
    }

    /// <summary>One gateway's counters for one commit, added with one UPSERT.</summary>
    private sealed class GatewayUpsert(SqliteConnection writer) : IDisposable
    {
        private readonly RawStatement _statement = new(writer, """
            INSERT INTO gateways(gateway, last_seen, readings, duplicates, ts_future, ts_too_old, ts_before_epoch, ts_clock_untrusted)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT(gateway) DO UPDATE SET last_seen=max(coalesce(last_seen, 0), excluded.last_seen),
                readings=readings+excluded.readings, duplicates=duplicates+excluded.duplicates,
                ts_future=ts_future+excluded.ts_future, ts_too_old=ts_too_old+excluded.ts_too_old,
                ts_before_epoch=ts_before_epoch+excluded.ts_before_epoch,
                ts_clock_untrusted=ts_clock_untrusted+excluded.ts_clock_untrusted
            """);

        public void Add(string gateway, long seen, long stored, long duplicates, long future, long tooOld, long beforeEpoch,
            long clockUntrusted)
        {
            _statement.Bind(1, gateway);
            _statement.Bind(2, seen);
            _statement.Bind(3, stored);
            _statement.Bind(4, duplicates);
            _statement.Bind(5, future);
            _statement.Bind(6, tooOld);
            _statement.Bind(7, beforeEpoch);
            _statement.Bind(8, clockUntrusted);
            _statement.Execute();
        }

        public void Reset() => _statement.Reset();

        public void Dispose() => _statement.Dispose();
    }

    private static DateTimeOffset? Time(SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    private static void AddMissingColumns(SqliteConnection c)
    {
        foreach (var (table, column, definition) in AddedColumns)
        {
            using var probe = c.CreateCommand();
            // A table that is not there (the row-per-reading readings table of an older store) has nothing to upgrade.
            probe.CommandText = $"SELECT count(*), count(*) FILTER (WHERE name = '{column}') FROM pragma_table_info('{table}')";
            using var r = probe.ExecuteReader();
            r.Read();
            var (columns, has) = (r.GetInt64(0), r.GetInt64(1));
            r.Close();
            if (columns > 0 && has == 0)
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
