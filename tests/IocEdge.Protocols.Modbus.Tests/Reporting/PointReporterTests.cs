using IocEdge.Testing;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Polling;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Reporting;

[Trait("Category", "Unit")]
public sealed class PointReporterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

    private static PointReading At(double seconds, double value, PointQuality quality = PointQuality.Good) =>
        new("p", value, quality, T0.AddSeconds(seconds));

    private static bool[] Feed(PointReporter reporter, params PointReading[] readings) =>
        readings.Select(reporter.ShouldReport).ToArray();

    /// <summary>Feeds each reading when the clock shows its timestamp (the clock moves forward only).</summary>
    private static bool[] FeedAt(PointReporter reporter, FakeTimeProvider clock, params PointReading[] readings) =>
        readings.Select(r =>
        {
            clock.SetUtcNow(r.Timestamp);
            return reporter.ShouldReport(r);
        }).ToArray();

    [Fact]
    public void Absolute_deadband_reports_only_changes_beyond_it_measured_from_the_last_report()
    {
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 0.5 });
        // 20.0 first; 20.3 and 20.5 are within 0.5 of it; 20.6 is beyond; 20.2 is 0.4 from 20.6; 20.0 is 0.6 from it.
        Assert.Equal([true, false, false, true, false, true],
            Feed(reporter, At(0, 20.0), At(1, 20.3), At(2, 20.5), At(3, 20.6), At(4, 20.2), At(5, 20.0)));
        Assert.Equal(20.0, reporter.LastReported!.Value);
    }

    [Fact]
    public void Slow_drift_is_reported_once_it_adds_up_beyond_the_deadband()
    {
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 1 });
        var reported = Enumerable.Range(0, 25).Count(i => reporter.ShouldReport(At(i, 10 + i * 0.3)));
        // 10.0, then every time the drift passes 1.0 from the last report: 11.2, 12.4, 13.6, 14.8, 16.0, 17.2 (i=24).
        Assert.Equal(7, reported);
    }

    [Fact]
    public void Percent_deadband_scales_with_the_value_and_the_absolute_one_is_a_floor()
    {
        var reporter = new PointReporter(new ReportingPolicy { PercentDeadband = 1, AbsoluteDeadband = 0.1 });
        // At 1000 the band is 10; near zero the absolute 0.1 applies.
        Assert.Equal([true, false, true, true, false, true],
            Feed(reporter, At(0, 1000), At(1, 1009), At(2, 1011), At(3, 0.05), At(4, 0.14), At(5, 0.2)));
    }

    [Fact]
    public void Zero_deadband_reports_any_change_and_nothing_else()
    {
        var reporter = new PointReporter(new ReportingPolicy());
        Assert.Equal([true, false, true, false], Feed(reporter, At(0, 1), At(1, 1), At(2, 1.0001), At(3, 1.0001)));
    }

    [Fact]
    public void Heartbeat_reports_an_unchanged_value_when_its_period_has_passed()
    {
        var clock = new FakeTimeProvider(T0);
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 5, Heartbeat = TimeSpan.FromSeconds(60) }, clock);
        Assert.Equal([true, false, false, true, false, true],
            FeedAt(reporter, clock, At(0, 1), At(30, 2), At(59, 2), At(60, 2), At(90, 2), At(120, 2)));
    }

    [Fact]
    [Trait("Acceptance", "field-faults")]
    public void Heartbeat_runs_on_the_monotonic_clock_when_ntp_steps_the_wall_clock()
    {
        // Issue 13 item 2: a gateway without an RTC boots in 1970 or 2000 and NTP then steps its clock by years;
        // smaller steps (±10 min) happen on every resync. The heartbeat must still fire every 60 s of real time.
        var clock = new SteppingClock(T0);
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 5, Heartbeat = TimeSpan.FromSeconds(60) }, clock);
        var reported = new List<bool>();
        void Poll(TimeSpan wait)
        {
            clock.Advance(wait);
            reported.Add(reporter.ShouldReport(new PointReading("p", 2, PointQuality.Good, clock.GetUtcNow())));
        }

        Poll(TimeSpan.Zero);                          // first reading: reported
        clock.StepWallClock(TimeSpan.FromDays(-400));  // NTP steps back more than a year
        Poll(TimeSpan.FromSeconds(30));               // 30 s of real time: not yet
        Poll(TimeSpan.FromSeconds(30));               // 60 s of real time: heartbeat
        clock.StepWallClock(TimeSpan.FromMinutes(10)); // NTP steps forward 10 min
        Poll(TimeSpan.FromSeconds(1));                // 1 s of real time: no heartbeat yet
        Poll(TimeSpan.FromSeconds(59));               // 60 s since the last report: heartbeat
        Assert.Equal([true, false, true, false, true], reported);
    }

    [Fact]
    [Trait("Acceptance", "field-faults")]
    public void A_change_to_invalid_or_out_of_range_and_back_is_reported_whatever_the_deadband()
    {
        // Issue 13 item 1: a deadband must not hide that a value stopped being a measurement.
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 1000 });
        Assert.Equal([true, true, true, true, false],
            Feed(reporter,
                At(0, 20.5),
                At(1, double.NaN, PointQuality.Invalid),
                At(2, 3276.7, PointQuality.OutOfRange),
                At(3, 20.5),
                At(4, 20.6)));
    }

    [Fact]
    public void A_quality_change_is_always_reported_even_with_the_same_value()
    {
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 100 });
        Assert.Equal([true, true, false, true, true],
            Feed(reporter,
                At(0, 5),
                At(1, 5, PointQuality.CommFailure),
                At(2, 5, PointQuality.CommFailure),
                At(3, 5, PointQuality.Stale),
                At(4, 5)));
    }

    [Fact]
    public void Every_poll_mode_reports_everything()
    {
        var reporter = new PointReporter(new ReportingPolicy { EveryPoll = true, AbsoluteDeadband = 100 });
        Assert.All(Feed(reporter, At(0, 1), At(1, 1), At(2, 1)), Assert.True);
    }

    [Fact]
    public void NaN_and_text_changes_are_changes()
    {
        var reporter = new PointReporter(new ReportingPolicy { AbsoluteDeadband = 1 });
        Assert.Equal([true, true, false, true], Feed(reporter, At(0, 1), At(1, double.NaN), At(2, double.NaN), At(3, 1)));

        var text = new PointReporter(new ReportingPolicy());
        Assert.True(text.ShouldReport(At(0, double.NaN) with { Text = "v1.0" }));
        Assert.False(text.ShouldReport(At(1, double.NaN) with { Text = "v1.0" }));
        Assert.True(text.ShouldReport(At(2, double.NaN) with { Text = "v1.1" }));
    }

    [Fact]
    public void The_filter_applies_each_point_s_own_policy()
    {
        var filter = new ModbusReportFilter(
        [
            new ModbusPointDefinition { Id = "temp", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0, Deadband = 0.5 },
            new ModbusPointDefinition { Id = "count", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 1, ReportEveryPoll = true },
        ]);
        PointReading[] cycle1 = [new("temp", 20, PointQuality.Good, T0), new("count", 7, PointQuality.Good, T0)];
        PointReading[] cycle2 = [new("temp", 20.2, PointQuality.Good, T0.AddSeconds(1)), new("count", 7, PointQuality.Good, T0.AddSeconds(1))];

        Assert.Equal(2, filter.Filter(cycle1).Count);
        Assert.Equal(["count"], filter.Filter(cycle2).Select(r => r.PointId));
        Assert.Throws<ArgumentException>(() => new PointReporter(new ReportingPolicy { AbsoluteDeadband = -1 }));
    }
}
