using System.Device.Gpio;

namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>A level written to an output pin, with the time it was written.</summary>
public readonly record struct OutputLevel(DateTimeOffset Timestamp, PinValue Value);

/// <summary>
/// A GPIO chip without hardware, for <c>new GpioController(driver)</c>. Inputs are driven from outside with
/// <see cref="SetInput"/> (or left floating, when the pin's pull decides), and edges call the registered
/// callbacks exactly like the libgpiod driver does (one call per edge, with Rising or Falling). Outputs can be read
/// back with <see cref="GetOutput"/> and their history with <see cref="GetOutputHistory"/>.
/// Callbacks run synchronously on the thread that changed the input (a timer thread for a <see cref="PulseTrain"/>).
/// </summary>
public class SimulatedGpioDriver : GpioDriver
{
    private readonly TimeProvider _time;
    private readonly int _pinCount;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, SimulatedPin> _pins = [];

    /// <param name="timeProvider">Stamps output history; defaults to the system clock.</param>
    /// <param name="pinCount">28 = GPIO 0-27 of a Raspberry Pi header.</param>
    public SimulatedGpioDriver(TimeProvider? timeProvider = null, int pinCount = 28)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pinCount);
        _time = timeProvider ?? TimeProvider.System;
        _pinCount = pinCount;
    }

    /// <summary>Raised after an output pin changed level (the argument is the pin number).</summary>
    public event EventHandler<int>? OutputChanged;

    /// <summary>The time source pulse trains and history use.</summary>
    public TimeProvider TimeProvider => _time;

    protected override int PinCount => _pinCount;

    /// <summary>True when the pin is open (used by a driver).</summary>
    public bool IsOpen(int pinNumber)
    {
        lock (_gate)
        {
            return _pins.TryGetValue(pinNumber, out var pin) && pin.Open;
        }
    }

    /// <summary>The pin's mode as the driver above set it, or null when closed.</summary>
    public PinMode? ModeOf(int pinNumber)
    {
        lock (_gate)
        {
            return _pins.TryGetValue(pinNumber, out var pin) && pin.Open ? pin.Mode : null;
        }
    }

    /// <summary>Drives an input pin from outside (a switch closing to GND = Low). Raises edge callbacks on change.</summary>
    public void SetInput(int pinNumber, PinValue level) => ChangeExternal(pinNumber, level);

    /// <summary>Lets an input float again: its pull resistor decides the level (a contact opening).</summary>
    public void ReleaseInput(int pinNumber) => ChangeExternal(pinNumber, null);

    /// <summary>The level of an output pin (Low when never written).</summary>
    public PinValue GetOutput(int pinNumber)
    {
        lock (_gate)
        {
            return Pin(pinNumber).OutputValue;
        }
    }

    /// <summary>Every level written to the pin, oldest first.</summary>
    public IReadOnlyList<OutputLevel> GetOutputHistory(int pinNumber)
    {
        lock (_gate)
        {
            return [.. Pin(pinNumber).History];
        }
    }

    /// <summary>How many callbacks are registered on the pin (a driver that forgot to unregister leaks them).</summary>
    public int CallbackCount(int pinNumber)
    {
        lock (_gate)
        {
            return _pins.TryGetValue(pinNumber, out var pin) ? pin.Callbacks.Count : 0;
        }
    }

    protected override void OpenPin(int pinNumber)
    {
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            pin.Open = true;
            pin.Mode = PinMode.Input;
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            pin.Open = false;
            pin.Callbacks.Clear();
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        if (!IsPinModeSupported(pinNumber, mode))
        {
            throw new InvalidOperationException($"Pin {pinNumber} does not support mode {mode}.");
        }

        lock (_gate)
        {
            Pin(pinNumber).Mode = mode;
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        // Like libgpiod: an output line is requested with its initial value, so it never glitches.
        if (mode == PinMode.Output)
        {
            lock (_gate)
            {
                var pin = Pin(pinNumber);
                pin.Mode = mode;
            }

            Write(pinNumber, initialValue);
            return;
        }

        SetPinMode(pinNumber, mode);
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_gate)
        {
            return Pin(pinNumber).Mode;
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.InputPullUp or PinMode.InputPullDown or PinMode.Output;

    protected override PinValue Read(int pinNumber)
    {
        lock (_gate)
        {
            return Pin(pinNumber).Level;
        }
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        bool changed;
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            if (pin.Mode != PinMode.Output)
            {
                throw new InvalidOperationException($"Pin {pinNumber} is not an output (mode {pin.Mode}).");
            }

            changed = pin.OutputValue != value || pin.History.Count == 0;
            pin.OutputValue = value;
            pin.History.Add(new OutputLevel(_time.GetUtcNow(), value));
        }

        if (changed)
        {
            OutputChanged?.Invoke(this, pinNumber);
        }
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        // The base API is synchronous; it blocks the caller like the real driver does.
        using var signal = new ManualResetEventSlim();
        var seen = PinEventTypes.None;
        void Handler(object sender, PinValueChangedEventArgs e)
        {
            seen = e.ChangeType;
            signal.Set();
        }

        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, Handler);
        try
        {
            signal.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = seen, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, Handler);
        }
    }

    protected override async ValueTask<WaitForEventResult> WaitForEventAsync(int pinNumber, PinEventTypes eventTypes,
        CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<PinEventTypes>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(object sender, PinValueChangedEventArgs e) => tcs.TrySetResult(e.ChangeType);

        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, Handler);
        try
        {
            using (cancellationToken.Register(() => tcs.TrySetCanceled(cancellationToken)))
            {
                var type = await tcs.Task.ConfigureAwait(false);
                return new WaitForEventResult { EventTypes = type, TimedOut = false };
            }
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, Handler);
        }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Pin(pinNumber).Callbacks.Add((eventTypes, callback));
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Pin(pinNumber).Callbacks.RemoveAll(c => c.Handler == callback);
        }
    }

    private SimulatedPin Pin(int pinNumber)
    {
        if (pinNumber < 0 || pinNumber >= _pinCount)
        {
            throw new ArgumentOutOfRangeException(nameof(pinNumber), pinNumber, $"This chip has GPIO 0-{_pinCount - 1}.");
        }

        if (!_pins.TryGetValue(pinNumber, out var pin))
        {
            pin = new SimulatedPin();
            _pins[pinNumber] = pin;
        }

        return pin;
    }

    private void ChangeExternal(int pinNumber, PinValue? level)
    {
        List<PinChangeEventHandler> toCall = [];
        PinEventTypes edge;
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            var before = pin.Level;
            pin.External = level;
            var after = pin.Level;
            if (before == after || !pin.Open || pin.Mode == PinMode.Output)
            {
                return;
            }

            edge = after == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            foreach (var (types, handler) in pin.Callbacks)
            {
                if ((types & edge) != 0)
                {
                    toCall.Add(handler);
                }
            }
        }

        // Outside the lock: a callback may read the pin (debounce) or register another callback.
        var args = new PinValueChangedEventArgs(edge, pinNumber);
        foreach (var handler in toCall)
        {
            handler(this, args);
        }
    }

    private sealed class SimulatedPin
    {
        public bool Open { get; set; }

        public PinMode Mode { get; set; } = PinMode.Input;

        public PinValue? External { get; set; }

        public PinValue OutputValue { get; set; } = PinValue.Low;

        public List<OutputLevel> History { get; } = [];

        public List<(PinEventTypes Types, PinChangeEventHandler Handler)> Callbacks { get; } = [];

        /// <summary>What a read sees: the output latch, the external driver, or the pull resistor.</summary>
        public PinValue Level => Mode == PinMode.Output
            ? OutputValue
            : External ?? (Mode == PinMode.InputPullUp ? PinValue.High : PinValue.Low);
    }
}
