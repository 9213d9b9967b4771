using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// Writes new rows into <c>readings</c> through prepared multi-row INSERTs (64, 8 and 1 rows per statement, 8
/// parameters a row: 512 at most, well under SQLite's limit of 32,766), and finds which sequences of a message are
/// already stored with one primary-key range probe. Only rows known to be new are inserted, so the INSERT needs no
/// ON CONFLICT clause: a key that is there anyway is a bug, and fails the commit loudly (SQLITE_CONSTRAINT).
/// </summary>
internal sealed class InsertWriter : IDisposable
{
    /// <summary>Rows per statement, largest first; 64 was the fastest of 16/32/64/128/256 measured on the project's machine.</summary>
    private static readonly int[] Sizes = [64, 8, 1];

    private const int Columns = 8;
    private readonly RawStatement[] _inserts;
    private readonly RawStatement _existing;
    private readonly Row[] _rows = new Row[Sizes[0]];
    private int _count;

    /// <summary>Benchmarks only: where the probe and insert time is added (<see cref="ReadingStore.Timings"/>).</summary>
    public StoreTimings? Timings { get; set; }

    public InsertWriter(SqliteConnection writer)
    {
        _inserts = Sizes.Select(n => new RawStatement(writer,
            "INSERT INTO readings(stream_id, seq, series_id, ts, value, quality, received, ts_status) VALUES " +
            string.Join(",", Enumerable.Repeat("(?,?,?,?,?,?,?,?)", n)))).ToArray();
        _existing = new RawStatement(writer, "SELECT seq FROM readings WHERE stream_id = ?1 AND seq BETWEEN ?2 AND ?3");
    }

    /// <summary>
    /// The sequences of <paramref name="readings"/> that <paramref name="streamId"/> already has stored (in an earlier
    /// commit or earlier in this one), or null when there are none: the common case costs one index seek.
    /// </summary>
    public HashSet<long>? ExistingSequences(long streamId, IReadOnlyList<SequencedReading> readings)
    {
        if (readings.Count == 0)
        {
            return null;
        }

        long min = long.MaxValue, max = long.MinValue;
        for (var i = 0; i < readings.Count; i++)
        {
            var s = readings[i].Sequence;
            min = Math.Min(min, s);
            max = Math.Max(max, s);
        }

        var mark = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        _existing.Bind(1, streamId);
        _existing.Bind(2, min);
        _existing.Bind(3, max);
        HashSet<long>? found = null;
        try
        {
            while (_existing.Step())
            {
                (found ??= []).Add(_existing.ColumnInt64(0));
            }
        }
        finally
        {
            _existing.Reset();
            Timings?.Lap(StoreSection.Probe, mark);
        }

        return found;
    }

    /// <summary>Queues one new row; written when 64 are queued or at <see cref="Flush"/>.</summary>
    public void Add(long streamId, long seq, long seriesId, long ts, double? value, int quality, long received, int tsStatus)
    {
        _rows[_count++] = new Row(streamId, seq, seriesId, ts, value, quality, received, tsStatus);
        if (_count == _rows.Length)
        {
            Write(0, _inserts[0], _count);
            _count = 0;
        }
    }

    /// <summary>Writes every queued row (inside the connection's open transaction).</summary>
    public void Flush()
    {
        var offset = 0;
        for (var k = 0; k < Sizes.Length; k++)
        {
            while (_count - offset >= Sizes[k])
            {
                Write(offset, _inserts[k], Sizes[k]);
                offset += Sizes[k];
            }
        }

        _count = 0;
    }

    /// <summary>Forgets queued rows and readies every statement (after a failed commit).</summary>
    public void Reset()
    {
        _count = 0;
        foreach (var s in _inserts)
        {
            s.Reset();
        }

        _existing.Reset();
    }

    public void Dispose()
    {
        foreach (var s in _inserts)
        {
            s.Dispose();
        }

        _existing.Dispose();
    }

    private void Write(int offset, RawStatement statement, int n)
    {
        var mark = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            ref readonly var r = ref _rows[offset + i];
            var p = i * Columns;
            statement.Bind(p + 1, r.StreamId);
            statement.Bind(p + 2, r.Seq);
            statement.Bind(p + 3, r.SeriesId);
            statement.Bind(p + 4, r.Ts);
            statement.Bind(p + 5, r.Value);
            statement.Bind(p + 6, r.Quality);
            statement.Bind(p + 7, r.Received);
            statement.Bind(p + 8, r.TsStatus);
        }

        statement.Execute();
        Timings?.Lap(StoreSection.Insert, mark);
    }

    private readonly record struct Row(long StreamId, long Seq, long SeriesId, long Ts, double? Value, int Quality, long Received, int TsStatus);
}
