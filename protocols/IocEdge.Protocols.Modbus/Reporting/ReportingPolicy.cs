using System.Globalization;

namespace IocEdge.Protocols.Modbus;

/// <summary>When a point's readings are worth reporting upstream.</summary>
public sealed record ReportingPolicy
{
    /// <summary>Report every reading (deadbands and heartbeat are then irrelevant).</summary>
    public bool EveryPoll { get; init; }

    /// <summary>A change must exceed this many engineering units to be reported (0 = any change).</summary>
    public double AbsoluteDeadband { get; init; }

    /// <summary>A change must exceed this percentage of the last reported value's magnitude (0 = not used).</summary>
    public double PercentDeadband { get; init; }

    /// <summary>Report at least this often, changed or not; null = only on change.</summary>
    public TimeSpan? Heartbeat { get; init; }

    /// <summary>The policy a point definition asks for.</summary>
    public static ReportingPolicy For(ModbusPointDefinition point)
    {
        ArgumentNullException.ThrowIfNull(point);
        return new ReportingPolicy
        {
            EveryPoll = point.ReportEveryPoll,
            AbsoluteDeadband = point.Deadband,
            PercentDeadband = point.DeadbandPercent,
            Heartbeat = point.Heartbeat,
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (!(AbsoluteDeadband >= 0) || double.IsInfinity(AbsoluteDeadband))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"ReportingPolicy.AbsoluteDeadband is {AbsoluteDeadband}; use 0 or a positive number."));
        }

        if (!(PercentDeadband >= 0) || double.IsInfinity(PercentDeadband))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"ReportingPolicy.PercentDeadband is {PercentDeadband}; use 0 or a positive percentage."));
        }

        if (Heartbeat is { } h && h <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ReportingPolicy.Heartbeat is {h}; use a positive period or null.");
        }
    }
}

/// <summary>
/// Decides, reading by reading, whether one point's value goes upstream. The heartbeat is measured on the
/// <see cref="TimeProvider"/>'s monotonic clock (<see cref="TimeProvider.GetTimestamp"/>) at the moment of the decision,
/// never on the readings' wall-clock timestamps, so that an NTP step of the gateway's clock neither fires nor
/// silences heartbeats.
/// </summary>
/// <remarks>
/// Reported: the first reading; any change of quality (Good to Invalid or OutOfRange and back, always, whatever the
/// deadband); with <see cref="ReportingPolicy.EveryPoll"/> every reading;
/// otherwise a value whose distance to the last reported value exceeds max(absolute deadband, percent deadband ×
/// |last reported|) (so both deadbands must be exceeded when both are set, the percent one for large values and the
/// absolute one as a floor near zero), a changed text, a change between NaN and a number, and any reading at least
/// <see cref="ReportingPolicy.Heartbeat"/> after the last report.
/// </remarks>
public sealed class PointReporter
{
    private readonly ReportingPolicy _policy;
    private readonly TimeProvider _time;
    private PointReading? _last;
    private long _lastReportedAt;

    /// <param name="policy">When to report.</param>
    /// <param name="time">The clock of the heartbeat (monotonic timestamps); <see cref="TimeProvider.System"/> when null.</param>
    public PointReporter(ReportingPolicy policy, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        policy.Validate();
        _policy = policy;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The last reading that was reported, if any.</summary>
    public PointReading? LastReported => _last;

    /// <summary>True when <paramref name="reading"/> should be reported; the reporter then remembers it.</summary>
    public bool ShouldReport(PointReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        var now = _time.GetTimestamp();
        if (!Decide(reading, now))
        {
            return false;
        }

        _last = reading;
        _lastReportedAt = now;
        return true;
    }

    private bool Decide(PointReading reading, long now)
    {
        if (_last is not { } last || _policy.EveryPoll || reading.Quality != last.Quality)
        {
            return true;
        }

        if (_policy.Heartbeat is { } heartbeat && _time.GetElapsedTime(_lastReportedAt, now) >= heartbeat)
        {
            return true;
        }

        if (!string.Equals(reading.Text, last.Text, StringComparison.Ordinal))
        {
            return true;
        }

        if (double.IsNaN(reading.Value) || double.IsNaN(last.Value))
        {
            return double.IsNaN(reading.Value) != double.IsNaN(last.Value);
        }

        var threshold = Math.Max(_policy.AbsoluteDeadband, _policy.PercentDeadband / 100 * Math.Abs(last.Value));
        return Math.Abs(reading.Value - last.Value) > threshold;
    }
}

/// <summary>The reporters of a set of points, keyed by point id: what a gateway runs over each poll cycle's readings.</summary>
public sealed class ModbusReportFilter
{
    private readonly Dictionary<string, PointReporter> _reporters = new(StringComparer.Ordinal);

    /// <param name="points">The points to report.</param>
    /// <param name="time">The clock of the heartbeats (the poller's); <see cref="TimeProvider.System"/> when null.</param>
    public ModbusReportFilter(IEnumerable<ModbusPointDefinition> points, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        foreach (var point in points)
        {
            if (!_reporters.TryAdd(point.Id, new PointReporter(ReportingPolicy.For(point), time)))
            {
                throw new ArgumentException($"Point id '{point.Id}' appears twice; point ids must be unique.", nameof(points));
            }
        }
    }

    /// <summary>True when the reading should be reported. Readings of unknown points are always reported.</summary>
    public bool ShouldReport(PointReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        return !_reporters.TryGetValue(reading.PointId, out var reporter) || reporter.ShouldReport(reading);
    }

    /// <summary>The readings of one cycle that should be reported, in their order.</summary>
    public IReadOnlyList<PointReading> Filter(IReadOnlyList<PointReading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        var kept = new List<PointReading>(readings.Count);
        foreach (var reading in readings)
        {
            if (ShouldReport(reading))
            {
                kept.Add(reading);
            }
        }

        return kept;
    }
}
