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
    public static int Encode(IEnumerable<KeyValuePair<(long Series, long Stream, long Minute), List<ChunkReading>>> groups, ref byte[] buffer)
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
            var length = ChunkCodec.Encode(CollectionsMarshal.AsSpan(list), minute, span[gap..]);
            p += ChunkCodec.WriteVarint(span[p..], (ulong)length);
            span.Slice(gap, length).CopyTo(span[p..]);
            p += length;
        }

        return p;
    }

    /// <summary>
    /// Reads one journal row: calls <paramref name="onReading"/> for each reading of <paramref name="onlySeries"/> (every
    /// series when null). Throws <see cref="InvalidDataException"/> on a row that ends early or an unknown chunk layout.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> data, long? onlySeries, List<ChunkReading> scratch,
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
                ChunkCodec.Decode(data.Slice(p, length), minute, scratch);
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
internal sealed class UnfoldedReadings
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, List<PendingReading>> _bySeries = [];
    private readonly HashSet<long> _journalIds = [];
    private long _firstAdded;

    /// <summary>Readings held (all series).</summary>
    public int Count { get; private set; }

    /// <summary>Journal rows held.</summary>
    public int Rows
    {
        get
        {
            lock (_lock)
            {
                return _journalIds.Count;
            }
        }
    }

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the first <see cref="Add"/> since the last fold (0 when empty).</summary>
    public long FirstAdded => _firstAdded;

    /// <summary>Adds the readings of one committed journal row (series, reading).</summary>
    public void Add(long journalId, long received, List<(long Series, long Stream, ChunkReading Reading)> readings)
    {
        lock (_lock)
        {
            _journalIds.Add(journalId);
            foreach (var (series, stream, reading) in readings)
            {
                ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_bySeries, series, out _);
                list ??= new List<PendingReading>(4);
                list.Add(new PendingReading(journalId, stream, received, reading));
            }

            Count += readings.Count;
            if (_firstAdded == 0)
            {
                _firstAdded = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>Forgets everything (after a fold committed, or a failed one that will be redone from the journal).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _bySeries.Clear();
            _journalIds.Clear();
            Count = 0;
            _firstAdded = 0;
        }
    }

    /// <summary>
    /// The writer's view for a fold: each series' readings in journal order, and the journal rows. Only the writer calls
    /// it, and only it mutates, so no copy is made.
    /// </summary>
    public (IReadOnlyDictionary<long, List<PendingReading>> BySeries, IReadOnlyCollection<long> JournalIds) ForFold() =>
        (_bySeries, _journalIds);

    /// <summary>
    /// Adds to <paramref name="into"/> the readings of <paramref name="series"/> (every series when null) from the journal
    /// rows in <paramref name="live"/>; returns the rows of <paramref name="live"/> this index does not hold.
    /// </summary>
    public List<long> Collect(IReadOnlyCollection<long> live, long? series, List<(long Series, PendingReading Reading)> into)
    {
        var missing = new List<long>();
        if (live.Count == 0)
        {
            return missing;
        }

        var liveSet = live as HashSet<long> ?? [.. live];
        lock (_lock)
        {
            foreach (var id in live)
            {
                if (!_journalIds.Contains(id))
                {
                    missing.Add(id);
                }
            }

            if (series is { } one)
            {
                if (_bySeries.TryGetValue(one, out var list))
                {
                    foreach (var p in list)
                    {
                        if (liveSet.Contains(p.JournalId))
                        {
                            into.Add((one, p));
                        }
                    }
                }
            }
            else
            {
                foreach (var (s, list) in _bySeries)
                {
                    foreach (var p in list)
                    {
                        if (liveSet.Contains(p.JournalId))
                        {
                            into.Add((s, p));
                        }
                    }
                }
            }
        }

        return missing;
    }
}
