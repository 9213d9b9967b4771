using System.Device.Gpio;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Gpio;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class DigitalInputTests
{
    private const int DoorPin = 17;

    [Fact]
    public void Door_contact_that_bounces_on_closing_reports_one_change_after_the_debounce_time()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var door = new DigitalInput(gpio,
            new DigitalInputOptions { Name = "door_open", Pin = DoorPin, Debounce = TimeSpan.FromMilliseconds(50) }, time);
        var changes = new List<DigitalInputChangedEventArgs>();
        door.Changed += (_, e) => changes.Add(e);
        Assert.False(door.IsActive); // pull-up, contact open: high = inactive for an active-low input

        // The reed contact closes with three bounces over 6 ms.
        chip.SetInput(DoorPin, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(2));
        chip.SetInput(DoorPin, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(2));
        chip.SetInput(DoorPin, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(2));
        chip.SetInput(DoorPin, PinValue.High);
        chip.SetInput(DoorPin, PinValue.Low);
        var settledAt = time.GetUtcNow();

        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.Empty(changes);
        Assert.False(door.IsActive);

        time.Advance(TimeSpan.FromMilliseconds(1));
        var change = Assert.Single(changes);
        Assert.True(change.IsActive);
        Assert.Equal("door_open", change.Name);
        Assert.Equal(settledAt + TimeSpan.FromMilliseconds(50), change.Timestamp);
        Assert.Equal(5, door.EdgeCount);
        Assert.Equal(new SensorReading("door_open", 1, "state", SensorQuality.Good, null), door.Read());
    }

    [Fact]
    public void A_spike_shorter_than_the_debounce_time_reports_nothing()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var input = new DigitalInput(gpio, new DigitalInputOptions { Name = "power_fail", Pin = 5 }, time);
        var changes = 0;
        input.Changed += (_, _) => changes++;

        chip.SetInput(5, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(20));
        chip.SetInput(5, PinValue.High);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(0, changes);
        Assert.False(input.IsActive);
        Assert.Equal(2, input.EdgeCount);
    }

    [Fact]
    public void Active_high_flood_sensor_with_pull_down_reports_wet_and_dry()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var flood = new DigitalInput(gpio, new DigitalInputOptions
        {
            Name = "flood", Pin = 6, ActiveLow = false, Pull = InputPull.PullDown, Debounce = TimeSpan.FromMilliseconds(200),
        }, time);
        var states = new List<bool>();
        flood.Changed += (_, e) => states.Add(e.IsActive);
        Assert.Equal(PinMode.InputPullDown, chip.ModeOf(6));
        Assert.False(flood.IsActive);

        chip.SetInput(6, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(200));
        chip.SetInput(6, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(200));

        Assert.Equal([true, false], states);
        Assert.Equal(0, flood.Read().Value);
    }

    [Fact]
    public void Input_that_is_already_active_at_start_reads_active_without_an_event()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        chip.SetInput(22, PinValue.Low); // UPS "on battery" relay already closed when the gateway boots
        using var gpio = new GpioController(chip);
        using var ups = new DigitalInput(gpio, new DigitalInputOptions { Name = "ups_on_battery", Pin = 22 }, time);

        Assert.True(ups.IsActive);
        Assert.Equal(0, ups.ChangeCount);
    }

    [Fact]
    public void Dispose_unregisters_the_callback_and_frees_the_pin()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        var input = new DigitalInput(gpio, new DigitalInputOptions { Name = "door_open", Pin = DoorPin }, time);
        Assert.Equal(1, chip.CallbackCount(DoorPin));

        input.Dispose();

        Assert.Equal(0, chip.CallbackCount(DoorPin));
        Assert.False(gpio.IsPinOpen(DoorPin));
    }

    [Theory]
    [InlineData("", 4, 50, "Name is empty")]
    [InlineData("door", -1, 50, "BCM GPIO number")]
    [InlineData("door", 4, 20000, "0 to 10 s")]
    public void Bad_options_are_refused_with_the_setting_and_the_fix(string name, int pin, int debounceMs, string expected)
    {
        var options = new DigitalInputOptions { Name = name, Pin = pin, Debounce = TimeSpan.FromMilliseconds(debounceMs) };
        var ex = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
