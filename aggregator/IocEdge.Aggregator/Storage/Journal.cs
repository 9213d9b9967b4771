using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using System.Runtime.InteropServices;

namespace IocEdge.Aggregator.Storage;

/// <summary>One stored reading not yet folded into <c>chunks</c>: written by the commit of journal row <paramref name="JournalId"/>, received at <paramref name="Received"/> (Unix ms).</summary>
internal readonly record struct PendingReading(long JournalId, long Stream, long Received, ChunkReading Reading);

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
/// The journal's rows not yet folded, indexed by series in memory: what reads merge with <c>chunks</c>. Written by the
/// store's writer after each commit (<see cref="Add"/>) and emptied after each fold (<see cref="Clear"/>); read by any
/// thread. A reader takes only the readings of journal rows that its own SQLite snapshot still holds (a row is deleted in
/// the transaction that folds it), and decodes from the table any row of its snapshot this index does not hold (folded
/// and cleared since, or written by another aggregator sharing the file): each reading is seen exactly once.
/// </summary>
/// <remarks>
/// One flat array of compact entries (48 bytes: no object per series or reading) in commit order, each series' readings
/// chained through it (first and last index per series); the array grows in steps of 65,536 entries and keeps its
/// capacity from fold to fold, so the index makes no garbage and costs ~48 bytes a reading at its high-water mark
/// (<see cref="ReadingStore.FoldReadings"/> plus one commit: ~17 MB).
/// </remarks>
internal sealed class UnfoldedReadings
{
    private const int Step = 65_536;

    private readonly Lock _lock = new();
    private Entry[] _entries = [];
    private int _count;
    private readonly List<(long JournalId, long Received)> _rows = [];
    private readonly Dictionary<long, int> _rowOf = [];
    private readonly Dictionary<long, (int First, int Last)> _series = [];
    private long _firstAdded;
    private long _minTimestamp = long.MaxValue;

    /// <summary>Readings held (all series).</summary>
    public int Count => _count;

    /// <summary>The earliest device timestamp held, Unix ms (<see cref="long.MaxValue"/> when empty).</summary>
    public long MinTimestamp => _minTimestamp;

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the first <see cref="Add"/> since the last fold (0 when empty).</summary>
    public long FirstAdded => _firstAdded;

    /// <summary>Adds the readings of one committed journal row (series, stream, reading), received at <paramref name="received"/>.</summary>
    public void Add(long journalId, long received, List<(long Series, long Stream, ChunkReading Reading)> readings)
    {
        lock (_lock)
        {
            var row = _rows.Count;
            _rows.Add((journalId, received));
            _rowOf[journalId] = row;
            if (_count + readings.Count > _entries.Length)
            {
                Array.Resize(ref _entries, ((_count + readings.Count + Step - 1) / Step) * Step);
            }

            foreach (var (series, stream, r) in readings)
            {
                _minTimestamp = Math.Min(_minTimestamp, r.Ts);
                var at = _count++;
                _entries[at] = new Entry
                {
                    Seq = r.Seq, Ts = r.Ts, Value = r.Value ?? 0, Stream = stream, Row = row, Next = -1,
                    Quality = (byte)r.Quality, TsStatus = (byte)r.TsStatus, HasValue = r.Value.HasValue,
                };
                ref var chain = ref CollectionsMarshal.GetValueRefOrAddDefault(_series, series, out var had);
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

            if (_firstAdded == 0)
            {
                _firstAdded = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>Forgets everything (after a fold committed); the array keeps its capacity for the next rows.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _count = 0;
            _rows.Clear();
            _rowOf.Clear();
            _series.Clear();
            _firstAdded = 0;
            _minTimestamp = long.MaxValue;
        }
    }

    /// <summary>The journal rows held. Only the writer calls it (it alone mutates), so no copy is made.</summary>
    public IReadOnlyCollection<long> JournalIds => _rowOf.Keys;

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
    /// Adds to <paramref name="into"/> the readings of <paramref name="series"/> (every series when null) from the journal
    /// rows in <paramref name="live"/>; returns the rows of <paramref name="live"/> this index does not hold.
    /// </summary>
    public List<long> Collect(HashSet<long> live, long? series, List<(long Series, PendingReading Reading)> into)
    {
        var missing = new List<long>();
        if (live.Count == 0)
        {
            return missing;
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

            if (series is { } one)
            {
                if (_series.TryGetValue(one, out var chain))
                {
                    CollectChain(one, chain.First, live, into);
                }
            }
            else
            {
                foreach (var (s, chain) in _series)
                {
                    CollectChain(s, chain.First, live, into);
                }
            }
        }

        return missing;
    }

    private void CollectChain(long series, int first, HashSet<long> live, List<(long Series, PendingReading Reading)> into)
    {
        for (var i = first; i >= 0; i = _entries[i].Next)
        {
            if (live.Contains(_rows[_entries[i].Row].JournalId))
            {
                into.Add((series, Pending(i)));
            }
        }
    }

    private PendingReading Pending(int i)
    {
        ref readonly var e = ref _entries[i];
        var (journalId, received) = _rows[e.Row];
        return new PendingReading(journalId, e.Stream, received,
            new ChunkReading(e.Seq, e.Ts, e.HasValue ? e.Value : null, (Quality)e.Quality, (TimestampStatus)e.TsStatus, received));
    }

    private struct Entry
    {
        public long Seq;
        public long Ts;
        public double Value;
        public long Stream;
        public int Row;
        public int Next;
        public byte Quality;
        public byte TsStatus;
        public bool HasValue;
    }
}
