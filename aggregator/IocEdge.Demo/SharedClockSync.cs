using IocEdge.Edge.Outbox;

namespace IocEdge.Demo;

/// <summary>
/// The demo gateway's clock state: always synchronised. The demo runs the gateway inside the aggregator's process, on
/// the aggregator's own wall clock, so the readings' device timestamps agree with the store's receive times by
/// construction, whether or not this machine ever reached an NTP server. Without it, a demo on a machine that has no
/// time synchronisation (a sandbox, a laptop offline) marks every reading clock-untrusted (contract §4.4), and the
/// store, rightly, keeps such readings out of latest values, rollups and history buckets: the page would show no
/// history at all. A real gateway keeps <see cref="SystemClockSync"/>.
/// </summary>
internal sealed class SharedClockSync(IClockSync system) : IClockSync
{
    /// <inheritdoc/>
    public bool IsSynchronized => true;

    /// <inheritdoc/>
    public string BootId => system.BootId;
}
