namespace IocEdge.Edge.Forwarding;

/// <summary>Reconnect delays: exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).</summary>
public static class Backoff
{
    /// <summary>
    /// A uniformly random delay in [0, min(<paramref name="max"/>, <paramref name="min"/>·2^<paramref name="attempt"/>)],
    /// never below 1/10 of <paramref name="min"/> so a storm of failures cannot spin.
    /// </summary>
    /// <param name="min">The first attempt's ceiling (Gateway:Mqtt:ReconnectDelayMin).</param>
    /// <param name="max">The cap (Gateway:Mqtt:ReconnectDelayMax).</param>
    /// <param name="attempt">Failures in a row before this one, 0 for the first.</param>
    /// <param name="random">The source of jitter.</param>
    public static TimeSpan FullJitter(TimeSpan min, TimeSpan max, int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var ceiling = min.Ticks * Math.Pow(2, Math.Clamp(attempt, 0, 40));
        var cap = Math.Min(ceiling, max.Ticks);
        var floor = min.Ticks / 10.0;
        return TimeSpan.FromTicks((long)Math.Max(floor, random.NextDouble() * cap));
    }
}

/// <summary>A token bucket on the monotonic clock: the backfill rate limiter (readings per second).</summary>
internal sealed class TokenBucket
{
    private readonly double _rate;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private double _tokens;
    private long _last;

    /// <param name="rate">Tokens per second; 0 or less means no limit.</param>
    /// <param name="capacity">The most tokens saved up (a burst).</param>
    /// <param name="time">The clock (monotonic timestamps only).</param>
    public TokenBucket(double rate, double capacity, TimeProvider time)
    {
        _rate = rate;
        _capacity = Math.Max(1, capacity);
        _time = time;
        _tokens = Math.Min(_capacity, Math.Max(1, rate)); // one second's worth to start
        _last = time.GetTimestamp();
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_capacity, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _rate));
        _last = now;
    }

    /// <summary>How many readings may go now, at most <paramref name="max"/>.</summary>
    public int Available(int max)
    {
        if (_rate <= 0)
        {
            return max;
        }

        Refill();
        return (int)Math.Min(max, Math.Floor(_tokens));
    }

    public void Take(int count)
    {
        if (_rate > 0)
        {
            _tokens -= count;
        }
    }

    /// <summary>How long until <paramref name="count"/> tokens are available.</summary>
    public TimeSpan TimeUntil(int count)
    {
        if (_rate <= 0)
        {
            return TimeSpan.Zero;
        }

        Refill();
        var missing = count - _tokens;
        return missing <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(missing / _rate, 0.001));
    }
}
