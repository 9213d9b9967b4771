using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Testing;

/// <summary>
/// A gateway without a real-time clock whose wall clock NTP steps: <see cref="GetUtcNow"/> is a
/// <see cref="FakeTimeProvider"/> plus an offset that <see cref="StepWallClock"/> changes at once (or a reading frozen by
/// <see cref="FreezeWallClock"/>), while the monotonic clock (<see cref="GetTimestamp"/>) and the timers keep counting
/// the time that really passes (<see cref="Advance"/>), as CLOCK_MONOTONIC does on Linux. Code that measures intervals
/// on the wall clock misbehaves under it; code that measures them on <see cref="GetTimestamp"/> does not.
/// </summary>
public sealed class SteppingClock(FakeTimeProvider fake) : TimeProvider
{
    private DateTimeOffset? _frozenWall;

    public SteppingClock(DateTimeOffset start)
        : this(new FakeTimeProvider(start))
    {
    }

    /// <summary>The clock underneath: advancing it moves wall time, monotonic time and timers together.</summary>
    public FakeTimeProvider Fake { get; } = fake;

    /// <summary>How far the wall clock has been stepped in total (negative = back).</summary>
    public TimeSpan Step { get; set; }

    public override DateTimeOffset GetUtcNow() => _frozenWall ?? Fake.GetUtcNow() + Step;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        Fake.CreateTimer(callback, state, dueTime, period);

    /// <summary>Real time passes: wall clock, monotonic clock and timers all move.</summary>
    public void Advance(TimeSpan by) => Fake.Advance(by);

    /// <summary>NTP steps the wall clock by <paramref name="by"/> (negative = back); no real time passes.</summary>
    public void StepWallClock(TimeSpan by) => Step += by;

    /// <summary>The wall clock stops at its current reading while real time goes on (the extreme of a step back).</summary>
    public void FreezeWallClock() => _frozenWall = GetUtcNow();
}
