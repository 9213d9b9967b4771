using System.Buffers.Binary;
using System.Globalization;
using IocEdge.Edge.Configuration;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Edge.Outbox;

/// <summary>
/// The gateway's store-and-forward buffer: every reading is appended here before anything else happens to it, and
/// leaves only when the aggregator acknowledged it (or a bound evicted it, counted).
/// </summary>
/// <remarks>
/// <para>Sequence numbers are SQLite AUTOINCREMENT row ids: strictly increasing and never reused, even after the rows
/// are deleted, so (gateway, stream, seq) names one reading for ever (contract §4.1). The stream id is made once, when
/// the file is created; a new file (a new SD card, or a corrupt file moved aside) starts a new stream.</para>
/// <para>Durability: WAL journal with synchronous=FULL, one transaction per <see cref="Append"/> call (one poll cycle of
/// a source). The WAL is fsynced before the commit returns, so a power cut at any instant loses nothing
/// <see cref="Append"/> reported committed (a positive return value); a cut during the call loses that batch
/// whole (never half of it), and sequences stay contiguous. An acknowledgement is applied inside the next
/// Append's transaction (or in its own commit after AckDeferLimit without appends): a power cut before then only makes
/// the aggregator receive those readings again (contract §4.1), never loses one. Readings held in RAM because the card refused them (return
/// value 0) are not committed and are lost by a power cut.</para>
/// <para>Card wear: one commit per poll cycle (above); new files use 512-byte pages (a 100-reading cycle dirties a few
/// small pages instead of 4 KiB ones; 131 B written per reading at 100 channels × 1 Hz, docs/BENCHMARKS.md "Outbox");
/// the WAL is bounded by journal_size_limit and truncated by <c>wal_checkpoint(TRUNCATE)</c> when it passes
/// <see cref="OutboxOptions.WalMaxBytes"/>, when the outbox empties, and at least every
/// <see cref="OutboxOptions.CheckpointInterval"/> on the monotonic clock.</para>
/// <para>Disk trouble (SQLITE_FULL, SQLITE_IOERR) never escapes a write method: the outbox checkpoints, evicts the
/// oldest telemetry and retries; what still cannot be written is held in RAM (appends, acknowledgements) and written
/// when the card accepts writes again, by the next call. One instance is used from several threads (sampler,
/// forwarder); a lock serialises them.</para>
/// <para>Start-up integrity: a file that cannot be opened as SQLite or fails <c>PRAGMA quick_check</c> is renamed into
/// <c>quarantine/</c> beside it with its -wal and -shm (never deleted) and a new file (a new stream) is started.</para>
/// </remarks>
public sealed class SqliteOutbox : IDisposable
{
    /// <summary>The unit of state changes and alarms (door, flood, power; contract §4 vocabulary): evicted only after
    /// all telemetry. A reading whose quality changed is ordinary telemetry (the aggregator sees the gap either way,
    /// and an outage of a whole bus would otherwise fill the protected class).</summary>
    public const string StateUnit = "state";

    /// <summary>Page size of new outbox files (bytes; 512 is SQLite's smallest, sqlite.org/pragma.html#pragma_page_size):
    /// small pages cut the bytes written per commit on the card (measured: 161 B per reading with 1024, 134 B with 512,
    /// docs/BENCHMARKS.md "Outbox"). Existing files keep their page size.</summary>
    public const int NewFilePageSize = 512;

    private readonly Lock _lock = new();
    private readonly SqliteConnection _db;
    private readonly SqliteCommand _insert;
    private readonly ILogger _logger;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _time;
    private readonly IClockSync? _clock;
    private readonly string _directory;
    private readonly Queue<Reading> _ram = new();
    private readonly List<(long From, long To)> _unappliedAcks = [];
    private readonly Dictionary<string, long> _dropped = new(StringComparer.Ordinal);
    private readonly HashSet<string> _droppedDirty = new(StringComparer.Ordinal);
    private long _count;
    private long _unappliedAckRows;
    private long _unappliedSince;
    private long _appliedInInsert;
    private long _lastSequence;
    private long _invalidated;
    private long _deadLettered;
    private long _diskErrors;
    private long _lastCheckpoint;
    private long _lastAgeCheck;
    private bool _ageChecked;
    private bool _hasPendingClock;
    private bool _hasUntrustedRanges = true; // until a read finds none
    private bool _diskTrouble;
    private bool _disposed;
    private int _quarantined;

    /// <param name="path">The SQLite file (created with its folder when missing).</param>
    /// <param name="logger">Receives one line per reading set aside by <see cref="Peek"/>; none when null.</param>
    public SqliteOutbox(string path, ILogger? logger = null)
        : this(path, new OutboxOptions(), TimeProvider.System, null, logger)
    {
    }

