using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using System.Runtime.InteropServices;

namespace IocEdge.Aggregator.Storage;

/// <summary>One stored reading not yet folded into <c>chunks</c>: written by the commit of journal row <paramref name="JournalId"/> (its receive time is the reading's <see cref="ChunkReading.Received"/>).</summary>
internal readonly record struct PendingReading(long JournalId, long Stream, ChunkReading Reading);

/// <summary>
/// The store's journal (table <c>journal</c>): each commit appends one row holding all its new readings, so a commit
/// writes sequential pages at the end of one B-tree instead of a page per series in <c>chunks</c>, the rollups and
/// <c>series</c> (at 1 Hz a commit holds one reading per series, and those per-series pages were ~2.5 KB written per
/// reading at province scale: docs/BENCHMARKS.md). The readings are folded into chunks, rollups and latest values
/// later, many commits at a time (<see cref="ReadingStore.FoldInterval"/>), by <c>ReadingStore</c>.
/// </summary>
/// <remarks>
/// Row data: groups of one series, stream and minute, each
/// <c>varint series · varint stream · zigzag-varint minute · varint length · ChunkCodec bytes</c> (the chunk layout,
/// so a journal row is read back with the same codec). The rows are the durable copy; <see cref="UnfoldedReadings"/>
/// indexes them in memory by series for reads.
/// </remarks>
internal static class Journal
{
    /// <summary>
    /// Encodes <paramref name="groups"/> into <paramref name="buffer"/> (grown as needed); returns the bytes written.
    /// Every reading of a group must lie in the group's minute.
    /// </summary>
    public static int Encode(IEnumerable<KeyValuePair<(long Series, long Stream, long Minute), List<ChunkReading>>> groups, long received,
        ref byte[] buffer)
    {
        var p = 0;
        foreach (var ((series, stream, minute), list) in groups)
        {
            var need = p + (4 * 10) + ChunkCodec.MaxLength(list.Count);
            if (buffer.Length < need)
            {
                Array.Resize(ref buffer, Math.Max(need, 2 * buffer.Length));
            }

            var span = buffer.AsSpan();
            p += ChunkCodec.WriteVarint(span[p..], (ulong)series);
            p += ChunkCodec.WriteVarint(span[p..], (ulong)stream);
            p += ChunkCodec.WriteVarint(span[p..], ChunkCodec.ZigZag(minute));
            // The length goes in front of the chunk: encode the chunk after a 5-byte gap, then close it up.
            var gap = p + 5;
            var length = ChunkCodec.Encode(CollectionsMarshal.AsSpan(list), minute, received, span[gap..]);
            p += ChunkCodec.WriteVarint(span[p..], (ulong)length);
            span.Slice(gap, length).CopyTo(span[p..]);
            p += length;
        }

        return p;
    }

    /// <summary>
    /// Reads one journal row, received at <paramref name="received"/>: calls <paramref name="onReading"/> for each reading
    /// of <paramref name="onlySeries"/> (every series when null). Throws <see cref="InvalidDataException"/> on a row that
    /// ends early or an unknown chunk layout.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> data, long received, long? onlySeries, List<ChunkReading> scratch,
        Action<long, long, ChunkReading> onReading)
    {
        var p = 0;
        while (p < data.Length)
        {
            var series = (long)ChunkCodec.ReadVarint(data, ref p);
            var stream = (long)ChunkCodec.ReadVarint(data, ref p);
            var minute = ChunkCodec.UnZigZag(ChunkCodec.ReadVarint(data, ref p));
            var length = (int)ChunkCodec.ReadVarint(data, ref p);
            if (length < 0 || p + length > data.Length)
            {
                throw new InvalidDataException("journal row ends inside a chunk");
            }

            if (onlySeries is null || onlySeries == series)
            {
                scratch.Clear();
                ChunkCodec.Decode(data.Slice(p, length), minute, received, scratch);
                foreach (var r in scratch)
                {
                    onReading(series, stream, r);
                }
            }

            p += length;
        }
    }
}

/// <summary>
/// A fold in progress, as a reader's snapshot or the writer's transaction sees it (table <c>fold</c>): every journal row
/// with an id up to <paramref name="UpTo"/> is being folded, series by series in ascending id, and the readings of series
/// up to <paramref name="SeriesDone"/> in those rows are already in <c>chunks</c>. <see cref="None"/> when no fold runs.
/// </summary>
internal readonly record struct FoldState(long UpTo, long SeriesDone)
{
    /// <summary>No fold in progress: every journal row's readings wait to be folded.</summary>
    public static readonly FoldState None = new(long.MinValue, long.MinValue);

    /// <summary>True when the reading of <paramref name="series"/> in journal row <paramref name="journalId"/> is already in chunks.</summary>
    public bool Folded(long journalId, long series) => journalId <= UpTo && series <= SeriesDone;
}

