using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// The 1-minute and 1-hour rollups (issue 15 "Store"): per series and bucket, count, sum, min, max and the last value
/// (newest device timestamp, ties: highest sequence; <see cref="HistoryBucket"/>'s rule). One fold's new
/// measurements (quality good, a value, a plausible timestamp: never a duplicate, which is not journalled) are reduced
/// in memory, then merged into <c>rollup_1m</c> and <c>rollup_1h</c> with one UPSERT per series and bucket, in the
/// same transaction as the fold's chunks: a rollup never counts a reading the store does not hold, nor misses one it does.
/// </summary>
internal sealed class Rollups : IDisposable
{
    /// <summary>The rollup granularities in milliseconds, and their tables.</summary>
    public static readonly (long StepMs, string Table)[] Levels = [(60_000, "rollup_1m"), (3_600_000, "rollup_1h")];

    /// <summary>The tables, created with the store's schema.</summary>
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS rollup_1m(
            series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
            min_value REAL NOT NULL, max_value REAL NOT NULL, last_ts INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_value REAL NOT NULL,
            PRIMARY KEY(series_id, bucket)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rollup_1h(
            series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
            min_value REAL NOT NULL, max_value REAL NOT NULL, last_ts INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_value REAL NOT NULL,
            PRIMARY KEY(series_id, bucket)) WITHOUT ROWID;
        """;

    private readonly Dictionary<(long Series, long Bucket), Acc>[] _pending = [new(), new()];
    private readonly RawStatement[] _upserts;

    public Rollups(SqliteConnection writer)
    {
        _upserts = Levels.Select(l => new RawStatement(writer, $"""
            INSERT INTO {l.Table}(series_id, bucket, count, sum, min_value, max_value, last_ts, last_seq, last_value)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            ON CONFLICT(series_id, bucket) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
                min_value = min(min_value, excluded.min_value), max_value = max(max_value, excluded.max_value),
                last_value = CASE WHEN excluded.last_ts > last_ts OR (excluded.last_ts = last_ts AND excluded.last_seq > last_seq)
                    THEN excluded.last_value ELSE last_value END,
                last_seq = CASE WHEN excluded.last_ts > last_ts OR (excluded.last_ts = last_ts AND excluded.last_seq > last_seq)
                    THEN excluded.last_seq ELSE last_seq END,
                last_ts = max(last_ts, excluded.last_ts)
            """)).ToArray();
    }

    /// <summary>
    /// Builds both rollup tables from the stored readings (a store created before rollups existed, on its first open by
    /// this version), in one transaction; returns how many readings went in. Same rule as <see cref="AddRun"/>. Such a store
    /// predates chunks too: this reads its row-per-reading <c>readings</c> table, before <see cref="LegacyReadings"/>
    /// moves it into chunks.
    /// </summary>
    public static long Backfill(SqliteConnection writer)
    {
        using var tx = writer.BeginTransaction();
        using var cmd = writer.CreateCommand();
        cmd.Transaction = tx;
        long rows = 0;
        foreach (var (step, table) in Levels)
        {
            cmd.CommandText = $"""
                INSERT INTO {table}(series_id, bucket, count, sum, min_value, max_value, last_ts, last_seq, last_value)
                SELECT series_id, ts - ts % {step} AS b, count(*), sum(value), min(value), max(value), 0, 0, 0
                FROM readings WHERE quality = 0 AND ts_status = 0 AND value IS NOT NULL AND ts >= 0 GROUP BY series_id, b;
                UPDATE {table} SET (last_ts, last_seq, last_value) = (
                    SELECT r.ts, r.seq, r.value FROM readings r
                    WHERE r.series_id = {table}.series_id AND r.ts >= {table}.bucket AND r.ts < {table}.bucket + {step}
                      AND r.quality = 0 AND r.ts_status = 0 AND r.value IS NOT NULL
                    ORDER BY r.ts DESC, r.seq DESC LIMIT 1);
                SELECT coalesce(sum(count), 0) FROM {table};
                """;
            rows = (long)cmd.ExecuteScalar()!;
        }

        tx.Commit();
        return rows;
    }

    /// <summary>
    /// Adds the measurements of one series that all lie in one minute (a fold's run, reduced with <see cref="Acc.Add"/>).
    /// One bucket lookup per level for the whole run.
    /// </summary>
    public void AddRun(long seriesId, in Acc run)
    {
        for (var l = 0; l < Levels.Length; l++)
        {
            var step = Levels[l].StepMs;
            var bucket = run.LastTs - (((run.LastTs % step) + step) % step);
            ref var a = ref CollectionsMarshal.GetValueRefOrAddDefault(_pending[l], (seriesId, bucket), out var had);
            if (had)
            {
                a.Merge(run);
            }
            else
            {
                a = run;
            }
        }
    }

    /// <summary>Merges this commit's buckets into the tables (inside the open transaction) and forgets them.</summary>
    public void Write()
    {
        for (var l = 0; l < Levels.Length; l++)
        {
            var u = _upserts[l];
            foreach (var ((series, bucket), a) in _pending[l])
            {
                u.Bind(1, series);
                u.Bind(2, bucket);
                u.Bind(3, a.Count);
                u.Bind(4, a.Sum);
                u.Bind(5, a.Min);
                u.Bind(6, a.Max);
                u.Bind(7, a.LastTs);
                u.Bind(8, a.LastSeq);
                u.Bind(9, a.LastValue);
                u.Execute();
            }

            _pending[l].Clear();
        }
    }

    /// <summary>Forgets this commit's buckets (after a failed commit).</summary>
    public void Clear()
    {
        foreach (var p in _pending)
        {
            p.Clear();
        }
    }

    /// <summary>Forgets this commit's buckets and readies the statements (after a failed commit).</summary>
    public void Reset()
    {
        Clear();
        foreach (var u in _upserts)
        {
            u.Reset();
        }
    }

    public void Dispose()
    {
        foreach (var u in _upserts)
        {
            u.Dispose();
        }
    }

    /// <summary>
    /// Measurements reduced: count, sum, min, max and the last value (newest device time, ties: highest sequence;
    /// <see cref="HistoryBucket"/>'s rule). Empty while <see cref="Count"/> is 0.
    /// </summary>
    internal struct Acc(long count, double sum, double min, double max, long lastTs, long lastSeq, double lastValue)
    {
        public long Count = count;
        public double Sum = sum;
        public double Min = min;
        public double Max = max;
        public long LastTs = lastTs;
        public long LastSeq = lastSeq;
        public double LastValue = lastValue;

        /// <summary>Adds one measurement (<paramref name="ts"/> in Unix milliseconds).</summary>
        public void Add(long ts, long seq, double value) => Merge(new Acc(1, value, value, value, ts, seq, value));

        /// <summary>Adds the measurements <paramref name="other"/> holds (an empty accumulator takes them as they are).</summary>
        public void Merge(in Acc other)
        {
            if (Count == 0)
            {
                this = other;
                return;
            }

            Count += other.Count;
            Sum += other.Sum;
            Min = Math.Min(Min, other.Min);
            Max = Math.Max(Max, other.Max);
            if (other.LastTs > LastTs || (other.LastTs == LastTs && other.LastSeq > LastSeq))
            {
                (LastTs, LastSeq, LastValue) = (other.LastTs, other.LastSeq, other.LastValue);
            }
        }
    }
}
