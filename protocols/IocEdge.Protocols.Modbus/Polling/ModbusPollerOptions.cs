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

        if (BreakerMaxBackoff < BreakerInitialBackoff)
        {
            throw Bad(nameof(BreakerMaxBackoff), BreakerMaxBackoff, $"use at least BreakerInitialBackoff ({BreakerInitialBackoff})");
        }
    }

    private static ArgumentException Bad(string name, object value, string fix) =>
        new(string.Create(CultureInfo.InvariantCulture, $"ModbusPollerOptions.{name} is {value}; {fix}."), name);
}
