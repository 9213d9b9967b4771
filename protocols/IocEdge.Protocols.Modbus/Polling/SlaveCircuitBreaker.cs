namespace IocEdge.Protocols.Modbus;

/// <summary>State of a slave's circuit breaker.</summary>
public enum ModbusBreakerState
{
    /// <summary>Polled normally.</summary>
    Closed,

    /// <summary>Backed off: not polled until the back-off ends.</summary>
    Open,

    /// <summary>Back-off over: the next request is a probe that closes or re-opens the breaker.</summary>
    HalfOpen,
}

/// <summary>
/// Per-slave circuit breaker (pure: time is passed in, as a reading of a monotonic clock such as
/// <see cref="TimeProvider.GetElapsedTime(long)"/> since the poller started, so that a step of the wall clock neither
/// ends nor prolongs a back-off). After <c>threshold</c> consecutive failures it opens for a
/// back-off; when the back-off is over one probe request is let through: success closes it, failure re-opens it with
/// the back-off doubled, up to a cap.
/// </summary>
internal sealed class SlaveCircuitBreaker
{
    private readonly int _threshold;
    private readonly TimeSpan _initialBackoff;
    private readonly TimeSpan _maxBackoff;
    private int _opensInARow;

    public SlaveCircuitBreaker(int threshold, TimeSpan initialBackoff, TimeSpan maxBackoff)
    {
        _threshold = threshold;
        _initialBackoff = initialBackoff;
        _maxBackoff = maxBackoff;
    }

    public ModbusBreakerState State { get; private set; }

    public int ConsecutiveFailures { get; private set; }

    public TimeSpan? OpenUntil { get; private set; }

    public TimeSpan? CurrentBackoff { get; private set; }

    /// <summary>May the slave be asked now? Moves an expired Open breaker to HalfOpen (probe = true).</summary>
    public bool TryEnter(TimeSpan now, out bool probe)
    {
        probe = false;
        if (State == ModbusBreakerState.Open)
        {
            if (now < OpenUntil)
            {
                return false;
            }

            State = ModbusBreakerState.HalfOpen;
        }

        probe = State == ModbusBreakerState.HalfOpen;
        return true;
    }

    /// <summary>The slave answered (a value or an exception response). Returns true when this closed the breaker.</summary>
    public bool OnSuccess()
    {
        var wasOpen = State != ModbusBreakerState.Closed;
        State = ModbusBreakerState.Closed;
        ConsecutiveFailures = 0;
        _opensInARow = 0;
        OpenUntil = null;
        CurrentBackoff = null;
        return wasOpen;
    }

    /// <summary>The slave did not answer. Returns true when this opened (or re-opened) the breaker.</summary>
    public bool OnFailure(TimeSpan now)
    {
        ConsecutiveFailures++;
        if (State == ModbusBreakerState.HalfOpen || ConsecutiveFailures >= _threshold)
        {
            // initial × 2^(opens in a row), capped; the shift is bounded so it cannot overflow.
            var factor = 1L << Math.Min(_opensInARow, 30);
            var ticks = _initialBackoff.Ticks > _maxBackoff.Ticks / factor ? _maxBackoff.Ticks : _initialBackoff.Ticks * factor;
            CurrentBackoff = TimeSpan.FromTicks(Math.Min(ticks, _maxBackoff.Ticks));
            OpenUntil = now + CurrentBackoff.Value;
            State = ModbusBreakerState.Open;
            _opensInARow++;
            return true;
        }

        return false;
    }
}
