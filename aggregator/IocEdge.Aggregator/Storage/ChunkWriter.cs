using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// Queues one commit's new readings by series, stream and minute and hands them to the commit's journal row
/// (<see cref="TakeForJournal"/>); a fold writes them as chunks (<see cref="Flush"/>; table <c>chunks</c>: one row per
/// series, stream, minute of device time and run of consecutive commits, the readings packed by <see cref="ChunkCodec"/>). Keeps each
/// stream's stored sequences as ranges (table <c>stored_seqs</c>, <see cref="SequenceRanges"/>). A commit of 5,000 readings over 100 channels is 100 chunk rows and one
/// range update per stream, where a row per reading was 5,000 rows in two B-trees: the B-tree work per reading is what
/// bounded the store (docs/BENCHMARKS.md, "the store's layout").
/// </summary>
/// <remarks>
/// Statements are prepared once and driven through <see cref="RawStatement"/>. Everything runs inside the write
/// connection's open transaction; on a failed commit the caller calls <see cref="Reset"/>, which forgets the queued
/// chunks and the chunk ids allocated in it.
/// </remarks>
internal sealed class ChunkWriter : IDisposable
{
    /// <summary>Most readings in one chunk row (about 6 KB at 12 bytes a reading): a backlog's minute is split into several.</summary>
    public const int MaxReadingsPerChunk = 512;

    // Lists kept for reuse between commits: a commit at 1 Hz from 1,000 gateways x 29 channels touches 29,000 series
    // with one reading each, so lists start small and only a bounded number of small ones is kept.
    private const int PooledLists = 4_096;
    private const int PooledListCapacity = 1_024;

    private readonly RawStatement _loadRanges;
    private readonly RawStatement _insertRange;
    private readonly RawStatement _updateRange;
    private readonly RawStatement _deleteRange;
    private readonly RawStatement _insertChunk;
    private readonly RawStatement _maxChunkId;
    private readonly Dictionary<(long Series, long Stream, long Minute), List<ChunkReading>> _pending = [];
    private readonly Stack<List<ChunkReading>> _free = new();
    private readonly Dictionary<long, long> _lastChunkId = [];
    private readonly Dictionary<long, long> _loadedLo = [];
    private byte[] _buffer = new byte[ChunkCodec.MaxLength(MaxReadingsPerChunk)];

    /// <summary>Benchmarks only: where the probe and insert time is added (<see cref="ReadingStore.Timings"/>).</summary>
    public StoreTimings? Timings { get; set; }

