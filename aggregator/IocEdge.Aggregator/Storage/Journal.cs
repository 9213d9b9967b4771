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
/// <remarks>
/// One flat array of readings in commit order, each series' readings chained through it (first and last index per
/// series): no object per series or reading, and the array's capacity is kept from fold to fold, so the index costs
/// ~72 bytes a reading at its high-water mark and makes no garbage (a list per series cost twice that at 29,000 series).
/// </remarks>
internal sealed class UnfoldedReadings
{
    private readonly Lock _lock = new();
    private readonly List<(PendingReading Reading, int Next)> _readings = [];
    private readonly Dictionary<long, (int First, int Last)> _series = [];
    private readonly HashSet<long> _journalIds = [];
    private long _firstAdded;

    /// <summary>Readings held (all series).</summary>
    public int Count => _readings.Count;

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the first <see cref="Add"/> since the last fold (0 when empty).</summary>
    public long FirstAdded => _firstAdded;

    /// <summary>Adds the readings of one committed journal row (series, stream, reading), received at <paramref name="received"/>.</summary>
    public void Add(long journalId, long received, List<(long Series, long Stream, ChunkReading Reading)> readings)
    {
        lock (_lock)
        {
            _journalIds.Add(journalId);
            foreach (var (series, stream, reading) in readings)
            {
                var at = _readings.Count;
                _readings.Add((new PendingReading(journalId, stream, received, reading), -1));
                ref var chain = ref CollectionsMarshal.GetValueRefOrAddDefault(_series, series, out var had);
                if (had)
                {
                    var span = CollectionsMarshal.AsSpan(_readings);
                    span[chain.Last].Next = at;
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
            _readings.Clear();
            _series.Clear();
            _journalIds.Clear();
            _firstAdded = 0;
        }
    }

    /// <summary>The journal rows held. Only the writer calls it (it alone mutates), so no copy is made.</summary>
    public IReadOnlyCollection<long> JournalIds => _journalIds;

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

        for (var i = chain.First; i >= 0; i = _readings[i].Next)
        {
            onReading(_readings[i].Reading);
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
                if (!_journalIds.Contains(id))
                {
                    missing.Add(id);
                }
            }

            if (series is { } one)
            {
                if (_series.TryGetValue(one, out var chain))
                {
                    for (var i = chain.First; i >= 0; i = _readings[i].Next)
                    {
                        if (live.Contains(_readings[i].Reading.JournalId))
                        {
                            into.Add((one, _readings[i].Reading));
                        }
                    }
                }
            }
            else
            {
                foreach (var (s, chain) in _series)
                {
                    for (var i = chain.First; i >= 0; i = _readings[i].Next)
                    {
                        if (live.Contains(_readings[i].Reading.JournalId))
                        {
                            into.Add((s, _readings[i].Reading));
                        }
                    }
                }
            }
        }

        return missing;
    }
}
