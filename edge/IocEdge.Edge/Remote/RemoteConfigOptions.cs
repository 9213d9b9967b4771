namespace IocEdge.Edge.Remote;

/// <summary>Section <c>Gateway:RemoteConfig</c>: configuration pushed by the aggregator (contract §9, issue 16).</summary>
public sealed class RemoteConfigOptions
{
    /// <summary>Subscribe to <c>iocedge/v1/{id}/config</c> and apply what arrives (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How long a newly applied configuration has to reach the aggregator before it is rolled back (default 2 minutes:
    /// several of the forwarder's reconnect attempts at the default 1-60 s backoff; 1 second to 1 hour).
    /// </summary>
    public TimeSpan RollbackTimeout { get; set; } = TimeSpan.FromMinutes(2);

    internal static IEnumerable<string> Problems(RemoteConfigOptions o)
    {
        if (o.RollbackTimeout < TimeSpan.FromSeconds(1) || o.RollbackTimeout > TimeSpan.FromHours(1))
        {
            yield return $"Gateway:RemoteConfig:RollbackTimeout is {o.RollbackTimeout}: use 00:00:01 to 01:00:00 (default 00:02:00).";
        }
    }
}
