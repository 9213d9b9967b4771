using System.Device.Gpio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>Settings of one digital output (a relay driving camera power, a siren, a fan).</summary>
public sealed record DigitalOutputOptions
{
    public required string Name { get; init; }

    /// <summary>BCM (logical) GPIO number.</summary>
    public required int Pin { get; init; }

    /// <summary>True for relay boards whose input is active-low (most opto-isolated 5 V relay modules).</summary>
    public bool ActiveLow { get; init; }

    /// <summary>
    /// The state held at start, at stop and after every pulse. For camera power through a relay's normally
    /// closed contact this is "inactive" (relay released, camera powered).
    /// </summary>
    public bool SafeStateActive { get; init; }

    /// <summary>Longest pulse accepted, so that a bad command cannot keep a camera off for hours.</summary>
    public TimeSpan MaxPulse { get; init; } = TimeSpan.FromMinutes(5);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("DigitalOutput Name is empty: give the output a name such as 'camera_power'.");
        }

        if (Pin < 0)
        {
            throw new ArgumentException($"DigitalOutput '{Name}' Pin {Pin} is negative: use the BCM GPIO number.");
        }

        if (MaxPulse <= TimeSpan.Zero)
        {
            throw new ArgumentException($"DigitalOutput '{Name}' MaxPulse must be positive (e.g. 00:05:00).");
        }
    }
}

/// <summary>
/// A digital output with a safe state: the pin is opened directly at the safe level (no glitch at start),
/// pulses always return to it (also when cancelled), and Dispose drives it before releasing the pin.
/// </summary>
public sealed class DigitalOutput : IDisposable
{
    private readonly GpioController _controller;
    private readonly DigitalOutputOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private bool _isActive;
    private bool _pulsing;
    private bool _disposed;

    public DigitalOutput(GpioController controller, DigitalOutputOptions options, TimeProvider? timeProvider = null,
        ILogger<DigitalOutput>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _controller = controller;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _isActive = options.SafeStateActive;
        GpioPins.EnsureFree(_controller, options.Pin, options.Name);
        _controller.OpenPin(options.Pin, PinMode.Output, LevelFor(options.SafeStateActive));
        Log.OutputSafeState(_logger, options.Name, options.Pin, StateName(options.SafeStateActive), "start");
    }

    public string Name => _options.Name;

    public int Pin => _options.Pin;

    public bool IsActive
    {
        get
        {
            lock (_gate)
            {
                return _isActive;
            }
        }
    }

    /// <summary>True while a pulse is running.</summary>
    public bool IsPulsing
    {
        get
        {
            lock (_gate)
            {
                return _pulsing;
            }
        }
    }

    /// <summary>Drives the output. Refused while a pulse is running (the pulse owns the pin until it ends).</summary>
    public void Set(bool active)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pulsing)
            {
                throw new InvalidOperationException($"Output '{Name}' is pulsing; wait for the pulse to end.");
            }

            Drive(active);
        }
    }

    /// <summary>
    /// Drives the opposite of the safe state for <paramref name="duration"/> (e.g. 10 s of relay on = camera off),
    /// then returns to the safe state, also when cancelled. One pulse at a time.
    /// </summary>
    public async Task PulseAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        if (duration <= TimeSpan.Zero || duration > _options.MaxPulse)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration,
                $"Pulse of output '{Name}' must be longer than 0 and at most {_options.MaxPulse}.");
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pulsing)
            {
                throw new InvalidOperationException($"Output '{Name}' is already pulsing.");
            }

            _pulsing = true;
            Drive(!_options.SafeStateActive);
        }

        try
        {
            await Task.Delay(duration, _time, cancellationToken).ConfigureAwait(false);
            Log.OutputPulsed(_logger, _options.Name, _options.Pin, duration);
        }
        finally
        {
            lock (_gate)
            {
                _pulsing = false;
                if (!_disposed)
                {
                    Drive(_options.SafeStateActive);
                }
            }
        }
    }

    /// <summary>Drives the safe state and releases the pin.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            Drive(_options.SafeStateActive);
            _disposed = true;
        }

        Log.OutputSafeState(_logger, _options.Name, _options.Pin, StateName(_options.SafeStateActive), "stop");
        if (_controller.IsPinOpen(_options.Pin))
        {
            _controller.ClosePin(_options.Pin);
        }
    }

    private static string StateName(bool active) => active ? "active" : "inactive";

    private PinValue LevelFor(bool active) => active ^ _options.ActiveLow ? PinValue.High : PinValue.Low;

    private void Drive(bool active)
    {
        _controller.Write(_options.Pin, LevelFor(active));
        _isActive = active;
    }
}
