using System.Device.Gpio;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Gpio;

/// <summary>The simulated chip behaves like a GPIO chip seen through GpioController.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class SimulatedGpioDriverTests
{
    [Fact]
    public void Floating_inputs_read_their_pull_and_edges_reach_callbacks_once_per_change()
    {
        var chip = new SimulatedGpioDriver();
        using var gpio = new GpioController(chip);
        gpio.OpenPin(5, PinMode.InputPullUp);
        gpio.OpenPin(6, PinMode.InputPullDown);
        var edges = new List<PinEventTypes>();
        gpio.RegisterCallbackForPinValueChangedEvent(5, PinEventTypes.Falling | PinEventTypes.Rising, (_, e) => edges.Add(e.ChangeType));

        Assert.Equal(PinValue.High, gpio.Read(5));
        Assert.Equal(PinValue.Low, gpio.Read(6));
        chip.SetInput(5, PinValue.Low);
        chip.SetInput(5, PinValue.Low); // no change, no edge
        chip.ReleaseInput(5); // back to the pull-up

        Assert.Equal([PinEventTypes.Falling, PinEventTypes.Rising], edges);
    }

    [Fact]
    public async Task WaitForEventAsync_returns_on_the_requested_edge_and_times_out_otherwise()
    {
        var chip = new SimulatedGpioDriver();
        using var gpio = new GpioController(chip);
        gpio.OpenPin(13, PinMode.InputPullUp);

        var wait = gpio.WaitForEventAsync(13, PinEventTypes.Falling, CancellationToken.None).AsTask();
        chip.SetInput(13, PinValue.Low);
        var result = await wait;
        using var cts = new CancellationTokenSource();
        var none = gpio.WaitForEventAsync(13, PinEventTypes.Falling, cts.Token).AsTask();
        await cts.CancelAsync();

        Assert.Equal(PinEventTypes.Falling, result.EventTypes);
        Assert.False(result.TimedOut);
        Assert.True((await none).TimedOut);
        Assert.Equal(0, chip.CallbackCount(13));
    }

    [Fact]
    public void Pulse_train_at_zero_hertz_stays_idle_and_starts_when_the_source_rises()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        gpio.OpenPin(24, PinMode.InputPullUp);
        var hz = 0.0;
        using var train = new PulseTrain(chip, 24, time, () => hz);

        time.Step(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(5));
        Assert.Equal(0, train.Pulses);

        hz = 10;
        time.Step(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(5));
        Assert.InRange(train.Pulses, 19, 21); // first closure after the 1 s idle recheck, then 10 per second
    }
}
