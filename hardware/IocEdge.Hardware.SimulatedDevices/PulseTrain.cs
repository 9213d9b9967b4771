using System.Device.Gpio;

namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>How a simulated reed switch closes.</summary>
public sealed record PulseTrainOptions
{
    /// <summary>How long the contact stays closed per pulse (shortened to half the period at high rates).</summary>
    public TimeSpan PulseWidth { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Extra open/close pairs at each closure, all at the same instant: contact bounce.</summary>
    public int BounceEdges { get; init; }

    /// <summary>True (the usual wiring): the contact pulls the pin to GND against a pull-up.</summary>
    public bool ClosesToGround { get; init; } = true;

    /// <summary>How often to look again when the source says 0 Hz.</summary>
    public TimeSpan IdleRecheck { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Generates reed-switch closures on a simulated GPIO input at a frequency read from a source each period, on a
/// <see cref="TimeProvider"/> timer: a tipping-bucket rain gauge (tips per second from a rain rate) or a cup
/// anemometer (rotations per second from a wind speed).
/// </summary>
public sealed class PulseTrain : IDisposable
{
    private readonly SimulatedGpioDriver _driver;
    private readonly int _pin;
    private readonly TimeProvider _time;
    private readonly Func<double> _frequencyHz;
    private readonly PulseTrainOptions _options;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private bool _closed;
    // Absolute due times: each edge is scheduled from when it should have happened, not from when the timer
    // callback ran, so the train keeps its frequency even when callbacks run late. They are monotonic timestamps
    // (TimeProvider.GetTimestamp) kept as elapsed time since the train started: a wall-clock step does not move them.
    private readonly long _origin;
    private TimeSpan _nextClose;
    private TimeSpan _nextOpen;
    private long _pulses;
    private bool _disposed;

    /// <param name="driver">The simulated chip.</param>
    /// <param name="pin">The input pin the switch is wired to.</param>
    /// <param name="timeProvider">The clock (a FakeTimeProvider in tests, the system clock in the demo).</param>
    /// <param name="frequencyHz">Closures per second, read at every closure; 0 = idle.</param>
    /// <param name="options">Pulse shape.</param>
    public PulseTrain(SimulatedGpioDriver driver, int pin, TimeProvider timeProvider, Func<double> frequencyHz,
        PulseTrainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(frequencyHz);
        _driver = driver;
        _pin = pin;
        _time = timeProvider;
        _frequencyHz = frequencyHz;
        _options = options ?? new PulseTrainOptions();
        _driver.SetInput(_pin, OpenLevel);
        var first = NextInterval();
        _origin = _time.GetTimestamp();
        _nextClose = first;
        _timer = _time.CreateTimer(_ => Tick(), null, first, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// A tipping-bucket rain gauge: <paramref name="rainMillimetresPerHour"/> becomes tips per second at
    /// <paramref name="millimetresPerTip"/> (0.2794 mm for the common 0.011 in gauge).
    /// </summary>
    public static PulseTrain RainGauge(SimulatedGpioDriver driver, int pin, TimeProvider timeProvider,
        Func<double> rainMillimetresPerHour, double millimetresPerTip = 0.2794, PulseTrainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rainMillimetresPerHour);
        return new PulseTrain(driver, pin, timeProvider, () => rainMillimetresPerHour() / 3600.0 / millimetresPerTip,
            options ?? new PulseTrainOptions { PulseWidth = TimeSpan.FromMilliseconds(100) });
    }

    /// <summary>
    /// A cup anemometer: <paramref name="windMetresPerSecond"/> becomes closures per second at
    /// <paramref name="kilometresPerHourPerHertz"/> (2.4 km/h per Hz for the common cup anemometer).
    /// </summary>
    public static PulseTrain Anemometer(SimulatedGpioDriver driver, int pin, TimeProvider timeProvider,
        Func<double> windMetresPerSecond, double kilometresPerHourPerHertz = 2.4, PulseTrainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(windMetresPerSecond);
        return new PulseTrain(driver, pin, timeProvider, () => windMetresPerSecond() * 3.6 / kilometresPerHourPerHertz,
            options);
    }

    /// <summary>Closures generated so far (bounces not included).</summary>
    public long Pulses => Interlocked.Read(ref _pulses);

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _timer.Dispose();
    }

    private PinValue OpenLevel => _options.ClosesToGround ? PinValue.High : PinValue.Low;

    private PinValue ClosedLevel => _options.ClosesToGround ? PinValue.Low : PinValue.High;

    private TimeSpan NextInterval()
    {
        var f = _frequencyHz();
        if (!(f > 0) || double.IsInfinity(f))
        {
            return _options.IdleRecheck;
        }

        return TimeSpan.FromSeconds(1 / f);
    }

    private void Tick()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var now = _time.GetElapsedTime(_origin);
            if (_closed)
            {
                // End of the closure: open the contact and wait out the rest of the period.
                _driver.SetInput(_pin, OpenLevel);
                _closed = false;
                _timer.Change(Until(_nextClose, now), Timeout.InfiniteTimeSpan);
                return;
            }

            var f = _frequencyHz();
            if (!(f > 0) || double.IsInfinity(f))
            {
                _nextClose = now + _options.IdleRecheck;
                _timer.Change(_options.IdleRecheck, Timeout.InfiniteTimeSpan);
                return;
            }

            var period = TimeSpan.FromSeconds(1 / f);
            var width = _options.PulseWidth;
            if (width * 2 > period)
            {
                width = period / 2;
            }

            _driver.SetInput(_pin, ClosedLevel);
            for (var i = 0; i < _options.BounceEdges; i++)
            {
                _driver.SetInput(_pin, OpenLevel);
                _driver.SetInput(_pin, ClosedLevel);
            }

            Interlocked.Increment(ref _pulses);
            _closed = true;
            _nextOpen = _nextClose + width;
            _nextClose += period;
            if (_nextClose < now)
            {
                // Far behind (the host was suspended): resynchronise instead of firing a burst.
                _nextClose = now + period;
                _nextOpen = now + width;
            }

            _timer.Change(Until(_nextOpen, now), Timeout.InfiniteTimeSpan);
        }
    }

    private static TimeSpan Until(TimeSpan due, TimeSpan now) => due > now ? due - now : TimeSpan.FromTicks(1);
}
