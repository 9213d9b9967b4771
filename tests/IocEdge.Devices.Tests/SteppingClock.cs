using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Devices.Tests;

/// <summary>
/// A clock whose wall time (<see cref="GetUtcNow"/>) can be stepped or frozen while its monotonic timestamp
/// (<see cref="GetTimestamp"/>) and its timers keep running: what a gateway without a real-time clock sees when NTP
/// corrects it. Built over a <see cref="FakeTimeProvider"/>, whose <see cref="FakeTimeProvider.Advance"/> moves both.
/// </summary>
internal sealed class SteppingClock : TimeProvider
{
    private TimeSpan _wallOffset;
    private DateTimeOffset? _frozenWall;

    public FakeTimeProvider Fake { get; } = Clock.New();

    public override DateTimeOffset GetUtcNow() => _frozenWall ?? Fake.GetUtcNow() + _wallOffset;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        Fake.CreateTimer(callback, state, dueTime, period);

    /// <summary>Real time passes: wall clock, monotonic clock and timers all move.</summary>
    public void Advance(TimeSpan by) => Fake.Advance(by);

    /// <summary>NTP steps the wall clock (negative = back); the monotonic clock does not move.</summary>
    public void StepWallClock(TimeSpan by) => _wallOffset += by;

    /// <summary>The wall clock stops at its current reading while real time goes on (the extreme of a step back).</summary>
    public void FreezeWallClock() => _frozenWall = GetUtcNow();
}
