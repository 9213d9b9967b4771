namespace IocEdge.Aggregator.Storage;

/// <summary>
/// A store that commits one call in several transactions (PostgreSQL with more than one write connection) committed
/// some of the batches and not the others. <see cref="Results"/> has one entry per batch of the call, in order: the
/// result of a committed batch, null for one that was not stored and must not be acknowledged (its sender sends it
/// again; exactly-once holds either way, contract §4.1). An <see cref="IOException"/>, so that a caller that does not
/// look at the results treats the whole call as failed: nothing unstored is acknowledged, and what was stored is
/// counted as a duplicate when it comes again.
/// </summary>
public sealed class PartialCommitException : IOException
{
    public PartialCommitException()
    {
        Results = [];
    }

    public PartialCommitException(string message)
        : base(message)
    {
        Results = [];
    }

    public PartialCommitException(string message, Exception innerException)
        : base(message, innerException)
    {
        Results = [];
    }

    /// <param name="message">Why the batches without a result were not stored (the failed transaction's error).</param>
    /// <param name="results">One entry per batch of the call: its result when committed, null when not.</param>
    /// <param name="innerException">The failed transaction's exception.</param>
    public PartialCommitException(string message, IReadOnlyList<StoreResult?> results, Exception innerException)
        : base(message, innerException)
    {
        Results = results;
    }

    /// <summary>Per batch of the call, in order: the result of a committed batch, or null for one not stored.</summary>
    public IReadOnlyList<StoreResult?> Results { get; }
}