/// <summary>
/// The journal's rows not yet folded, indexed by series in memory: what reads merge with <c>chunks</c>. Written by the
/// store's writer after each commit (<see cref="Add"/>) and trimmed after each fold (<see cref="RemoveUpTo"/>); read by
/// any thread. A reader takes only the readings of journal rows that its own SQLite snapshot still holds (a fold deletes
/// its rows in its last transaction) and not yet folded by the <see cref="FoldState"/> of the same snapshot, and decodes
/// from the table any row of its snapshot this index does not hold (folded and trimmed since, or written by another
/// aggregator sharing the file): each reading is seen exactly once.
/// </summary>
/// <remarks>
/// One flat array of compact entries (56 bytes: no object per series or reading) in journal order (each row's readings
/// contiguous), each series' readings chained through it (first and last index per series); the array grows in steps of
/// 65,536 entries and keeps its capacity from fold to fold, so the index makes no garbage and costs ~56 bytes a reading at
/// its high-water mark (<see cref="ReadingStore.FoldReadings"/> plus what is committed while a fold runs: ~17 MB).
/// </remarks>
internal sealed class UnfoldedReadings
{
    private const int Step = 65_536;

    // The most the array grows by at once (entries; 56 bytes each: 14 MB), so that capacity overshoots the need by at
    // most that much near the store's backstop (ReadingStore.MaxUnfoldedReadings).
    private const int MaxGrowth = 262_144;

    private readonly Lock _lock = new();
    private Entry[] _entries = [];
    private int _count;
    private readonly List<Row> _rows = [];
    private readonly Dictionary<long, int> _rowOf = [];
    private readonly Dictionary<long, (int First, int Last)> _series = [];
    private long _minTimestamp = long.MaxValue;

    /// <summary>Readings held (all series).</summary>
    public int Count => _count;

    /// <summary>The earliest device timestamp held, Unix ms (<see cref="long.MaxValue"/> when empty).</summary>
    public long MinTimestamp => _minTimestamp;

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp at which the oldest row held was added (0 when empty).</summary>
    public long FirstAdded
    {
        get
        {
            lock (_lock)
            {
                return _rows.Count == 0 ? 0 : _rows[0].Added;
            }
        }
    }

    /// <summary>True when the readings of journal row <paramref name="journalId"/> are held.</summary>
    public bool Holds(long journalId)
    {
        lock (_lock)
        {
            return _rowOf.ContainsKey(journalId);
        }
    }

    /// <summary>The journal rows held with an id up to <paramref name="upTo"/> (the writer, for a fold).</summary>
    public int RowsUpTo(long upTo)
    {
        lock (_lock)
        {
            var n = 0;
            foreach (var row in _rows)
            {
                n += row.JournalId <= upTo ? 1 : 0;
            }

            return n;
        }
    }

    /// <summary>
    /// Adds the readings of one committed journal row (series, stream, reading), received at <paramref name="received"/>.
    /// Rows are normally added in journal order; one added out of order (a row of another aggregator sharing the file,
    /// adopted by a fold) puts the index back in journal order, so each series' chain stays in commit order.
    /// </summary>
    public void Add(long journalId, long received, List<(long Series, long Stream, ChunkReading Reading)> readings)
    {
        lock (_lock)
        {
            var outOfOrder = _rows.Count > 0 && journalId < _rows[^1].JournalId;
            AddLocked(new Row(journalId, received, System.Diagnostics.Stopwatch.GetTimestamp(), _count, readings.Count), readings);
            if (outOfOrder)
            {
                var order = _rows.OrderBy(r => r.JournalId).ToList();
                Rebuild(order);
            }
        }
    }

    private void AddLocked(Row row, List<(long Series, long Stream, ChunkReading Reading)> readings)
    {
        var index = _rows.Count;
        _rows.Add(row);
        _rowOf[row.JournalId] = index;
        Grow(_count + readings.Count);
        foreach (var (series, stream, r) in readings)
        {
            _minTimestamp = Math.Min(_minTimestamp, r.Ts);
            Append(new Entry
            {
                Seq = r.Seq, Ts = r.Ts, Value = r.Value ?? 0, Stream = stream, Series = series, Row = index, Next = -1,
                Quality = (byte)r.Quality, TsStatus = (byte)r.TsStatus, HasValue = r.Value.HasValue,
            });
        }
    }

    // Grows the array geometrically (by its own length, between Step and MaxGrowth entries at a time), so that holding n
    // readings costs O(log n) copies rather than n / Step copies of the whole array: at 250,000 readings/s the linear
    // growth re-allocated and copied a 30-60 MB array several times a second (8 % of the aggregator's CPU in a profile,
    // docs/BENCHMARKS.md wave 12). Entries are plain data, so the new array is not zeroed, and only the entries in use
    // are copied.
    private void Grow(int need)
    {
        if (need <= _entries.Length)
        {
            return;
        }

        var size = Math.Max(((need + Step - 1) / Step) * Step, _entries.Length + Math.Clamp(_entries.Length, Step, MaxGrowth));
        var bigger = GC.AllocateUninitializedArray<Entry>(size);
        _entries.AsSpan(0, _count).CopyTo(bigger);
        _entries = bigger;
    }

