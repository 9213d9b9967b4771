namespace IocEdge.Protocols.Modbus;

/// <summary>Health of one slave as the poller sees it (for diagnostics, metrics and tests).</summary>
/// <param name="UnitId">The slave.</param>
/// <param name="Breaker">Its circuit breaker's state.</param>
/// <param name="ConsecutiveFailures">Requests in a row it did not answer.</param>
/// <param name="OpenUntil">End of the current back-off, if backed off.</param>
/// <param name="Requests">Read requests sent to it.</param>
/// <param name="CommFailures">Requests it did not answer (timeouts, broken frames, a gateway's 0x0A/0x0B).</param>
/// <param name="DeviceExceptions">Requests it answered with an exception response.</param>
/// <param name="SkippedCycles">Cycles in which its due points were not read because it was backed off.</param>
/// <param name="RefusedAddresses">Addresses learned to be refused (illegal data address).</param>
public sealed record ModbusSlaveStatus(
    byte UnitId,
    ModbusBreakerState Breaker,
    int ConsecutiveFailures,
    DateTimeOffset? OpenUntil,
    long Requests,
    long CommFailures,
    long DeviceExceptions,
    long SkippedCycles,
    IReadOnlyList<ModbusAddressRange> RefusedAddresses)
{
    /// <summary>Largest read (registers or bits) per table the slave was learned to accept after refusing a larger one
    /// (exception 03, or 02 on a size); empty when it refused none.</summary>
    public IReadOnlyDictionary<RegisterKind, int> LearnedRequestLimits { get; init; } = new Dictionary<RegisterKind, int>();
}
