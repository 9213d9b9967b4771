using Microsoft.Data.Sqlite;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// The row-per-reading layout of stores written before chunks (table <c>readings</c>, key (stream_id, seq), index
/// (series_id, ts)): opened by a newer aggregator, its rows move into <c>chunks</c> and <c>stored_seqs</c>, 50,000 a
/// transaction (each moves its rows and deletes them together, so a power cut mid-way resumes where it stopped), and the
/// emptied table is dropped.
/// </summary>
internal static class LegacyReadings
{
    private const int RowsPerTransaction = 50_000;

    /// <summary>True when the store still has the old <c>readings</c> table.</summary>
    public static bool Exists(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'readings'";
        return (long)cmd.ExecuteScalar()! > 0;
    }

    /// <summary>
    /// Moves every old row into chunks; returns how many were moved (0 when there was no old table).
    /// <paramref name="progress"/> is called with the rows moved so far before the first transaction and after each
    /// (the service tells systemd it is still starting: a store of 100 M rows takes minutes).
    /// </summary>
    public static long Migrate(SqliteConnection writer, ChunkWriter chunks, SequenceRanges ranges, Action<long>? progress = null)
    {
        if (!Exists(writer))
        {
            return 0;
        }

        long moved = 0;
        progress?.Invoke(0);
        var seqs = new List<long>();
        while (true)
        {
            using var tx = writer.BeginTransaction();
            using var select = writer.CreateCommand();
            select.Transaction = tx;
            select.CommandText = $"""
                SELECT stream_id, seq, series_id, ts, value, quality, received, ts_status
                FROM readings ORDER BY stream_id, seq LIMIT {RowsPerTransaction}
                """;
            long firstStream = 0, firstSeq = 0, stream = long.MinValue, seq = 0, received = long.MinValue;
            var rows = 0;
            using (var r = select.ExecuteReader())
            {
                while (r.Read())
                {
                    var s = r.GetInt64(0);
                    seq = r.GetInt64(1);
                    var rowReceived = r.GetInt64(6);
                    if (rows == 0)
                    {
                        (firstStream, firstSeq) = (s, seq);
                    }

                    if (s != stream)
                    {
                        SaveRanges(chunks, ranges, stream, seqs);
                        stream = s;
                    }

                    if (rowReceived != received && received != long.MinValue)
                    {
                        chunks.Flush(received); // a chunk holds one receive time
                    }

                    received = rowReceived;
                    chunks.Add(r.GetInt64(2), s, new ChunkReading(seq, r.GetInt64(3), r.IsDBNull(4) ? null : r.GetDouble(4),
                        (IocEdge.Protocols.Mqtt.Quality)r.GetInt32(5), (IocEdge.Aggregator.Ingest.TimestampStatus)r.GetInt32(7), rowReceived));
                    seqs.Add(seq);
                    rows++;
                }
            }

            if (rows == 0)
            {
                using var drop = writer.CreateCommand();
                drop.Transaction = tx;
                drop.CommandText = "DROP TABLE readings";
                drop.ExecuteNonQuery();
                tx.Commit();
                return moved;
            }

            SaveRanges(chunks, ranges, stream, seqs);
            chunks.Flush(received);
            using var delete = writer.CreateCommand();
            delete.Transaction = tx;
            delete.CommandText = "DELETE FROM readings WHERE (stream_id, seq) >= ($s0, $q0) AND (stream_id, seq) <= ($s1, $q1)";
            delete.Parameters.AddWithValue("$s0", firstStream);
            delete.Parameters.AddWithValue("$q0", firstSeq);
            delete.Parameters.AddWithValue("$s1", stream);
            delete.Parameters.AddWithValue("$q1", seq);
            delete.ExecuteNonQuery();
            tx.Commit();
            moved += rows;
            progress?.Invoke(moved);
        }
    }

    private static void SaveRanges(ChunkWriter chunks, SequenceRanges ranges, long stream, List<long> seqs)
    {
        if (seqs.Count == 0)
        {
            return;
        }

        chunks.LoadRanges(stream, seqs[0], seqs[^1], ranges);
        foreach (var s in seqs)
        {
            ranges.Add(s);
        }

        chunks.SaveRanges(stream, ranges);
        seqs.Clear();
    }
}
