using IocEdge.Testing;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

/// <summary>
/// Issue 13 item 2: a gateway without an RTC whose wall clock NTP steps (±10 min on a resync, years at first sync)
/// keeps polling on schedule and keeps its back-offs: the poller measures intervals on the monotonic clock.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "field-faults")]
public sealed class WallClockStepTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(-10 * 60)]
    [InlineData(10 * 60)]
    [InlineData(-3 * 365 * 24 * 3600)]
    public async Task Polling_continues_every_period_when_the_wall_clock_steps(int stepSeconds)
    {
        var clock = new SteppingClock(T0);
        var line = new FakeModbusLine(new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0));
        line.Add(1).HoldingRegisters[0] = 42;
        var poller = new ModbusPoller(line,
            [new ModbusPointDefinition { Id = "x", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0 }],
            new ModbusPollerOptions { DefaultPollPeriod = TimeSpan.FromSeconds(10) }, clock);
        using var cts = new CancellationTokenSource();
        await using var cycles = poller.RunAsync(cts.Token).GetAsyncEnumerator(cts.Token);

        Assert.True(await cycles.MoveNextAsync()); // due at once
        clock.StepWallClock(TimeSpan.FromSeconds(stepSeconds));
        for (var n = 0; n < 3; n++)
        {
            Assert.Equal(TimeSpan.FromSeconds(10), poller.TimeUntilNextDue);
            var next = cycles.MoveNextAsync().AsTask();
            clock.Advance(TimeSpan.FromSeconds(9));
            await Task.Yield();
            Assert.False(next.IsCompleted); // not early
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(await next.WaitAsync(TimeSpan.FromSeconds(5))); // and not stalled
            Assert.Equal(42, Assert.Single(cycles.Current).Value);
        }

        await cts.CancelAsync();
    }

    [Fact]
    public async Task A_back_off_lasts_its_period_of_real_time_whatever_the_wall_clock_does()
    {
        var clock = new SteppingClock(T0);
        var line = new FakeModbusLine(new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0));
        line.Add(1).Dead = true;
        var poller = new ModbusPoller(line,
            [new ModbusPointDefinition { Id = "x", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0 }],
            new ModbusPollerOptions
            {
                DefaultPollPeriod = TimeSpan.FromSeconds(1), BreakerFailureThreshold = 1,
                BreakerInitialBackoff = TimeSpan.FromSeconds(30), BreakerMaxBackoff = TimeSpan.FromSeconds(30),
            }, clock);

        await poller.PollAsync(); // fails: the breaker opens for 30 s
        Assert.Equal(ModbusBreakerState.Open, poller.GetSlaveStatus()[0].Breaker);
        var asked = line.RequestsTo(1);

        clock.StepWallClock(TimeSpan.FromMinutes(10)); // forward: must not end the back-off
        for (var s = 0; s < 29; s++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await poller.PollAsync();
        }

        Assert.Equal(asked, line.RequestsTo(1));
        clock.StepWallClock(TimeSpan.FromDays(-365)); // back: must not prolong it
        clock.Advance(TimeSpan.FromSeconds(1));
        await poller.PollAsync();
        Assert.Equal(asked + 1, line.RequestsTo(1)); // the probe goes out after 30 s of real time
    }
}
