using System.Device.Gpio;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.FieldFaults;

/// <summary>
/// Issue 13 "Field faults", item 1: intervals are measured on the monotonic clock. A gateway without a real-time
/// clock boots at a stale wall time and NTP then steps it (back or forward); no interval may change because of it.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class WallClockStepTests
{
    private const int RainPin = 23;
    private const int WindPin = 24;
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    [Fact]
    public void Rain_gauge_counts_all_20_tips_when_the_wall_clock_steps_back_10_minutes_between_them()
    {
        var clock = new SteppingClock(Clock.New());
        var chip = new SimulatedGpioDriver(clock);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio, new PulseCounterOptions
        {
            Name = "rain", Pin = RainPin, MinPulseInterval = TimeSpan.FromMilliseconds(50), RateWindow = TimeSpan.FromMinutes(10),
        }, clock);
        var gauge = new RainGauge(counter);
        chip.SetInput(RainPin, PinValue.High);

        Tips(clock, chip, 10);
        clock.StepWallClock(TimeSpan.FromMinutes(-10)); // NTP corrects a clock that ran 10 min fast
        Tips(clock, chip, 10);

        // 20 tips × 0.2794 mm (SparkFun SEN-15901 "Weather Meters" datasheet, "Rain Gauge": 0.011 in per tip).
        Assert.Equal(20, counter.Total);
        Assert.Equal(0, counter.BouncesIgnored);
        var total = gauge.Read()[0];
        Assert.Equal("rain_total", total.Quantity);
        Assert.Equal(5.588, total.Value, 6);
        // 20 tips in the 200 s since start: 20 × 0.2794 mm / 200 s × 3600 s/h = 100.584 mm/h.
        Assert.Equal(100.584, gauge.Read()[1].Value, 3);
    }

    [Fact]
    public void Rain_rate_is_unchanged_when_the_wall_clock_jumps_a_year_forward_or_back()
    {
        var clock = new SteppingClock(Clock.New());
        var chip = new SimulatedGpioDriver(clock);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio, new PulseCounterOptions
        {
            Name = "rain", Pin = RainPin, MinPulseInterval = TimeSpan.FromMilliseconds(50), RateWindow = TimeSpan.FromMinutes(10),
        }, clock);
        var gauge = new RainGauge(counter);
        chip.SetInput(RainPin, PinValue.High);
        Tips(clock, chip, 20); // 20 tips in 200 s: 100.584 mm/h
        var before = gauge.RateMillimetresPerHour;
        Assert.Equal(100.584, before, 3);

        clock.StepWallClock(TimeSpan.FromDays(365));
        Assert.Equal(before, gauge.RateMillimetresPerHour, 6);
        clock.StepWallClock(TimeSpan.FromDays(-730));
        Assert.Equal(before, gauge.RateMillimetresPerHour, 6);
        Assert.Equal(20, counter.Total);
    }

    [Fact]
    public void Anemometer_speed_is_unchanged_when_the_wall_clock_jumps_a_year_forward()
    {
        var clock = new SteppingClock(Clock.New());
        var chip = new SimulatedGpioDriver(clock);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "wind", Pin = WindPin, RateWindow = TimeSpan.FromSeconds(60) }, clock);
        var anemometer = new Anemometer(counter);
        using var cups = PulseTrain.Anemometer(chip, WindPin, clock, () => 5.0);
        clock.Fake.Step(TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(5));

        clock.StepWallClock(TimeSpan.FromDays(365));
        clock.Fake.Step(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(5));

        // 5 m/s = 18 km/h = 7.5 Hz at 2.4 km/h per Hz (SparkFun SEN-15901 datasheet, "Wind Speed").
        Assert.Equal(5.0, anemometer.Read().Value, 1);
        Assert.Equal(cups.Pulses, counter.Total);
    }

    [Fact]
    public void Simulated_pulse_train_keeps_its_rate_when_the_wall_clock_steps_back()
    {
        var clock = new SteppingClock(Clock.New());
        var chip = new SimulatedGpioDriver(clock);
        using var cups = new PulseTrain(chip, WindPin, clock, () => 2.0);
        clock.Fake.Step(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));
        Assert.Equal(20, cups.Pulses);

        clock.StepWallClock(TimeSpan.FromMinutes(-10));
        clock.Fake.Step(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));

        Assert.Equal(40, cups.Pulses);
    }

    [Fact]
    public async Task Pms5003_latest_frame_stays_fresh_across_a_forward_step_and_goes_stale_across_a_backward_one()
    {
        var clock = new SteppingClock(Clock.New());
        using var sensor = new SimulatedPms5003(clock, () => new ParticulateSample(7, 8, 9));
        using var driver = new Devices.Pms5003(sensor.Uart, clock);
        using var stop = new CancellationTokenSource();
        var run = driver.RunAsync(stop.Token);
        clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually.True(() => (bool)driver.ReadLatest(TimeSpan.FromSeconds(10))[1].Ok, TimeSpan.FromSeconds(5), "a first frame");

        await driver.SetSleepAsync(true);
        clock.StepWallClock(TimeSpan.FromDays(365));
        var fresh = driver.ReadLatest(TimeSpan.FromSeconds(10));
        Assert.True(fresh[1].Ok, fresh[1].Error); // the frame is 0 s old, not a year
        Assert.Equal(8, fresh[1].Value);

        clock.StepWallClock(TimeSpan.FromDays(-366));
        clock.Fake.Step(TimeSpan.FromSeconds(11), TimeSpan.FromSeconds(1));
        var stale = driver.ReadLatest(TimeSpan.FromSeconds(10));
        Assert.Equal(SensorQuality.CommFailure, stale[1].Quality); // 11 s of silence, although the wall clock says -1 day

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public void Simulated_sds011_working_period_keeps_its_period_when_the_wall_clock_steps_back()
    {
        var clock = new SteppingClock(Clock.New());
        using var sensor = new SimulatedSds011(clock, () => new ParticulateSample(0, 1, 2));
        sensor.Uart.Write(Devices.Sds011.Command(8, 1, 1)); // working period 1 min (Laser Dust Sensor Control Protocol V1.3)
        clock.Fake.Step(TimeSpan.FromSeconds(61), TimeSpan.FromSeconds(1));
        var before = sensor.FramesSent;

        clock.StepWallClock(TimeSpan.FromMinutes(-10));
        clock.Fake.Step(TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(1));

        Assert.Equal(before + 3, sensor.FramesSent); // one measurement a minute, not none for 10 min
    }

    [Fact]
    public async Task Bme280_forced_measurement_completes_while_the_wall_clock_stands_still()
    {
        var clock = new SteppingClock(Clock.New());
        var sim = new SimulatedBme280(clock, () => new AirConditions(25, 1000, 50));
        using var bme = new Devices.Bme280(sim, timeProvider: clock);
        clock.FreezeWallClock();

        var readings = await clock.Fake.RunAsync(bme.ReadAsync(), Step, Budget);

        Assert.All(readings, r => Assert.True(r.Ok, r.Error));
        Assert.Equal(25, readings[0].Value, 1);
    }

    [Fact]
    public async Task Ads1115_single_shot_conversion_completes_while_the_wall_clock_stands_still()
    {
        var clock = new SteppingClock(Clock.New());
        var sim = new SimulatedAds1115(clock, _ => 1.5);
        var adc = new Devices.Ads1115(sim, clock);
        clock.FreezeWallClock();

        var sample = await clock.Fake.RunAsync(adc.ReadAsync(Ads1115Input.Ain0, Ads1115FullScale.PlusMinus4096mV, Ads1115DataRate.Sps8),
            Step, Budget);

        Assert.Equal(1.5, sample.Volts, 3);
    }

    /// <summary>One tip every 10 s: the reed switch closes for 100 ms (falling edge = one pulse).</summary>
    private static void Tips(SteppingClock clock, SimulatedGpioDriver chip, int count)
    {
        for (var i = 0; i < count; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(100));
            chip.SetInput(RainPin, PinValue.Low);
            clock.Advance(TimeSpan.FromMilliseconds(100));
            chip.SetInput(RainPin, PinValue.High);
        }
    }
}
