using System.Device.Gpio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>Settings of one debounced digital input (door switch, flood sensor, power-fail, UPS on battery).</summary>
public sealed record DigitalInputOptions
{
    /// <summary>The quantity name reported, e.g. <c>door_open</c>.</summary>
    public required string Name { get; init; }

    /// <summary>BCM (logical) GPIO number, not the header pin number.</summary>
    public required int Pin { get; init; }

    /// <summary>
    /// True when a low level means "active" (a contact to GND with a pull-up, the usual wiring);
    /// false when a high level means active (an opto-isolated 3.3 V signal).
    /// </summary>
    public bool ActiveLow { get; init; } = true;

    public InputPull Pull { get; init; } = InputPull.PullUp;

    /// <summary>The level must stay unchanged this long before a change is reported. Zero reports every edge.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the bad setting and the fix.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("DigitalInput Name is empty: give the input a quantity name such as 'door_open'.");
        }

        if (Pin < 0)
        {
            throw new ArgumentException($"DigitalInput '{Name}' Pin {Pin} is negative: use the BCM GPIO number (0-27 on a Pi header).");
        }

        if (Debounce < TimeSpan.Zero || Debounce > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"DigitalInput '{Name}' Debounce {Debounce} is out of range: use 0 to 10 s (50 ms suits a reed switch).");
        }
    }
}

/// <summary>A debounced change of a digital input.</summary>
public sealed class DigitalInputChangedEventArgs(string name, bool isActive, DateTimeOffset timestamp) : EventArgs
{
    public string Name { get; } = name;

    public bool IsActive { get; } = isActive;

    /// <summary>When the change was confirmed (the last edge plus the debounce time).</summary>
    public DateTimeOffset Timestamp { get; } = timestamp;
}

/// <summary>
/// A digital input with debounce. Every raw edge (re)starts a debounce timer; when the timer fires the pin is
/// sampled and, if the level differs from the last reported state, <see cref="Changed"/> is raised. A contact
/// that chatters for less than the debounce time therefore reports nothing, and one that settles reports once.
/// </summary>
public sealed class DigitalInput : IDisposable
{
    private readonly GpioController _controller;
    private readonly DigitalInputOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _debounceTimer;
    private readonly Lock _gate = new();
    private readonly PinChangeEventHandler _onEdge;
    private bool _isActive;
    private long _changeCount;
    private long _edgeCount;
    private DateTimeOffset _lastChange;
    private bool _disposed;

    /// <summary>Opens the pin as an input with the configured pull and reads its initial state (no event for it).</summary>
    public DigitalInput(GpioController controller, DigitalInputOptions options, TimeProvider? timeProvider = null,
        ILogger<DigitalInput>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _controller = controller;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        GpioPins.EnsureFree(_controller, options.Pin, options.Name);
        _controller.OpenPin(options.Pin, options.Pull.ToPinMode());
        _debounceTimer = _time.CreateTimer(_ => Settle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _isActive = IsActiveLevel(_controller.Read(options.Pin));
        _lastChange = _time.GetUtcNow();
        _onEdge = OnEdge;
        _controller.RegisterCallbackForPinValueChangedEvent(options.Pin, PinEventTypes.Rising | PinEventTypes.Falling, _onEdge);
    }

    /// <summary>Raised once per debounced change, on the timer's thread.</summary>
    public event EventHandler<DigitalInputChangedEventArgs>? Changed;

    public string Name => _options.Name;

    public int Pin => _options.Pin;

    /// <summary>The debounced state.</summary>
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

    /// <summary>Debounced changes since start.</summary>
    public long ChangeCount => Interlocked.Read(ref _changeCount);

    /// <summary>Raw edges seen since start (bounces included).</summary>
    public long EdgeCount => Interlocked.Read(ref _edgeCount);

    public DateTimeOffset LastChange
    {
        get
        {
            lock (_gate)
            {
                return _lastChange;
            }
        }
    }

    /// <summary>The debounced state as a reading: 1 = active, 0 = inactive.</summary>
    public SensorReading Read() => SensorReading.Good(Name, IsActive ? 1 : 0, Units.State);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _controller.UnregisterCallbackForPinValueChangedEvent(_options.Pin, _onEdge);
        _debounceTimer.Dispose();
        if (_controller.IsPinOpen(_options.Pin))
        {
            _controller.ClosePin(_options.Pin);
        }
    }

    private bool IsActiveLevel(PinValue value) => (value == PinValue.Low) == _options.ActiveLow;

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        Interlocked.Increment(ref _edgeCount);
        if (_options.Debounce == TimeSpan.Zero)
        {
            Settle();
            return;
        }

        lock (_gate)
        {
            if (!_disposed)
            {
                // Restart the quiet period: only a level that holds for the whole debounce time counts.
                _debounceTimer.Change(_options.Debounce, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Settle()
    {
        DigitalInputChangedEventArgs? change = null;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var active = IsActiveLevel(_controller.Read(_options.Pin));
            if (active != _isActive)
            {
                _isActive = active;
                _lastChange = _time.GetUtcNow();
                _changeCount++;
                change = new DigitalInputChangedEventArgs(_options.Name, active, _lastChange);
            }
        }

        if (change is not null)
        {
            Log.InputChanged(_logger, _options.Name, _options.Pin, change.IsActive ? "active" : "inactive");
            Changed?.Invoke(this, change);
        }
    }
}
