using System.Device.Gpio;

namespace IocEdge.Devices;

/// <summary>The pin's internal bias resistor.</summary>
public enum InputPull
{
    /// <summary>No internal resistor: the circuit must pull the line itself.</summary>
    None,
    /// <summary>Internal pull-up to 3.3 V (about 50 kΩ on a Pi): use with a contact to GND.</summary>
    PullUp,
    /// <summary>Internal pull-down to GND: use with a contact to 3.3 V.</summary>
    PullDown,
}

internal static class InputPullExtensions
{
    public static PinMode ToPinMode(this InputPull pull) => pull switch
    {
        InputPull.PullUp => PinMode.InputPullUp,
        InputPull.PullDown => PinMode.InputPullDown,
        _ => PinMode.Input,
    };
}
