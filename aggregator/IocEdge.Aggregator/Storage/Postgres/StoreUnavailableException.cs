namespace IocEdge.Aggregator.Storage.Postgres;

/// <summary>
/// The PostgreSQL server could not be reached or refused the work (connection lost, server stopped, disk full,
/// authentication failed). An <see cref="IOException"/> so that the ingest pipeline treats it as any other store
/// failure: the commit fails, no PUBACK leaves, the gateway keeps the readings and sends them again. The message names
/// the server (host, port, database, user) but never the password.
/// </summary>
public sealed class StoreUnavailableException : IOException
{
    public StoreUnavailableException()
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
