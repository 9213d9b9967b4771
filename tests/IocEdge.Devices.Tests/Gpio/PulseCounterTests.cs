using System.Device.Gpio;
using System.Text.Json;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Gpio;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class PulseCounterTests
{
    private const int RainPin = 27;
    private const int WindPin = 26;

    [Fact]
    public void Rain_gauge_at_10_mm_per_hour_with_bouncing_contacts_counts_every_tip_once()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio, new PulseCounterOptions
        {
            Name = "rain", Pin = RainPin, MinPulseInterval = TimeSpan.FromMilliseconds(50), RateWindow = TimeSpan.FromMinutes(10),
        }, time);
        var gauge = new RainGauge(counter);
        using var bucket = PulseTrain.RainGauge(chip, RainPin, time, () => 10.0,
            options: new PulseTrainOptions { PulseWidth = TimeSpan.FromMilliseconds(100), BounceEdges = 3 });

        time.Step(TimeSpan.FromHours(1), TimeSpan.FromMilliseconds(100));

        // 10 mm/h / 0.2794 mm per tip = 35.8 tips per hour: 35 whole tips in the first hour.
        Assert.Equal(35, bucket.Pulses);
        Assert.Equal(35, counter.Total);
        Assert.Equal(35 * 3, counter.BouncesIgnored);
        var readings = gauge.Read();
        Assert.Equal("rain_total", readings[0].Quantity);
        Assert.Equal("mm", readings[0].Unit);
        Assert.Equal(35 * 0.2794, readings[0].Value, 6);
        Assert.Equal("mm/h", readings[1].Unit);
        Assert.InRange(readings[1].Value, 8.0, 12.0); // 5 or 6 tips inside the 10 min window
    }

    [Fact]
    public void Anemometer_in_a_5_m_per_s_wind_reads_5_m_per_s()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "wind", Pin = WindPin, RateWindow = TimeSpan.FromSeconds(60) }, time);
        var anemometer = new Anemometer(counter);
        using var cups = PulseTrain.Anemometer(chip, WindPin, time, () => 5.0);

        time.Step(TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(5));

        // 5 m/s = 18 km/h = 7.5 Hz at 2.4 km/h per Hz.
        var reading = anemometer.Read();
        Assert.Equal("m/s", reading.Unit);
        Assert.Equal(5.0, reading.Value, 1);
        Assert.Equal(cups.Pulses, counter.Total);
    }

    [Fact]
    public void Calm_after_wind_brings_the_speed_back_to_zero_once_the_window_has_passed()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "wind", Pin = WindPin, RateWindow = TimeSpan.FromSeconds(10) }, time);
        var wind = 8.0;
        using var cups = PulseTrain.Anemometer(chip, WindPin, time, () => wind);
        time.Step(TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(5));
        Assert.InRange(new Anemometer(counter).SpeedMetresPerSecond, 7.5, 8.5);

        wind = 0;
        time.Step(TimeSpan.FromSeconds(12), TimeSpan.FromMilliseconds(5));

        Assert.Equal(0, new Anemometer(counter).SpeedMetresPerSecond);
    }

    [Fact]
    public void Total_survives_a_restart_through_the_state_file()
    {
        using var dir = new TempDirectory("pulse");
        var stateFile = dir.File("rain.json");
        var time = Clock.New();
        var options = new PulseCounterOptions { Name = "rain", Pin = RainPin, StateFile = stateFile, FlushInterval = TimeSpan.FromMinutes(1) };

        var chip = new SimulatedGpioDriver(time);
        using (var gpio = new GpioController(chip))
        using (var counter = new PulseCounter(gpio, options, time))
        {
            Tips(chip, time, 7);
            Assert.Equal(7, counter.Total);
        } // clean stop writes the final total

        Assert.Equal(7, ReadTotal(stateFile));
        Assert.False(File.Exists(stateFile + ".tmp"));

        var chip2 = new SimulatedGpioDriver(time);
        using var gpio2 = new GpioController(chip2);
        using var resumed = new PulseCounter(gpio2, options, time);
        Assert.Equal(7, resumed.Total);
        Tips(chip2, time, 3);
        Assert.Equal(10, resumed.Total);
        Assert.Equal(10 * 0.2794, new RainGauge(resumed).TotalMillimetres, 6);
    }

    [Fact]
    public void Periodic_flush_bounds_what_a_power_cut_can_lose_to_one_interval()
    {
        using var dir = new TempDirectory("pulse");
        var stateFile = dir.File("rain.json");
        var time = Clock.New();
        var options = new PulseCounterOptions { Name = "rain", Pin = RainPin, StateFile = stateFile, FlushInterval = TimeSpan.FromMinutes(1) };
        var chip = new SimulatedGpioDriver(time);
        var gpio = new GpioController(chip);
        var counter = new PulseCounter(gpio, options, time);

        Tips(chip, time, 5);
        Assert.False(File.Exists(stateFile));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(5, ReadTotal(stateFile));
        Tips(chip, time, 2);
        // Power cut: no Dispose. The 2 tips since the last flush are the most that can be lost.

        var chip2 = new SimulatedGpioDriver(time);
        using var gpio2 = new GpioController(chip2);
        using var resumed = new PulseCounter(gpio2, options, time);
        Assert.Equal(5, resumed.Total);
        GC.KeepAlive(counter);
        GC.KeepAlive(gpio);
    }

    [Theory]
    [InlineData("{\"name\":\"rain\",\"tot")]
    [InlineData("{\"name\":\"rain\",\"total\":-4}")]
    [InlineData("\0\0\0\0")]
    public void Corrupt_state_file_starts_at_zero_keeps_the_evidence_and_counts_on(string content)
    {
        using var dir = new TempDirectory("pulse");
        var stateFile = dir.File("rain.json");
        File.WriteAllText(stateFile, content);
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);

        var log = new ListLogger<PulseCounter>();

        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "rain", Pin = RainPin, StateFile = stateFile }, time, log);
        Tips(chip, time, 2);
        counter.Flush();

        Assert.Equal(2, counter.Total);
        var warning = Assert.Single(log.Entries, e => e.Id.Id == 4011);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains("the total starts at zero", warning.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(stateFile + ".corrupt"));
        Assert.Equal(2, ReadTotal(stateFile));
    }

    [Fact]
    public void Missing_state_file_starts_at_zero()
    {
        using var dir = new TempDirectory("pulse");
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);

        var log = new ListLogger<PulseCounter>();

        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "rain", Pin = RainPin, StateFile = dir.File("sub/rain.json") }, time, log);

        Assert.Equal(0, counter.Total);
        // A first start is normal: information, not a warning a technician would chase (a corrupt file stays a warning).
        Assert.Contains(log.Entries, e => e.Id.Id == 4010 && e.Level == Microsoft.Extensions.Logging.LogLevel.Information);
        Assert.DoesNotContain(log.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Tips(chip, time, 1);
        counter.Flush();
        Assert.Equal(1, ReadTotal(dir.File("sub/rain.json")));
    }

    [Fact]
    public void Unwritable_state_file_keeps_counting_and_does_not_throw()
    {
        using var dir = new TempDirectory("pulse");
        var blocker = dir.File("not-a-dir");
        File.WriteAllText(blocker, "x");
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        var log = new ListLogger<PulseCounter>();
        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "rain", Pin = RainPin, StateFile = Path.Combine(blocker, "rain.json") }, time, log);

        Tips(chip, time, 3);
        time.Advance(TimeSpan.FromMinutes(2));
        counter.Flush();

        Assert.Equal(3, counter.Total);
        Assert.Contains(log.Entries, e => e.Id.Id == 4012);
    }

    [Fact]
    public void A_pin_used_twice_is_refused_and_the_first_user_keeps_counting()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new GpioController(chip);
        using var rain = new PulseCounter(gpio, new PulseCounterOptions { Name = "rain", Pin = RainPin }, time);

        var ex = Assert.Throws<InvalidOperationException>(() =>
            new PulseCounter(gpio, new PulseCounterOptions { Name = "wind", Pin = RainPin }, time));
        Assert.Contains($"GPIO {RainPin} for 'wind' is already in use", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() =>
            new DigitalInput(gpio, new DigitalInputOptions { Name = "door_open", Pin = RainPin }, time));
        Assert.Throws<InvalidOperationException>(() =>
            new DigitalOutput(gpio, new DigitalOutputOptions { Name = "relay", Pin = RainPin }, time));
        Tips(chip, time, 2);

        Assert.Equal(2, rain.Total);
    }

    [Fact]
    public void Bad_counter_options_name_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PulseCounterOptions
        {
            Name = "rain", Pin = RainPin, Edge = PinEventTypes.Rising | PinEventTypes.Falling,
        }.Validate());
        Assert.Contains("Edge must be Falling or Rising", ex.Message, StringComparison.Ordinal);
    }

    private static void Tips(SimulatedGpioDriver chip, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, int count)
    {
        for (var i = 0; i < count; i++)
        {
            chip.SetInput(RainPin, PinValue.Low);
            time.Advance(TimeSpan.FromMilliseconds(100));
            chip.SetInput(RainPin, PinValue.High);
            time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    private static long ReadTotal(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("total").GetInt64();
    }
}
