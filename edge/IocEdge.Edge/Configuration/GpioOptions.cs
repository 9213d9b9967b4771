namespace IocEdge.Edge.Configuration;

/// <summary>
/// Switches and pulse sensors wired to the gateway's own GPIO header (section Gateway:Gpio). Pins are BCM numbers
/// (GPIO17 is header pin 11); see hardware/boards/ for which are safe to use.
/// </summary>
public sealed class GpioOptions
{
    /// <summary>The first level of the channel ids ("pole7" gives "pole7/door").</summary>
    public string Device { get; set; } = "io";

    /// <summary>The gpiochip the header is on (0 on a Raspberry Pi 4; 0 on a Pi 5 with kernel 6.6 or later, 4 before).</summary>
    public int Chip { get; set; }

    /// <summary>How often every input and counter is reported even without a change (a heartbeat the IOC can watch).</summary>
    public TimeSpan ReportPeriod { get; set; } = TimeSpan.FromSeconds(10);

    public List<GpioInputOptions> Inputs { get; set; } = [];

    public List<GpioCounterOptions> Counters { get; set; } = [];

    /// <summary>Relay outputs, commandable from the aggregator (contract §10, issue 16); each held at its safe state at start.</summary>
    public List<GpioOutputOptions> Outputs { get; set; } = [];

    /// <summary>
    /// How long the link to the aggregator may be down before every output returns to its safe state (a pulse running
    /// is cut short): a relay must not stay commanded by an operator who can no longer see or undo it. Default 5 minutes;
    /// 00:00:01 to 1 day.
    /// </summary>
    public TimeSpan OutputLinkLossTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>No inputs and no counters (no readings from GPIO; outputs are not readings).</summary>
    public bool IsEmpty => Inputs.Count == 0 && Counters.Count == 0;
}

/// <summary>
/// One relay output (camera power cycle, siren, fan), driven by <c>IocEdge.Devices.DigitalOutput</c>: opened at its
/// safe state without a glitch, back to it at stop, after a pulse and when the link is lost.
/// </summary>
public sealed class GpioOutputOptions
{
    /// <summary>The name commands use (contract §10.1 <c>output</c>): lower-case letters, digits, '_', such as camera_power.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>BCM GPIO number (2-27).</summary>
    public int Pin { get; set; } = -1;

    /// <summary>True for relay boards whose input is active-low (most opto-isolated 5 V relay modules).</summary>
    public bool ActiveLow { get; set; }

    /// <summary>The state held at start, at stop, after a pulse and on loss of link (false: relay released).</summary>
    public bool SafeStateActive { get; set; }

    /// <summary>Longest pulse a command may ask (default 5 minutes, at most 1 hour).</summary>
    public TimeSpan MaxPulse { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>A two-state switch: cabinet door, flood sensor, mains power-fail, UPS on battery.</summary>
public sealed class GpioInputOptions
{
    /// <summary>The channel's last level ("door" gives "{device}/door").</summary>
    public string Id { get; set; } = string.Empty;

    public int Pin { get; set; } = -1;

    /// <summary>True when the contact pulls the pin to ground when active (the usual wiring with the internal pull-up).</summary>
    public bool ActiveLow { get; set; } = true;

    /// <summary>PullUp, PullDown or None (an external resistor).</summary>
    public string Pull { get; set; } = "PullUp";

    public TimeSpan Debounce { get; set; } = TimeSpan.FromMilliseconds(50);
}

public enum GpioCounterKind
{
    /// <summary>A tipping-bucket rain gauge: channels {id}_total [mm] and {id}_rate [mm/h].</summary>
    RainGauge,
    /// <summary>A cup anemometer: channel {id} [m/s].</summary>
    Anemometer,
}

/// <summary>A pulse input whose total survives restarts (kept in DataDirectory/counters/{id}.json).</summary>
public sealed class GpioCounterOptions
{
    public string Id { get; set; } = string.Empty;

    public GpioCounterKind Kind { get; set; } = GpioCounterKind.RainGauge;

    public int Pin { get; set; } = -1;

    /// <summary>Rain gauge: millimetres of rain per tip (0.2794 for the common 0.011 in bucket).</summary>
    public double MillimetresPerTip { get; set; } = 0.2794;

    /// <summary>Anemometer: km/h of wind per closure per second (2.4 for the common cup anemometer).</summary>
    public double KilometresPerHourPerHertz { get; set; } = 2.4;

    /// <summary>Contact bounce shorter than this is ignored.</summary>
    public TimeSpan MinPulseInterval { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>The window the rate (mm/h, m/s) is averaged over.</summary>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromMinutes(1);
}