    /// <param name="path">The SQLite file (created with its folder when missing).</param>
    /// <param name="options">Bounds and eviction (section <c>Gateway:Outbox</c>).</param>
    /// <param name="time">Wall clock (reading age, quarantine names) and monotonic clock (checkpoints, clock correction).</param>
    /// <param name="clock">Clock state for marking readings taken before NTP sync; null = the clock is always trusted.</param>
    /// <param name="logger">Warnings for quarantine, eviction and disk trouble; none when null.</param>
    /// <exception cref="SqliteException">The file cannot be created at all (no such folder rights, no space for a new
    /// empty file); a corrupt file is never the cause (it is quarantined).</exception>
    public SqliteOutbox(string path, OutboxOptions options, TimeProvider time, IClockSync? clock = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _logger = logger ?? NullLogger.Instance;
        _options = options;
        _time = time;
        _clock = clock;
        _directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";
        Directory.CreateDirectory(_directory);

        Path = path;
        EnsureReserve();
        try
        {
            _db = OpenChecked();
        }
        catch (Exception ex) when (IsCorruption(ex))
        {
            Quarantine(ex is OutboxCorruptException c ? c.Message : ((SqliteException)ex).Message);
            _db = OpenChecked();
        }

        _quarantined = CountQuarantined();
        StreamId = LoadOrCreateStreamId();
        _count = Scalar("SELECT count(*) FROM outbox");
        _lastSequence = Scalar("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)");
        LoadDropped();
        MarkOtherBootsUncorrectable();
        _lastCheckpoint = time.GetTimestamp();

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

    /// <summary>Readings waiting to be acknowledged on the card (acknowledged ones whose delete is still pending for
    /// lack of space are not counted; readings held in RAM are not counted, see <see cref="Health"/>).</summary>
    public long Count => Interlocked.Read(ref _count) - Interlocked.Read(ref _unappliedAckRows);

    /// <summary>The highest sequence number ever given (SQLite's AUTOINCREMENT counter), 0 before the first append.</summary>
    public long LastSequence => Interlocked.Read(ref _lastSequence);

    /// <summary>Writes that failed for disk trouble (SQLITE_FULL, SQLITE_IOERR) since this outbox was opened.</summary>
    public long DiskErrors => Interlocked.Read(ref _diskErrors);

    /// <summary>A snapshot of the outbox's state for the gateway's health report and the technician's tools.</summary>
    public OutboxHealth Health()
    {
        lock (_lock)
        {
            DateTimeOffset? oldest = null;
            long used = 0;
            try
            {
                using var cmd = _db.CreateCommand();
                cmd.CommandText = "SELECT min(ts) FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT 1000)";
                oldest = cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
                used = UsedBytes();
            }
            catch (SqliteException ex) when (IsDiskTrouble(ex))
            {
                _diskErrors++;
            }

            var bytes = FileLength(Path) + FileLength(Path + "-wal");
            return new OutboxHealth(StreamId, Count, oldest, bytes, DeadLettered, Invalidated,
                new Dictionary<string, long>(_dropped, StringComparer.Ordinal), _quarantined)
            {
                RamBuffered = _ram.Count,
                UsedBytes = used,
                DiskFreeBytes = FreeBytes(),
                DiskErrors = _diskErrors,
                ClockUntrusted = CountClockUntrusted(),
            };
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
    /// Appends readings (one poll cycle) in one transaction and returns the sequence number given to the last one. This
    /// is the boundary where every source's readings enter the store, so the contract's value rule (README §4, §4.2) is
    /// enforced here: a NaN or ±infinity value, or no value with a quality that needs one, is stored as quality
    /// <c>invalid</c> with a null value (counted in <see cref="Invalidated"/>); a value with
    /// comm_failure/device_exception/invalid is dropped.
    /// </summary>
    /// <returns>The last sequence number, committed to the card (survives a power cut) when positive; 0 when
    /// <paramref name="readings"/> is empty, or when the card refused the write even after eviction and the readings
    /// are held in RAM (see <see cref="OutboxHealth.RamBuffered"/>) until a later call can write them. Never throws for
    /// a full or failing card.</returns>
    public long Append(IReadOnlyList<Reading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            return 0;
        }

        var normalised = new Reading[readings.Count];
        long last = 0;
        lock (_lock)
        {
            for (var i = 0; i < normalised.Length; i++)
            {
                normalised[i] = Normalise(readings[i]);
            }

            var trusted = _clock is null || _clock.IsSynchronized;
            if (trusted && _hasPendingClock)
            {
                TryCorrectClock();
            }

            // Pending acknowledgements are applied inside the insert's own transaction (one WAL commit per cycle,
            // not two); see Insert.
            EnforceBounds(normalised.Length);
            if (_ram.Count > 0)
            {
                FlushRam();
            }

            if (_ram.Count == 0 && TryWrite("append", tx => Insert(normalised, trusted, tx), normalised.Length, out var seq))
            {
                last = seq;
                AfterInsert(seq, normalised.Length, trusted);
            }
            else
            {
                HoldInRam(normalised);
            }

            MaybeCheckpoint();
        }

        Appended?.Invoke();
        return last;
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
    /// Rows that cannot be encoded are dead-lettered as in <see cref="Peek"/>. Readings already acknowledged whose
    /// delete is still pending (card full) are not returned; readings held in RAM are returned once written.
    /// </summary>
    public IReadOnlyList<SequencedReading> ReadAfter(long afterSequence, int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        lock (_lock)
        {
            var list = new List<SequencedReading>(Math.Min(max, 1024));
            var after = afterSequence;
            var untrusted = UntrustedRangesAfter(afterSequence);
            var u = 0;
            while (true)
            {
                var rejected = new List<(long Seq, string Reason)>();
                var rows = 0;
                var requested = max - list.Count;
                using (var cmd = _db.CreateCommand())
                {
                    cmd.CommandText = "SELECT seq, channel, ts, value, unit, quality FROM outbox WHERE seq > $a ORDER BY seq LIMIT $n";
                    cmd.Parameters.AddWithValue("$a", after);
                    cmd.Parameters.AddWithValue("$n", requested);
                    using var r = cmd.ExecuteReader();
                    var values = new object[6];
                    while (r.Read())
                    {
                        rows++;
                        r.GetValues(values);
                        var seq = (long)values[0];
                        after = seq;
                        if (IsUnappliedAck(seq))
                        {
                            continue;
                        }

                        if (TryRead(values, out var reading, out var reason))
                        {
                            while (u < untrusted.Count && untrusted[u].Last < seq)
                            {
                                u++;
                            }

                            // Contract §4.4: a timestamp that is still uncorrected travels marked.
                            var flagged = u < untrusted.Count && untrusted[u].First <= seq;
                            list.Add(new SequencedReading(seq, reading) { ClockUntrusted = flagged });
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

                // Rows of this page were skipped (set aside, or acknowledged with the delete pending): look further,
                // so a run of them neither looks like an empty queue nor shrinks the batch.
                if (rows < requested || list.Count == max)
                {
                    return list;
                }
            }
        }
    }

    /// <summary>The clock-untrusted ranges that end after <paramref name="afterSequence"/>, ascending (caller holds the
    /// lock). Empty, without a query, when none is recorded.</summary>
    private List<(long First, long Last)> UntrustedRangesAfter(long afterSequence)
    {
        var list = new List<(long, long)>();
        if (!_hasUntrustedRanges)
        {
            return list;
        }

        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT first_seq, last_seq FROM clock_untrusted WHERE last_seq > $a ORDER BY first_seq";
        cmd.Parameters.AddWithValue("$a", afterSequence);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add((r.GetInt64(0), r.GetInt64(1)));
        }

        if (list.Count == 0 && afterSequence == 0)
        {
            _hasUntrustedRanges = false;
        }

        return list;
    }

    /// <summary>Moves one row to the dead-letter table (caller holds the lock); on disk trouble the row stays.</summary>
    private void MoveToDeadLetter(long seq, string reason)
    {
        var moved = TryWrite("dead-letter", tx =>
        {
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

            using var del = _db.CreateCommand();
            del.Transaction = tx;
            del.CommandText = "DELETE FROM outbox WHERE seq = $s";
            del.Parameters.AddWithValue("$s", seq);
            return del.ExecuteNonQuery();
        }, 0, out var removed);
        if (moved)
        {
            _count -= removed;
            _deadLettered++;
            _logger.RowDeadLettered(seq, reason);
        }
    }

    /// <summary>
    /// Removes readings the aggregator acknowledged: one <c>DELETE ... WHERE seq BETWEEN a AND b</c> per contiguous run
    /// of their sequence numbers. Never throws for a full or failing card: what cannot be deleted now is remembered in
    /// RAM (no longer returned by <see cref="ReadAfter"/>, not counted in <see cref="Count"/>) and deleted by a later
    /// write; a restart before that only makes the aggregator receive those readings again (it deduplicates).
    /// </summary>
    public void Acknowledge(IReadOnlyList<SequencedReading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            return;
        }

        var runs = Runs(readings);
        lock (_lock)
        {
            if (_unappliedAcks.Count == 0)
            {
                _unappliedSince = _time.GetTimestamp();
            }

            AddUnapplied(runs, readings.Count);
            // Deferred: the delete rides in the next Append's transaction (one fsync'd commit per poll cycle instead
            // of two: the card's main wear). Applied here, in its own commit, only when no append came for
            // AckDeferLimit (a drain with the sampler idle) or when many rows wait; then an empty outbox also
            // checkpoints, so an idle gateway leaves no WAL behind.
            if (_unappliedAckRows >= AckDeferMaxRows || _time.GetElapsedTime(_unappliedSince) >= AckDeferLimit)
            {
                ApplyUnappliedAcks();
                if (_unappliedAcks.Count == 0 && _count == 0)
                {
                    TryCheckpoint();
                }
            }

            MaybeCheckpoint();
        }
    }

    /// <summary>Longest time (monotonic clock) an acknowledgement waits in RAM for the next append's transaction
    /// before it gets a commit of its own. A power cut in that window only makes the aggregator receive those readings
    /// again (contract §4.1: it stores each once).</summary>
    public static readonly TimeSpan AckDeferLimit = TimeSpan.FromSeconds(5);

    /// <summary>Most acknowledged readings kept waiting in RAM for the next append (a fast drain applies them in
    /// commits of this size).</summary>
    public const int AckDeferMaxRows = 10_000;

    /// <summary>Adds acknowledged runs to the pending list, merging a run that touches the last one (acknowledgements
    /// mostly arrive in sequence order, so the list stays a few runs long).</summary>
    private void AddUnapplied(List<(long From, long To)> runs, int rows)
    {
        foreach (var run in runs)
        {
            if (_unappliedAcks.Count > 0 && _unappliedAcks[^1] is var last && run.From <= last.To + 1 && run.To >= last.From - 1)
            {
                _unappliedAcks[^1] = (Math.Min(last.From, run.From), Math.Max(last.To, run.To));
            }
            else
            {
                _unappliedAcks.Add(run);
            }
        }

        _unappliedAckRows += rows;
    }

    /// <summary>
    /// Moves readings the aggregator will never accept (it answered "payload format invalid") aside, so they stop
    /// blocking the queue but stay on the card for a technician to inspect. Exactly the given sequence numbers move
    /// (not every row between the lowest and the highest). Never throws for a full or failing card: the readings then
    /// leave the queue without a dead-letter copy, counted in <see cref="OutboxHealth.DroppedByReason"/> as
    /// <c>dead_letter_unstored</c>.
    /// </summary>
    public void DeadLetter(IReadOnlyList<SequencedReading> readings, string reason)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            return;
        }

        var runs = Runs(readings);
        lock (_lock)
        {
            ApplyUnappliedAcks();
            var ok = TryWrite("dead-letter", tx =>
            {
                using (var cmd = _db.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = """
                        INSERT OR REPLACE INTO dead_letter(seq, channel, ts, value, unit, quality, reason)
                        SELECT seq, channel, ts, value, unit, quality, $r FROM outbox WHERE seq BETWEEN $a AND $b
                        """;
                    cmd.Parameters.AddWithValue("$r", reason);
                    var a = cmd.Parameters.Add(new SqliteParameter("$a", null));
                    var b = cmd.Parameters.Add(new SqliteParameter("$b", null));
                    foreach (var (from, to) in runs)
                    {
                        a.Value = from;
                        b.Value = to;
                        cmd.ExecuteNonQuery();
                    }
                }

                return DeleteRuns(runs, tx);
            }, 0, out var removed); // room 0: see Acknowledge
            if (ok)
            {
                _count -= removed;
                _deadLettered += removed;
            }
            else
            {
                AddUnapplied(runs, readings.Count);
                AddDropped("dead_letter_unstored", readings.Count);
            }
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

    /// <summary>
    /// Sequence ranges of waiting readings whose timestamps came from an untrusted wall clock (appended before NTP sync
    /// or before <see cref="SystemClockSync.SoftwareDate"/>). <see cref="ClockUntrustedRange.Uncorrectable"/> ranges were
    /// taken in another boot and can never be corrected; the others are corrected in place (ts += the offset learned at
    /// sync, from the monotonic clock) by the first append after the clock is synchronised. Ascending by sequence.
    /// </summary>
    public IReadOnlyList<ClockUntrustedRange> ClockUntrusted()
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT first_seq, last_seq, uncorrectable FROM clock_untrusted ORDER BY first_seq";
            using var r = cmd.ExecuteReader();
            var list = new List<ClockUntrustedRange>();
            while (r.Read())
            {
                list.Add(new ClockUntrustedRange(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2) != 0));
            }

            return list;
        }
    }

    /// <summary>
    /// Applies pending acknowledgements, writes readings held in RAM to the card and closes the file (the last
    /// connection checkpoints and removes the -wal file); logs the readings left waiting. A second call does nothing.
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            ApplyUnappliedAcks();
            if (_ram.Count > 0)
            {
                FlushRam();
            }
        }

