using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace IocEdge.Aggregator.Storage;

/// <summary>
/// One statement prepared once on the store's write connection and driven through SQLite's C API (sqlite3_bind_* by
/// index, sqlite3_step, sqlite3_reset): no parameter objects, no boxing, no name lookups per value. It runs inside
/// whatever transaction the connection has open. Any result code other than SQLITE_ROW/SQLITE_DONE is thrown as the
/// <see cref="SqliteException"/> Microsoft.Data.Sqlite would throw (SQLITE_FULL 13, SQLITE_IOERR 10, ...).
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _stmt));
        ParameterCount = raw.sqlite3_bind_parameter_count(_stmt);
    }

    /// <summary>How many parameters (<c>?</c>) the statement has; they are numbered from 1.</summary>
    public int ParameterCount { get; }

    public void Bind(int index, long value) => Check(raw.sqlite3_bind_int64(_stmt, index, value));

    public void Bind(int index, double value) => Check(raw.sqlite3_bind_double(_stmt, index, value));

    public void Bind(int index, double? value) => Check(value is { } v ? raw.sqlite3_bind_double(_stmt, index, v) : raw.sqlite3_bind_null(_stmt, index));

    public void Bind(int index, string value) => Check(raw.sqlite3_bind_text(_stmt, index, value));

    /// <summary>Binds a BLOB; SQLite copies the bytes (SQLITE_TRANSIENT), so the span may be reused at once.</summary>
    public void Bind(int index, ReadOnlySpan<byte> value) => Check(raw.sqlite3_bind_blob(_stmt, index, value));

    /// <summary>Steps once: true when a row is there to read, false when done.</summary>
    public bool Step()
    {
        var rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        if (rc == raw.SQLITE_DONE)
        {
            return false;
        }

        raw.sqlite3_reset(_stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
        return false;
    }

    /// <summary>Runs a statement that returns no rows and readies it for the next run; returns sqlite3_changes.</summary>
    public int Execute()
    {
        while (Step())
        {
        }

        raw.sqlite3_reset(_stmt);
        return raw.sqlite3_changes(_db);
    }

    public long ColumnInt64(int column) => raw.sqlite3_column_int64(_stmt, column);

    /// <summary>Readies the statement for the next run (after reading rows, or after a failure).</summary>
    public void Reset() => raw.sqlite3_reset(_stmt);

    public void Dispose() => _stmt.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }
}