    public ChunkWriter(SqliteConnection writer)
    {
        // The ranges that overlap or touch [?2, ?3]: the last one starting at or before ?2, and every one starting in it.
        _loadRanges = new RawStatement(writer, """
            SELECT lo, hi FROM stored_seqs WHERE stream_id = ?1 AND lo <= ?3
              AND lo >= coalesce((SELECT max(lo) FROM stored_seqs WHERE stream_id = ?1 AND lo <= ?2), ?2)
            ORDER BY lo
            """);
        _insertRange = new RawStatement(writer, "INSERT INTO stored_seqs(stream_id, lo, hi) VALUES (?1, ?2, ?3)");
        _updateRange = new RawStatement(writer, "UPDATE stored_seqs SET hi = ?3 WHERE stream_id = ?1 AND lo = ?2");
        _deleteRange = new RawStatement(writer, "DELETE FROM stored_seqs WHERE stream_id = ?1 AND lo = ?2");
        _insertChunk = new RawStatement(writer,
            "INSERT INTO chunks(series_id, minute, id, stream_id, received, n, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        _maxChunkId = new RawStatement(writer, "SELECT coalesce(max(id), 0) FROM chunks WHERE series_id = ?1");
    }

    /// <summary>
    /// Loads into <paramref name="ranges"/> what <paramref name="streamId"/> already has stored around
    /// [<paramref name="min"/>, <paramref name="max"/>] (in an earlier commit or earlier in this one): one index seek for
    /// a contiguous stream.
    /// </summary>
    public void LoadRanges(long streamId, long min, long max, SequenceRanges ranges)
    {
        var mark = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        ranges.Clear();
        _loadRanges.Bind(1, streamId);
        _loadRanges.Bind(2, min == long.MinValue ? min : min - 1);
        _loadRanges.Bind(3, max == long.MaxValue ? max : max + 1);
        try
        {
            while (_loadRanges.Step())
            {
                ranges.AddLoaded(_loadRanges.ColumnInt64(0), _loadRanges.ColumnInt64(1));
            }
        }
        finally
        {
            _loadRanges.Reset();
            Timings?.Lap(StoreSection.Probe, mark);
        }
    }

    /// <summary>Writes back the ranges of <paramref name="streamId"/> with what this message added (<see cref="SequenceRanges.Merged"/>).</summary>
    public void SaveRanges(long streamId, SequenceRanges ranges)
    {
        if (!ranges.Changed)
        {
            return;
        }

        _loadedLo.Clear();
        foreach (var (lo, hi) in ranges.Loaded)
        {
            _loadedLo[lo] = hi;
        }

        var merged = ranges.Merged();
        foreach (var (lo, _) in merged)
        {
            _loadedLo.Remove(lo, out _);
        }

        // Rows whose start is no longer a start go first, so that no key is ever held twice.
        foreach (var lo in _loadedLo.Keys)
        {
            _deleteRange.Bind(1, streamId);
            _deleteRange.Bind(2, lo);
            _deleteRange.Execute();
        }

        foreach (var (lo, hi) in merged)
        {
            var old = ranges.Loaded;
            var had = false;
            for (var i = 0; i < old.Count && !had; i++)
            {
                if (old[i].Lo == lo)
                {
                    had = true;
                    if (old[i].Hi != hi)
                    {
                        _updateRange.Bind(1, streamId);
                        _updateRange.Bind(2, lo);
                        _updateRange.Bind(3, hi);
                        _updateRange.Execute();
                    }
                }
            }

            if (!had)
            {
                _insertRange.Bind(1, streamId);
                _insertRange.Bind(2, lo);
                _insertRange.Bind(3, hi);
                _insertRange.Execute();
            }
        }
    }

    /// <summary>Queues one new reading of <paramref name="seriesId"/> for this commit's chunks.</summary>
    public void Add(long seriesId, long streamId, in ChunkReading reading)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_pending, (seriesId, streamId, ChunkCodec.Minute(reading.Ts)), out _);
        list ??= _free.Count > 0 ? _free.Pop() : new List<ChunkReading>(4);
        list.Add(reading);
    }

    /// <summary>Writes every queued reading as chunk rows received at <paramref name="received"/> (Unix ms).</summary>
    public void Flush(long received)
    {
        foreach (var ((series, stream, minute), list) in _pending)
        {
            var all = CollectionsMarshal.AsSpan(list);
            for (var start = 0; start < all.Length; start += MaxReadingsPerChunk)
            {
                var part = all.Slice(start, Math.Min(MaxReadingsPerChunk, all.Length - start));
                var length = ChunkCodec.Encode(part, minute, received, _buffer);
                _insertChunk.Bind(1, series);
                _insertChunk.Bind(2, minute);
                _insertChunk.Bind(3, NextChunkId(series));
                _insertChunk.Bind(4, stream);
                _insertChunk.Bind(5, received);
                _insertChunk.Bind(6, part.Length);
                _insertChunk.Bind(7, _buffer.AsSpan(0, length));
                _insertChunk.Execute();
            }

            Recycle(list);
        }

        _pending.Clear();
    }

    /// <summary>
    /// Encodes every queued reading as the data of one journal row (<see cref="Journal.Encode"/>) into
    /// <paramref name="buffer"/>, adds each to <paramref name="staged"/> (series, stream, reading) and forgets them;
    /// returns the bytes written. The journal row is folded into chunks later (<see cref="Flush"/>).
    /// </summary>
    public int TakeForJournal(long received, ref byte[] buffer, List<(long Series, long Stream, ChunkReading Reading)> staged)
    {
        var mark = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        var length = Journal.Encode(_pending, received, ref buffer);
        foreach (var ((series, stream, _), list) in _pending)
        {
            foreach (var r in list)
            {
                staged.Add((series, stream, r));
            }

            Recycle(list);
        }

        _pending.Clear();
        Timings?.Lap(StoreSection.Insert, mark);
        return length;
    }

    /// <summary>Forgets queued readings and allocated chunk ids, and readies every statement (after a failed commit).</summary>
    public void Reset()
    {
        foreach (var list in _pending.Values)
        {
            Recycle(list);
        }

        _pending.Clear();
        _lastChunkId.Clear();
        foreach (var s in Statements())
        {
            s.Reset();
        }
    }

    public void Dispose()
    {
        foreach (var s in Statements())
        {
            s.Dispose();
        }
    }

    private void Recycle(List<ChunkReading> list)
    {
        if (_free.Count < PooledLists && list.Capacity <= PooledListCapacity)
        {
            list.Clear();
            _free.Push(list);
        }
    }

    private RawStatement[] Statements() => [_loadRanges, _insertRange, _updateRange, _deleteRange, _insertChunk, _maxChunkId];

    // Chunk ids are per series and increase in receive order (the newest-first listing walks them backwards).
    private long NextChunkId(long series)
    {
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_lastChunkId, series, out var had);
        if (!had)
        {
            _maxChunkId.Bind(1, series);
            try
            {
                _maxChunkId.Step();
                last = _maxChunkId.ColumnInt64(0);
            }
            finally
            {
                _maxChunkId.Reset();
            }
        }

        return ++last;
    }
}
