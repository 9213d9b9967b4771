using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

/// <summary>
/// A gateway without a real-time clock whose wall clock NTP steps: <see cref="GetUtcNow"/> is the fake clock plus an
/// offset that <see cref="StepWallClock"/> changes at once, while the monotonic clock (<see cref="GetTimestamp"/>) and
/// the timers keep counting the time that really passes (<see cref="Advance"/>), as CLOCK_MONOTONIC does on Linux.
/// </summary>
internal sealed class SteppedWallClock(DateTimeOffset start) : TimeProvider
{
    private readonly FakeTimeProvider _inner = new(start);
    private TimeSpan _step;

    public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow() + _step;

    public override long GetTimestamp() => _inner.GetTimestamp();

    public override long TimestampFrequency => _inner.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        _inner.CreateTimer(callback, state, dueTime, period);

    /// <summary>Real time passes: the wall clock, the monotonic clock and the timers move together.</summary>
    public void Advance(TimeSpan delta) => _inner.Advance(delta);

    /// <summary>NTP steps the wall clock by <paramref name="step"/>; no real time passes.</summary>
    public void StepWallClock(TimeSpan step) => _step += step;
}
