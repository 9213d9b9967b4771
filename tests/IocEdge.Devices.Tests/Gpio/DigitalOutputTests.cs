using System.Device.Gpio;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Gpio;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class DigitalOutputTests
{
    private const int RelayPin = 23;

    [Fact]
    public void Relay_output_opens_at_its_safe_level_without_a_glitch()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);

        // Active-low relay module: inactive (camera powered through NC contact) is a HIGH pin.
        using var relay = new DigitalOutput(gpio,
            new DigitalOutputOptions { Name = "camera_power_cycle", Pin = RelayPin, ActiveLow = true }, time);

        Assert.Equal(PinValue.High, chip.GetOutput(RelayPin));
        Assert.All(chip.GetOutputHistory(RelayPin), level => Assert.Equal(PinValue.High, level.Value));
        Assert.False(relay.IsActive);
    }

    [Fact]
    public async Task Camera_power_cycle_pulse_holds_the_relay_for_its_duration_then_returns_to_safe()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var relay = new DigitalOutput(gpio, new DigitalOutputOptions { Name = "camera_power_cycle", Pin = RelayPin }, time);
        var start = time.GetUtcNow();

        var pulse = relay.PulseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(PinValue.High, chip.GetOutput(RelayPin));
        Assert.True(relay.IsPulsing);
        Assert.Throws<InvalidOperationException>(() => relay.Set(false));

        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(PinValue.High, chip.GetOutput(RelayPin));
        time.Advance(TimeSpan.FromSeconds(0.1));
        await pulse;

        Assert.Equal(PinValue.Low, chip.GetOutput(RelayPin));
        var history = chip.GetOutputHistory(RelayPin);
        Assert.Equal([PinValue.Low, PinValue.High, PinValue.Low], history.Select(h => h.Value));
        Assert.Equal(TimeSpan.FromSeconds(10), history[2].Timestamp - history[1].Timestamp);
        Assert.Equal(start, history[1].Timestamp);
    }

    [Fact]
    public async Task Cancelled_pulse_still_returns_the_relay_to_its_safe_state()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var relay = new DigitalOutput(gpio, new DigitalOutputOptions { Name = "camera_power_cycle", Pin = RelayPin }, time);
        using var cts = new CancellationTokenSource();

        var pulse = relay.PulseAsync(TimeSpan.FromSeconds(10), cts.Token);
        time.Advance(TimeSpan.FromSeconds(3));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pulse);
        Assert.Equal(PinValue.Low, chip.GetOutput(RelayPin));
        Assert.False(relay.IsPulsing);
    }

    [Fact]
    public void Dispose_drives_the_safe_state_before_releasing_the_pin()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        var fan = new DigitalOutput(gpio, new DigitalOutputOptions { Name = "fan", Pin = 24, SafeStateActive = true }, time);
        fan.Set(false);
        Assert.Equal(PinValue.Low, chip.GetOutput(24));

        fan.Dispose();

        Assert.Equal(PinValue.High, chip.GetOutput(24));
        Assert.False(gpio.IsPinOpen(24));
    }

    [Fact]
    public async Task Pulse_longer_than_the_limit_is_refused_and_the_pin_is_untouched()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var relay = new DigitalOutput(gpio, new DigitalOutputOptions { Name = "camera_power_cycle", Pin = RelayPin }, time);

        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => relay.PulseAsync(TimeSpan.FromHours(1)));

        Assert.Contains("at most", ex.Message, StringComparison.Ordinal);
        Assert.Single(chip.GetOutputHistory(RelayPin));
    }
}