    private void Append(Entry e)
    {
        var at = _count++;
        _entries[at] = e;
        ref var chain = ref CollectionsMarshal.GetValueRefOrAddDefault(_series, e.Series, out var had);
        if (had)
        {
            _entries[chain.Last].Next = at;
            chain.Last = at;
        }
        else
        {
            chain = (at, at);
        }
    }

    /// <summary>
    /// Forgets the rows with a journal id up to <paramref name="upTo"/> (after the fold that deleted them committed); the
    /// later rows stay, moved to the front of the array, which keeps its capacity.
    /// </summary>
    public void RemoveUpTo(long upTo)
    {
        lock (_lock)
        {
            if (_rows.Count > 0 && _rows[0].JournalId > upTo)
            {
                return;
            }

            Rebuild(_rows.Where(r => r.JournalId > upTo).ToList());
        }
    }

    // Lays the rows' entries out again in the given order, from the front of the array (each row's entries are
    // contiguous), and rebuilds the chains, the row map and the minimum timestamp. In place when the order is the
    // array's own (every kept entry moves down or stays); through a copy otherwise.
    private void Rebuild(List<Row> order)
    {
        var source = _entries;
        var inPlace = true;
        for (var i = 1; i < order.Count && inPlace; i++)
        {
            inPlace = order[i].Start > order[i - 1].Start;
        }

        if (!inPlace)
        {
            source = (Entry[])_entries.Clone();
        }

        _count = 0;
        _rows.Clear();
        _rowOf.Clear();
        _series.Clear();
        _minTimestamp = long.MaxValue;
        foreach (var row in order)
        {
            var index = _rows.Count;
            _rows.Add(row with { Start = _count });
            _rowOf[row.JournalId] = index;
            for (var i = row.Start; i < row.Start + row.Count; i++)
            {
                var e = source[i];
                (e.Row, e.Next) = (index, -1);
                _minTimestamp = Math.Min(_minTimestamp, e.Ts);
                Append(e);
            }
        }
    }

    /// <summary>The series held, in ascending id order (the writer, for a fold).</summary>
    public long[] SeriesInOrder()
    {
        var ids = _series.Keys.ToArray();
        Array.Sort(ids);
        return ids;
    }

    /// <summary>Calls <paramref name="onReading"/> for each reading of <paramref name="series"/> in commit order (the writer, for a fold).</summary>
    public void ForEach(long series, Action<PendingReading> onReading)
    {
        if (!_series.TryGetValue(series, out var chain))
        {
            return;
        }

        for (var i = chain.First; i >= 0; i = _entries[i].Next)
        {
            onReading(Pending(i));
        }
    }

    /// <summary>
    /// Adds to <paramref name="into"/> (when given) the readings of <paramref name="series"/> (every series when null) from
    /// the journal rows in <paramref name="live"/> that <paramref name="fold"/> has not folded yet; returns how many, and
    /// the rows of <paramref name="live"/> this index does not hold.
    /// </summary>
    public (int Count, List<long> Missing) Collect(HashSet<long> live, FoldState fold, HashSet<long>? series,
        List<(long Series, PendingReading Reading)>? into)
    {
        var missing = new List<long>();
        var count = 0;
        if (live.Count == 0)
        {
            return (0, missing);
        }

        lock (_lock)
        {
            foreach (var id in live)
            {
                if (!_rowOf.ContainsKey(id))
                {
                    missing.Add(id);
                }
            }

            if (series is not null)
            {
                foreach (var one in series)
                {
                    if (_series.TryGetValue(one, out var chain))
                    {
                        count += CollectChain(one, chain.First, live, fold, into);
                    }
                }
            }
            else
            {
                foreach (var (s, chain) in _series)
                {
                    count += CollectChain(s, chain.First, live, fold, into);
                }
            }
        }

        return (count, missing);
    }

    private int CollectChain(long series, int first, HashSet<long> live, FoldState fold, List<(long Series, PendingReading Reading)>? into)
    {
        var count = 0;
        for (var i = first; i >= 0; i = _entries[i].Next)
        {
            var journalId = _rows[_entries[i].Row].JournalId;
            if (live.Contains(journalId) && !fold.Folded(journalId, series))
            {
                count++;
                into?.Add((series, Pending(i)));
            }
        }

        return count;
    }

    private PendingReading Pending(int i)
    {
        ref readonly var e = ref _entries[i];
        var row = _rows[e.Row];
        return new PendingReading(row.JournalId, e.Stream,
            new ChunkReading(e.Seq, e.Ts, e.HasValue ? e.Value : null, (Quality)e.Quality, (TimestampStatus)e.TsStatus, row.Received));
    }

    // A journal row held: its id, receive time (Unix ms), when it was added (Stopwatch ticks) and its entries.
    private readonly record struct Row(long JournalId, long Received, long Added, int Start, int Count);

    private struct Entry
    {
        public long Seq;
        public long Ts;
        public double Value;
        public long Stream;
        public long Series;
        public int Row;
        public int Next;
        public byte Quality;
        public byte TsStatus;
        public bool HasValue;
    }
}
