namespace IocEdge.Aggregator.Storage;

/// <summary>
/// The store was written by a newer aggregator: its schema version (SQLite <c>PRAGMA user_version</c>, PostgreSQL table
/// <c>iocedge_schema</c>) is above the one this aggregator knows (<see cref="ReadingStore.SchemaVersion"/>,
/// <c>PostgresReadingStore.SchemaVersion</c>). Thrown at opening, before anything is written: an older aggregator must
/// not write a layout it does not know (it would, for example, recreate tables a newer one converted and dropped).
/// Never quarantined: the data is sound. The service reports it in one line (exit 65, EX_DATAERR).
/// </summary>
public sealed class StoreSchemaTooNewException : Exception
{
    public StoreSchemaTooNewException()
    {
    }

    public StoreSchemaTooNewException(string message)
        : base(message)
    {
    }

    public StoreSchemaTooNewException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
