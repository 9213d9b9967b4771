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

internal static class GpioPins
{
    /// <summary>
    /// GpioController 4.x lets a second OpenPin of an open pin pass silently; two drivers on one pin would fight
    /// over it, so each driver refuses a pin that is already open.
    /// </summary>
    public static void EnsureFree(GpioController controller, int pin, string name)
    {
        if (controller.IsPinOpen(pin))
        {
            throw new InvalidOperationException(
                $"GPIO {pin} for '{name}' is already in use by another channel: give each channel its own pin.");
        }
    }
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