        var pending = Count;
        _insert.Dispose();
        _db.Dispose();
        _logger.Closed(Path, pending);
    }

    // ---- writing ----

    private long Insert(Reading[] readings, bool trusted, SqliteTransaction tx)
    {
        // Acknowledged rows first, in the same transaction: one commit per cycle (see Acknowledge).
        _appliedInInsert = _unappliedAcks.Count > 0 ? DeleteRuns(_unappliedAcks, tx) : 0;
        _insert.Transaction = tx;
        var ps = _insert.Parameters;
        foreach (var r in readings)
        {
            ps[0].Value = r.Channel;
            ps[1].Value = r.Timestamp.ToUnixTimeMilliseconds();
            ps[2].Value = r.Value is { } v ? v : DBNull.Value;
            ps[3].Value = r.Unit;
            ps[4].Value = (int)r.Quality;
            _insert.ExecuteNonQuery();
        }

        var last = Scalar("SELECT last_insert_rowid()", tx);
        if (!trusted)
        {
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = """
                INSERT OR REPLACE INTO clock_untrusted(first_seq, last_seq, boot_id, mono_ms, wall_ms, uncorrectable)
                VALUES ($f, $l, $b, $m, $w, 0)
                """;
            cmd.Parameters.AddWithValue("$f", last - readings.Length + 1);
            cmd.Parameters.AddWithValue("$l", last);
            cmd.Parameters.AddWithValue("$b", _clock?.BootId ?? "unknown");
            cmd.Parameters.AddWithValue("$m", MonotonicMilliseconds());
            cmd.Parameters.AddWithValue("$w", _time.GetUtcNow().ToUnixTimeMilliseconds());
            cmd.ExecuteNonQuery();
        }

        SaveDirtyDropped(tx);
        return last;
    }

    private void AfterInsert(long last, int n, bool trusted)
    {
        _count += n;
        if (_unappliedAcks.Count > 0)
        {
            _count -= _appliedInInsert;
            _unappliedAcks.Clear();
            _unappliedAckRows = 0;
        }

        _lastSequence = last;
        _droppedDirty.Clear();
        if (!trusted)
        {
            _hasPendingClock = true;
            _hasUntrustedRanges = true;
        }
    }

    private void FlushRam()
    {
        var held = _ram.ToArray();
        var trusted = _clock is null || _clock.IsSynchronized;
        if (TryWrite("append", tx => Insert(held, trusted, tx), held.Length, out var last))
        {
            _ram.Clear();
            AfterInsert(last, held.Length, trusted);
            _logger.RamFlushed(held.Length);
        }
    }

    private void HoldInRam(Reading[] readings)
    {
        foreach (var r in readings)
        {
            _ram.Enqueue(r);
        }

        var over = _ram.Count - Math.Max(0, _options.RamBufferReadings);
        for (var i = 0; i < over; i++)
        {
            _ram.Dequeue();
        }

        if (over > 0)
        {
            AddDropped("ram_overflow", over);
            _logger.Evicted(over, "ram_overflow");
        }
    }

    private int DeleteRuns(List<(long From, long To)> runs, SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM outbox WHERE seq BETWEEN $a AND $b";
        var a = cmd.Parameters.Add(new SqliteParameter("$a", null));
        var b = cmd.Parameters.Add(new SqliteParameter("$b", null));
        var removed = 0;
        foreach (var (from, to) in runs)
        {
            a.Value = from;
            b.Value = to;
            removed += cmd.ExecuteNonQuery();
        }

        if (_hasUntrustedRanges && removed > 0)
        {
            // A clock-untrusted range whose readings all left the outbox says nothing any more (Health counts waiting
            // readings): forget it in the same transaction.
            using var ranges = _db.CreateCommand();
            ranges.Transaction = tx;
            ranges.CommandText = "DELETE FROM clock_untrusted WHERE last_seq < coalesce((SELECT min(seq) FROM outbox), 9223372036854775807)";
            ranges.ExecuteNonQuery();
        }

        return removed;
    }

    /// <summary>The contiguous runs of the given sequence numbers, ascending (5,6,7,9 gives 5-7 and 9-9).</summary>
    private static List<(long From, long To)> Runs(IReadOnlyList<SequencedReading> readings)
    {
        var seqs = new long[readings.Count];
        for (var i = 0; i < seqs.Length; i++)
        {
            seqs[i] = readings[i].Sequence;
        }

        Array.Sort(seqs);
        var runs = new List<(long, long)>();
        var from = seqs[0];
        var to = seqs[0];
        for (var i = 1; i < seqs.Length; i++)
        {
            if (seqs[i] <= to + 1)
            {
                to = Math.Max(to, seqs[i]);
                continue;
            }

            runs.Add((from, to));
            from = to = seqs[i];
        }

        runs.Add((from, to));
        return runs;
    }

    private bool IsUnappliedAck(long seq)
    {
        foreach (var (from, to) in _unappliedAcks)
        {
            if (seq >= from && seq <= to)
            {
                return true;
            }
        }

        return false;
    }

    private void ApplyUnappliedAcks()
    {
        if (_unappliedAcks.Count == 0)
        {
            return;
        }

        var runs = new List<(long From, long To)>(_unappliedAcks);
        if (TryWrite("acknowledge", tx => DeleteRuns(runs, tx), 0, out var removed))
        {
            _count -= removed;
            _unappliedAcks.Clear();
            _unappliedAckRows = 0;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a transaction. On a SQLite error it rolls back; on a full or failing card
    /// (SQLITE_FULL, SQLITE_IOERR) it checkpoints, evicts the oldest telemetry (<c>evicted_disk</c>) and tries once more.
    /// Returns false (never throws a <see cref="SqliteException"/>) when the write did not happen.
    /// </summary>
    private bool TryWrite(string operation, Func<SqliteTransaction, long> body, int room, out long result)
    {
        result = 0;
        for (var attempt = 0; ; attempt++)
        {
            SqliteTransaction? tx = null;
            try
            {
                tx = _db.BeginTransaction();
                result = body(tx);
                tx.Commit();
                SafeDispose(tx);
                _diskTrouble = false;
                return true;
            }
            catch (SqliteException ex)
            {
                SafeDispose(tx);
                _diskErrors++;
                if (!_diskTrouble)
                {
                    _diskTrouble = true;
                    _logger.DiskTrouble(operation, ex.Message);
                }

                if (attempt > 0 || !IsDiskTrouble(ex))
                {
                    return false;
                }

                MakeRoom(room);
            }
        }
    }

    private static void SafeDispose(SqliteTransaction? tx)
    {
        try
        {
            tx?.Dispose();
        }
        catch (SqliteException)
        {
            // SQLite already rolled the transaction back itself (SQLITE_FULL does).
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Frees room on a full card before a write is retried. Deleting rows frees pages only inside the file
    /// (its free list, reused by later inserts); what frees blocks on the card is the checkpoint that truncates the WAL,
    /// and a checkpoint can only finish when the database file can grow by the WAL's new pages. So: give back the
    /// reserve file, checkpoint, then (only when <paramref name="readings"/> &gt; 0, i.e. for an append) evict the oldest
    /// telemetry and checkpoint again so the eviction's own WAL frames leave the card too.</summary>
    private void MakeRoom(int readings)
    {
        ReleaseReserve();
        TryCheckpoint();
        if (readings <= 0)
        {
            return;
        }

        try
        {
            Evict(Math.Max(readings, 256), "evicted_disk");
        }
        catch (SqliteException)
        {
            _diskErrors++;
        }

        TryCheckpoint();
    }

    /// <summary>Keeps the outbox inside <see cref="OutboxOptions"/>'s bounds before a batch of
    /// <paramref name="incoming"/> readings is written. Never throws.</summary>
    private void EnforceBounds(int incoming)
    {
        try
        {
            if (_options.MaxAge > TimeSpan.Zero
                && (!_ageChecked || _time.GetElapsedTime(_lastAgeCheck) >= AgeCheckInterval))
            {
                _ageChecked = true;
                _lastAgeCheck = _time.GetTimestamp();
                EvictOlderThan(_time.GetUtcNow() - _options.MaxAge);
            }

            if (_options.MaxBytes > 0)
            {
                for (var i = 0; i < 32 && UsedBytes() > _options.MaxBytes; i++)
                {
                    if (Evict(Math.Max(incoming * 4, Math.Max(256, _count / 50)), "evicted_bytes") == 0)
                    {
                        break;
                    }
                }
            }

            EnsureReserve();
            var floor = File.Exists(ReservePath) ? _options.MinFreeBytes : Math.Max(_options.MinFreeBytes, 2L * ReserveBytes);
            if (floor > 0 && FreeBytes() is >= 0 and var free && free < floor)
            {
                if (FileLength(Path + "-wal") > 0)
                {
                    TryCheckpoint();
                }

                // Below the floor the file must not grow: make the free list hold at least twice this batch.
                var needed = (long)incoming * EstimatedRowBytes * 2;
                if (FreelistBytes() < needed)
                {
                    Evict(Math.Max(incoming * 2, 256), "evicted_disk");
                    TryCheckpoint(); // the eviction's WAL frames go back into the file; the WAL shrinks to 0
                }
            }
        }
        catch (SqliteException ex)
        {
            _diskErrors++;
            if (!_diskTrouble)
            {
                _diskTrouble = true;
                _logger.DiskTrouble("eviction", ex.Message);
            }
        }
    }

    /// <summary>Bytes of the reserve file (<c>outbox.db.reserve</c>) kept beside the outbox and given back to the
    /// filesystem when the card is full, so a checkpoint and an eviction can still run.</summary>
    public const int ReserveBytes = 256 * 1024;

    private string ReservePath => Path + ".reserve";

    private void ReleaseReserve()
    {
        try
        {
            File.Delete(ReservePath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Writes the reserve file when it is missing and there is room for it twice over.</summary>
    private void EnsureReserve()
    {
        if (File.Exists(ReservePath) || FreeBytes() is var free && free >= 0 && free < 2L * ReserveBytes)
        {
            return;
        }

        try
        {
            using var f = new FileStream(ReservePath, FileMode.Create, FileAccess.Write);
            f.Write(new byte[ReserveBytes]);
            f.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            ReleaseReserve();
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>How often the age bound is checked (monotonic clock).</summary>
    private static readonly TimeSpan AgeCheckInterval = TimeSpan.FromSeconds(10);

    /// <summary>A generous estimate of one reading's bytes in the table (measured ~30-45 B with its cell header).</summary>
    private const int EstimatedRowBytes = 64;

    /// <summary>Evicts up to <paramref name="n"/> readings: the oldest telemetry (or every other one per channel of the
    /// oldest span, with <see cref="OutboxEviction.Thin"/>), and state readings only when no telemetry is left.</summary>
    /// <exception cref="SqliteException">The card refused the delete.</exception>
    private long Evict(long n, string reason)
    {
        using var tx = _db.BeginTransaction();
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.Parameters.AddWithValue("$n", n);
        cmd.Parameters.AddWithValue("$state", StateUnit);
        // Acknowledged rows whose delete is pending go first, as acknowledgements (not counted as evicted).
        var acked = _unappliedAcks.Count > 0 ? DeleteRuns(_unappliedAcks, tx) : 0;
        long removed = 0;
        if (_options.Eviction == OutboxEviction.Thin)
        {
            cmd.Parameters.AddWithValue("$span", n * 2);
            cmd.CommandText = """
                DELETE FROM outbox WHERE seq IN (
                  SELECT seq FROM (
                    SELECT seq, row_number() OVER (PARTITION BY channel ORDER BY seq) AS rn
                    FROM (SELECT seq, channel FROM outbox WHERE unit <> $state ORDER BY seq LIMIT $span))
                  WHERE rn % 2 = 0)
                """;
            removed = cmd.ExecuteNonQuery();
        }

        if (removed == 0)
        {
            cmd.CommandText = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE unit <> $state ORDER BY seq LIMIT $n)";
            removed = cmd.ExecuteNonQuery();
        }

        if (removed == 0)
        {
            cmd.CommandText = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT $n)";
            removed = cmd.ExecuteNonQuery();
        }

        if (removed > 0)
        {
            AddDropped(reason, removed);
            SaveDirtyDropped(tx);
        }

        tx.Commit();
        if (acked > 0 || _unappliedAcks.Count > 0)
        {
            _count -= acked;
            _unappliedAcks.Clear();
            _unappliedAckRows = 0;
        }

        if (removed > 0)
        {
            _count -= removed;
            _droppedDirty.Clear();
            _logger.Evicted(removed, reason);
        }

        return removed + acked;
    }

    private void EvictOlderThan(DateTimeOffset cutoff)
    {
        using var tx = _db.BeginTransaction();
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        // Only the oldest rows are looked at (ts has no index; rows are appended in time order): 10 000 per check is
        // far more than a gateway appends in AgeCheckInterval.
        cmd.CommandText = """
            DELETE FROM outbox WHERE seq IN (
              SELECT seq FROM (SELECT seq, ts FROM outbox ORDER BY seq LIMIT 10000) WHERE ts < $cut)
            """;
        cmd.Parameters.AddWithValue("$cut", cutoff.ToUnixTimeMilliseconds());
        long removed = cmd.ExecuteNonQuery();
        if (removed > 0)
        {
            AddDropped("evicted_age", removed);
            SaveDirtyDropped(tx);
        }

        tx.Commit();
        if (removed > 0)
        {
            _count -= removed;
            _droppedDirty.Clear();
            _logger.Evicted(removed, "evicted_age");
        }
    }

    private void AddDropped(string reason, long n)
    {
        _dropped[reason] = _dropped.GetValueOrDefault(reason) + n;
        _droppedDirty.Add(reason);
    }

    private void SaveDirtyDropped(SqliteTransaction tx)
    {
        if (_droppedDirty.Count == 0)
        {
            return;
        }

        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO dropped(reason, n) VALUES ($r, $n) ON CONFLICT(reason) DO UPDATE SET n = excluded.n";
        var r = cmd.Parameters.Add(new SqliteParameter("$r", null));
        var n = cmd.Parameters.Add(new SqliteParameter("$n", null));
        foreach (var reason in _droppedDirty)
        {
            r.Value = reason;
            n.Value = _dropped[reason];
            cmd.ExecuteNonQuery();
        }
    }

    private void LoadDropped()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT reason, n FROM dropped";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            _dropped[r.GetString(0)] = r.GetInt64(1);
        }
    }

    /// <summary>Checkpoints (TRUNCATE) when the WAL is over <see cref="OutboxOptions.WalMaxBytes"/>, when
    /// <see cref="OutboxOptions.CheckpointInterval"/> has passed (monotonic clock), or when the WAL holds more than half
    /// of the card's free space: a checkpoint may have to grow the database file by up to the WAL's size, so a WAL
    /// larger than the free space could never be checkpointed again once the card fills (the card would stay full with
    /// nothing able to free it). Near a full card this checkpoints after every write.</summary>
    private void MaybeCheckpoint()
    {
        var wal = FileLength(Path + "-wal");
        if (wal > _options.WalMaxBytes || _time.GetElapsedTime(_lastCheckpoint) >= _options.CheckpointInterval
            || (wal > 0 && FreeBytes() is >= 0 and var free && wal > free / 2))
        {
            TryCheckpoint();
        }
    }

    /// <summary>wal_checkpoint(TRUNCATE): copies the WAL into the database and truncates it to 0 bytes. Never throws.</summary>
    private void TryCheckpoint()
    {
        _lastCheckpoint = _time.GetTimestamp();
        try
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
            }
        }
        catch (SqliteException ex)
        {
            _diskErrors++;
            if (!_diskTrouble)
            {
                _diskTrouble = true;
                _logger.DiskTrouble("checkpoint", ex.Message);
            }
        }
    }

    // ---- clock ----

    private long MonotonicMilliseconds() => (long)((decimal)_time.GetTimestamp() * 1000 / _time.TimestampFrequency);

    private void MarkOtherBootsUncorrectable()
    {
        if (_clock is null)
        {
            return;
        }

        try
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "UPDATE clock_untrusted SET uncorrectable = 1 WHERE uncorrectable = 0 AND boot_id <> $b";
            cmd.Parameters.AddWithValue("$b", _clock.BootId);
            cmd.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            _diskErrors++;
        }

        _hasPendingClock = Scalar("SELECT count(*) FROM clock_untrusted WHERE uncorrectable = 0") > 0;
    }

    /// <summary>The clock was just found synchronised: readings appended before, in this boot, get ts += offset, where
    /// offset = (wall now − monotonic elapsed since their append) − the wall time recorded at their append.</summary>
    private void TryCorrectClock()
    {
        var nowWall = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var nowMono = MonotonicMilliseconds();
        var boot = _clock!.BootId;
        long corrected = 0;
        long lastOffset = 0;
        var ok = TryWrite("clock correction", tx =>
        {
            var batches = new List<(long First, long Last, long Mono, long Wall)>();
            using (var q = _db.CreateCommand())
            {
                q.Transaction = tx;
                q.CommandText = "SELECT first_seq, last_seq, mono_ms, wall_ms FROM clock_untrusted WHERE uncorrectable = 0 AND boot_id = $b";
                q.Parameters.AddWithValue("$b", boot);
                using var r = q.ExecuteReader();
                while (r.Read())
                {
                    batches.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)));
                }
            }

            using var upd = _db.CreateCommand();
            upd.Transaction = tx;
            upd.CommandText = "UPDATE outbox SET ts = ts + $o WHERE seq BETWEEN $f AND $l";
            var o = upd.Parameters.Add(new SqliteParameter("$o", null));
            var f = upd.Parameters.Add(new SqliteParameter("$f", null));
            var l = upd.Parameters.Add(new SqliteParameter("$l", null));
            long n = 0;
            foreach (var b in batches)
            {
                lastOffset = nowWall - (nowMono - b.Mono) - b.Wall;
                o.Value = lastOffset;
                f.Value = b.First;
                l.Value = b.Last;
                n += upd.ExecuteNonQuery();
            }

            using var del = _db.CreateCommand();
            del.Transaction = tx;
            del.CommandText = "DELETE FROM clock_untrusted WHERE uncorrectable = 0 AND boot_id = $b; UPDATE clock_untrusted SET uncorrectable = 1 WHERE uncorrectable = 0";
            del.Parameters.AddWithValue("$b", boot);
            del.ExecuteNonQuery();
            return n;
        }, 0, out corrected);
        if (ok)
        {
            _hasPendingClock = false;
            _logger.ClockCorrected(corrected, TimeSpan.FromMilliseconds(lastOffset));
        }
    }

    private long CountClockUntrusted()
    {
        try
        {
            return Scalar("SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM clock_untrusted");
        }
        catch (SqliteException)
        {
            return -1;
        }
    }

    // ---- opening ----

    private SqliteConnection OpenChecked()
    {
        var fresh = !File.Exists(Path) || new FileInfo(Path).Length == 0;
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        try
        {
            db.Open();
            using var cmd = db.CreateCommand();
            if (fresh)
            {
                cmd.CommandText = FormattableString.Invariant($"PRAGMA page_size={NewFilePageSize}");
                cmd.ExecuteNonQuery();
            }

            cmd.CommandText = FormattableString.Invariant($"""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                PRAGMA journal_size_limit={_options.WalMaxBytes};
                """);
            cmd.ExecuteNonQuery();
            if (!fresh)
            {
                cmd.CommandText = "PRAGMA quick_check";
                var problems = new List<string>();
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        problems.Add(r.GetString(0));
                    }
                }

                if (problems is not ["ok"])
                {
                    throw new OutboxCorruptException("quick_check: " + string.Join("; ", problems.Take(3)));
                }
            }

            // Additive, in-place schema: a table or column is only ever added (CREATE ... IF NOT EXISTS), never
            // rebuilt, so a file written by any earlier version opens with all its readings.
            cmd.CommandText = """
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
                CREATE TABLE IF NOT EXISTS dropped(reason TEXT PRIMARY KEY, n INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS clock_untrusted(
                    first_seq INTEGER PRIMARY KEY,
                    last_seq INTEGER NOT NULL,
                    boot_id TEXT NOT NULL,
                    mono_ms INTEGER NOT NULL,
                    wall_ms INTEGER NOT NULL,
                    uncorrectable INTEGER NOT NULL);
                """;
            cmd.ExecuteNonQuery();
            cmd.CommandText = FormattableString.Invariant($"PRAGMA wal_autocheckpoint={Math.Max(16, _options.WalMaxBytes / NewFilePageSize)}");
            cmd.ExecuteNonQuery();
            return db;
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    private static bool IsCorruption(Exception ex) =>
        ex is OutboxCorruptException || ex is SqliteException { SqliteErrorCode: 11 or 26 }; // SQLITE_CORRUPT, SQLITE_NOTADB

    private static bool IsDiskTrouble(SqliteException ex) =>
        (ex.SqliteErrorCode & 0xff) is 13 or 10; // SQLITE_FULL, SQLITE_IOERR (sqlite.org/rescode.html)

    private string QuarantineDirectory => System.IO.Path.Combine(_directory, "quarantine");

    /// <summary>Moves the outbox file and its -wal and -shm into <c>quarantine/</c>, named with the UTC time.</summary>
    private void Quarantine(string reason)
    {
        Directory.CreateDirectory(QuarantineDirectory);
        var stamp = _time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var target = System.IO.Path.Combine(QuarantineDirectory, System.IO.Path.GetFileName(Path) + "." + stamp);
        for (var i = 1; File.Exists(target); i++)
        {
            target = System.IO.Path.Combine(QuarantineDirectory,
                System.IO.Path.GetFileName(Path) + "." + stamp + "-" + i.ToString(CultureInfo.InvariantCulture));
        }

        File.Move(Path, target);
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            if (File.Exists(Path + suffix))
            {
                File.Move(Path + suffix, target + suffix);
            }
        }

        _logger.Quarantined(Path, reason, target);
    }

    private int CountQuarantined()
    {
        if (!Directory.Exists(QuarantineDirectory))
        {
            return 0;
        }

        var prefix = System.IO.Path.GetFileName(Path) + ".";
        return Directory.EnumerateFiles(QuarantineDirectory)
            .Select(System.IO.Path.GetFileName)
            .Count(n => n!.StartsWith(prefix, StringComparison.Ordinal)
                && !n.EndsWith("-wal", StringComparison.Ordinal) && !n.EndsWith("-shm", StringComparison.Ordinal));
    }

    private long UsedBytes() => Scalar(
        "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size())");

    private long FreelistBytes() => Scalar(
        "SELECT (SELECT freelist_count FROM pragma_freelist_count()) * (SELECT page_size FROM pragma_page_size())");

    private long FreeBytes()
    {
        try
        {
            return new DriveInfo(_directory).AvailableFreeSpace;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
        catch (ArgumentException)
        {
            return -1;
        }
    }

    private static long FileLength(string path) => new FileInfo(path) is { Exists: true } f ? f.Length : 0;

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
        // Drawn from Guid.NewGuid (the OS CSPRNG through System.Native), not RandomNumberGenerator: on Linux that loads
        // OpenSSL's libcrypto, 3.4 MB resident for the gateway's whole life for these 12 characters (docs/BENCHMARKS.md,
        // "Gateway footprint"). The two halves are XORed so the GUID's fixed version and variant bits cancel out.
        Span<byte> bytes = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(bytes);
        var random = BinaryPrimitives.ReadUInt64LittleEndian(bytes) ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        var id = string.Create(12, random, static (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[(int)(r % (ulong)alphabet.Length)];
                r /= (ulong)alphabet.Length;
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

    private long Scalar(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }
}

/// <summary>A range of outbox sequences whose timestamps came from an untrusted wall clock (see
/// <see cref="SqliteOutbox.ClockUntrusted"/>).</summary>
/// <param name="First">First sequence of the append batch.</param>
/// <param name="Last">Last sequence of the append batch.</param>
/// <param name="Uncorrectable">True when taken in another boot: the timestamps stay as they are and are wrong by an
/// unknown offset.</param>
public sealed record ClockUntrustedRange(long First, long Last, bool Uncorrectable);

/// <summary>The outbox file failed SQLite's <c>PRAGMA quick_check</c>.</summary>
public sealed class OutboxCorruptException(string message) : Exception(message);
