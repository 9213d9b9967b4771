using System.Globalization;

namespace IocEdge.Protocols.Modbus;

/// <summary>Settings of a <see cref="ModbusPoller"/>; validated when the poller is built.</summary>
public sealed record ModbusPollerOptions
{
    /// <summary>Poll period of points that do not set their own.</summary>
    public TimeSpan DefaultPollPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Request limits and the gap the planner may read across.</summary>
    public ModbusPollPlannerOptions Planner { get; init; } = new();

    /// <summary>Consecutive failed requests (no answer, or a gateway's 0x0A/0x0B) after which a slave is backed off.</summary>
    public int BreakerFailureThreshold { get; init; } = 3;

    /// <summary>First back-off of a failing slave; doubled at every failed probe up to <see cref="BreakerMaxBackoff"/>.</summary>
    public TimeSpan BreakerInitialBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest back-off of a failing slave.</summary>
    public TimeSpan BreakerMaxBackoff { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// When a slave does not answer one request, send it no more requests in that cycle (its remaining points get
    /// CommFailure): a dead slave then costs one timeout per cycle, not one per request.
    /// </summary>
    public bool SkipSlaveAfterFailure { get; init; } = true;

    /// <summary>
    /// Request size limits of particular slaves (by unit id), for devices that accept fewer registers or bits per read
    /// than the link's <see cref="ModbusPollPlannerOptions.MaxRegistersPerRequest"/>/<see cref="ModbusPollPlannerOptions.MaxBitsPerRequest"/>;
    /// the smaller limit applies. Limits the poller learns from refusals come on top.
    /// </summary>
    public IReadOnlyDictionary<byte, ModbusRequestLimits> SlaveLimits { get; init; } = new Dictionary<byte, ModbusRequestLimits>();

    /// <summary>The planner options for one slave: the link's, narrowed by the slave's <see cref="SlaveLimits"/>.</summary>
    public ModbusPollPlannerOptions PlannerFor(byte unitId) =>
        SlaveLimits.TryGetValue(unitId, out var limits)
            ? Planner with
            {
                MaxRegistersPerRequest = Math.Min(Planner.MaxRegistersPerRequest, limits.MaxRegistersPerRequest ?? int.MaxValue),
                MaxBitsPerRequest = Math.Min(Planner.MaxBitsPerRequest, limits.MaxBitsPerRequest ?? int.MaxValue),
            }
            : Planner;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting and the fix.</summary>
    public void Validate()
    {
        if (DefaultPollPeriod <= TimeSpan.Zero)
        {
            throw Bad(nameof(DefaultPollPeriod), DefaultPollPeriod, "use a positive period such as 00:00:01");
        }

        ArgumentNullException.ThrowIfNull(Planner, nameof(Planner));
        Planner.Validate();
        if (BreakerFailureThreshold < 1)
        {
            throw Bad(nameof(BreakerFailureThreshold), BreakerFailureThreshold, "use 1 or more");
        }

        if (BreakerInitialBackoff <= TimeSpan.Zero)
        {
            throw Bad(nameof(BreakerInitialBackoff), BreakerInitialBackoff, "use a positive period");
        }

        ArgumentNullException.ThrowIfNull(SlaveLimits, nameof(SlaveLimits));
        foreach (var (unit, limits) in SlaveLimits)
        {
            if (limits.MaxRegistersPerRequest is < 1 or > ModbusPollPlannerOptions.SpecMaxRegisters)
            {
                throw Bad($"{nameof(SlaveLimits)}[{unit}].{nameof(ModbusRequestLimits.MaxRegistersPerRequest)}", limits.MaxRegistersPerRequest,
                    "use 1 to 125 (FC 03/04 quantity, MODBUS Application Protocol V1.1b3, 6.3-6.4), or leave it empty");
            }

            if (limits.MaxBitsPerRequest is < 1 or > ModbusPollPlannerOptions.SpecMaxBits)
            {
                throw Bad($"{nameof(SlaveLimits)}[{unit}].{nameof(ModbusRequestLimits.MaxBitsPerRequest)}", limits.MaxBitsPerRequest,
                    "use 1 to 2000 (FC 01/02 quantity, MODBUS Application Protocol V1.1b3, 6.1-6.2), or leave it empty");
            }
        }

        if (BreakerMaxBackoff < BreakerInitialBackoff)
        {
            throw Bad(nameof(BreakerMaxBackoff), BreakerMaxBackoff, $"use at least BreakerInitialBackoff ({BreakerInitialBackoff})");
        }
    }

    private static ArgumentException Bad(string name, object? value, string fix) =>
        new(string.Create(CultureInfo.InvariantCulture, $"ModbusPollerOptions.{name} is {value}; {fix}."), name);
}

/// <summary>The most one slave accepts in one read request; null = no limit of its own.</summary>
/// <param name="MaxRegistersPerRequest">Registers per FC 03/04 request, 1 to 125.</param>
/// <param name="MaxBitsPerRequest">Coils or discrete inputs per FC 01/02 request, 1 to 2000.</param>
public sealed record ModbusRequestLimits(int? MaxRegistersPerRequest = null, int? MaxBitsPerRequest = null);
