using Microsoft.Data.Sqlite;

namespace IocEdge.Edge.Outbox;

/// <summary>
/// The state of a gateway's outbox read from its file without writing a byte: SQLite opened read-only
/// (<c>Mode=ReadOnly</c>; WAL readers never block the gateway's writer), so it is safe while the gateway runs.
/// For the technician's <c>iocedge outbox status</c> and <c>iocedge doctor</c>. Same schema as <see cref="SqliteOutbox"/>.
/// </summary>
public static class OutboxReadOnlyView
{
    /// <summary>
    /// The outbox of <paramref name="dataDirectory"/> (<c>outbox.db</c> there), as <see cref="SqliteOutbox.Health"/> would
    /// report it, except the counters that live only in the gateway's memory (dead-lettered and invalidated since start,
    /// RAM-buffered, disk errors): those are 0 here. <see cref="OutboxHealth.DeadLettered"/> is the dead-letter table's size.
    /// </summary>
    /// <returns>Null when there is no outbox file yet (the gateway has not run with this data directory).</returns>
    /// <exception cref="SqliteException">The file is not a readable SQLite outbox (corrupt, or not ours).</exception>
    public static OutboxHealth? Read(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var path = System.IO.Path.Combine(dataDirectory, "outbox.db");
        if (!File.Exists(path))
        {
            return null;
        }

        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var db = new SqliteConnection(builder.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "PRAGMA busy_timeout=2000";
        cmd.ExecuteNonQuery();

        long Scalar(string sql)
        {
            cmd.CommandText = sql;
            return cmd.ExecuteScalar() is long n ? n : 0;
        }

        cmd.CommandText = "SELECT value FROM meta WHERE key = 'stream'";
        var stream = cmd.ExecuteScalar() as string ?? string.Empty;
        var pending = Scalar("SELECT count(*) FROM outbox");
        cmd.CommandText = "SELECT min(ts) FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT 1000)";
        DateTimeOffset? oldest = cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        var used = Scalar("SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size())");
        var deadLetters = Scalar("SELECT count(*) FROM dead_letter");
        var untrusted = Scalar("SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM clock_untrusted");
        var dropped = new Dictionary<string, long>(StringComparer.Ordinal);
        cmd.CommandText = "SELECT reason, n FROM dropped ORDER BY reason";
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                dropped[r.GetString(0)] = r.GetInt64(1);
            }
        }

        return new OutboxHealth(stream, pending, oldest, Length(path) + Length(path + "-wal"), deadLetters, 0, dropped,
            CountQuarantined(dataDirectory))
        {
            UsedBytes = used,
            DiskFreeBytes = FreeBytes(dataDirectory),
            ClockUntrusted = untrusted,
        };
    }

    /// <summary>Outbox files moved to <c>quarantine/</c> (not counting their -wal and -shm), as <see cref="SqliteOutbox"/> counts them.</summary>
    public static int CountQuarantined(string dataDirectory)
    {
        var dir = System.IO.Path.Combine(dataDirectory, "quarantine");
        return !Directory.Exists(dir) ? 0 : Directory.EnumerateFiles(dir).Select(System.IO.Path.GetFileName)
            .Count(n => n!.StartsWith("outbox.db.", StringComparison.Ordinal)
                && !n.EndsWith("-wal", StringComparison.Ordinal) && !n.EndsWith("-shm", StringComparison.Ordinal));
    }

    /// <summary>Free bytes for an unprivileged user on the filesystem of <paramref name="directory"/>; -1 when unknown.</summary>
    public static long FreeBytes(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return -1;
        }
    }

    private static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
