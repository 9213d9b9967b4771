using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.FieldFaults;

/// <summary>
/// Issue 13 "Field faults", item 2: a raw code that is not a measurement is <see cref="SensorQuality.Invalid"/>
/// (no value), a number outside the datasheet's measuring range is <see cref="SensorQuality.OutOfRange"/> (value
/// kept). Each driver is read against its simulated part producing the code the way the real part does.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class RawCodeTests : IDisposable
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _w1 = new("w1");

    public void Dispose() => _w1.Dispose();

    [Fact]
    public void A_non_finite_value_is_never_good()
    {
        Assert.Equal(SensorQuality.Invalid, SensorReading.Good("pressure", double.NaN, Units.Hectopascal).Quality);
        Assert.Equal(SensorQuality.Invalid, SensorReading.Good("pressure", double.PositiveInfinity, Units.Hectopascal).Quality);
        Assert.False(SensorReading.Good("pressure", double.NaN, Units.Hectopascal).HasValue);
    }

    [Fact]
    public async Task Bme280_after_a_brown_out_reads_its_reset_words_as_invalid_and_recovers_at_the_next_read()
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(24, 1008, 65));
        using var sensor = new Devices.Bme280(chip, new Bme280Options { Mode = Bme280Mode.Normal }, time);
        var before = await time.RunAsync(sensor.ReadAsync(), Step, Budget);
        Assert.All(before, r => Assert.True(r.Ok, r.Error));

        chip.PowerCycle(); // supply glitch: data registers back to 0x80000 / 0x80000 / 0x8000 (datasheet Table 18)
        var glitch = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        Assert.Equal([SensorQuality.Invalid, SensorQuality.Invalid, SensorQuality.Invalid], glitch.Select(r => r.Quality));
        Assert.All(glitch, r => Assert.True(double.IsNaN(r.Value)));
        Assert.Contains("0x80000", glitch[0].Error, StringComparison.Ordinal);
        var after = await time.RunAsync(sensor.ReadAsync(), Step, Budget);
        Assert.All(after, r => Assert.True(r.Ok, r.Error));
        Assert.Equal(24, after[0].Value, 0.01);
    }

    [Fact]
    public async Task Bme280_skipped_pressure_and_humidity_words_are_invalid_while_temperature_stays_good()
    {
        var time = Clock.New();
        // adc_T 519888 is the BMP280 datasheet's worked example (BST-BMP280-DS001 3.12): 25.08 °C. 0x80000 and
        // 0x8000 are the "measurement skipped" outputs (BST-BME280-DS002 5.4.8, 5.4.9).
        var chip = new SimulatedBme280(time, () => default) { RawOverride = (519888, 0x80000, 0x8000) };
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        var readings = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.Good, readings[0].Quality);
        Assert.Equal(25.08, readings[0].Value, 0.005);
        Assert.Equal(("pressure", SensorQuality.Invalid), (readings[1].Quantity, readings[1].Quality));
        Assert.Equal(("humidity", SensorQuality.Invalid), (readings[2].Quantity, readings[2].Quality));
        Assert.Contains("0x80000", readings[1].Error, StringComparison.Ordinal);
        Assert.Contains("0x8000", readings[2].Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(90.0, 1000.0, 0)] // above +85 °C (datasheet Table 1 operating range -40..85 °C)
    [InlineData(-45.0, 1000.0, 0)]
    [InlineData(25.0, 250.0, 1)] // below 300 hPa (operating range 300..1100 hPa)
    public async Task Bme280_outside_its_operating_range_reports_out_of_range_with_the_value(double celsius, double hpa, int index)
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(celsius, hpa, 50));
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        var readings = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        var r = readings[index];
        Assert.Equal(SensorQuality.OutOfRange, r.Quality);
        Assert.True(r.HasValue);
        Assert.Equal(index == 0 ? celsius : hpa, r.Value, index == 0 ? 0.02 : 0.05);
        Assert.Contains("operating range", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ds18b20_persistent_85_degree_power_on_value_is_invalid()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, "28-00000a1b2c3d", time, () => 30) { Fault = W1Fault.PowerOnReset };
        sensor.Write();

        var reading = await time.RunAsync(new Devices.Ds18b20(sensor.DevicePath, time).ReadAsync(), Step, Budget);

        // +85 °C = 0x0550 is the power-on reset value of the temperature register (Maxim DS18B20 datasheet, Table 1).
        Assert.Equal(SensorQuality.Invalid, reading.Quality);
        Assert.False(reading.HasValue);
    }

    [Theory]
    [InlineData(127.0)] // register 0x07F0; the measuring range is -55..+125 °C (datasheet "Features")
    [InlineData(-60.0)] // register 0xFC40
    public async Task Ds18b20_outside_minus_55_to_125_reports_out_of_range_with_the_value(double celsius)
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, "28-00000a1b2c3d", time, () => celsius);
        sensor.Write();
        var driver = new Devices.Ds18b20(sensor.DevicePath, time);

        var reading = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.OutOfRange, reading.Quality);
        Assert.Equal(celsius, reading.Value);
        var thrown = await Assert.ThrowsAsync<SensorException>(() => time.RunAsync(driver.ReadTemperatureAsync(), Step, Budget));
        Assert.Equal(SensorQuality.OutOfRange, thrown.Quality);
    }

    [Fact]
    public async Task Ds18b20_bus_idling_high_reads_all_0xff_and_is_a_comm_failure_that_says_so()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, "28-00000a1b2c3d", time, () => 30) { Fault = W1Fault.Disconnected };
        sensor.Write();
        Assert.Contains("crc=c9 NO", File.ReadAllText(Path.Combine(sensor.DevicePath, "w1_slave")), StringComparison.Ordinal);

        var reading = await time.RunAsync(new Devices.Ds18b20(sensor.DevicePath, time).ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.CommFailure, reading.Quality);
        Assert.Contains("0xFF", reading.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pms5003_all_zero_frames_after_wake_up_are_invalid_then_values_are_good()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(11, 22, 33)) { ZeroFramesAfterWake = 2 };
        using var driver = new Devices.Pms5003(sensor.Uart, time);
        await driver.SetSleepAsync(true);
        time.Advance(TimeSpan.FromSeconds(5));
        await driver.SetSleepAsync(false);

        var first = await time.RunAsync(driver.ReadAsync(), Step, Budget);
        var second = await time.RunAsync(driver.ReadAsync(), Step, Budget);
        var third = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.All(first.Concat(second), r => Assert.Equal(SensorQuality.Invalid, r.Quality));
        Assert.Contains("all zeros", first[1].Error, StringComparison.Ordinal);
        Assert.All(third, r => Assert.True(r.Ok, r.Error));
        Assert.Equal(22, third[1].Value);
    }

    [Fact]
    public async Task Pms5003_above_its_500_ug_effective_range_reports_out_of_range_with_the_value()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(300, 600, 1200));
        using var driver = new Devices.Pms5003(sensor.Uart, time);

        var readings = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        // PMS5003 data manual: effective range 0-500 µg/m³, maximum range ≥ 1000 µg/m³.
        Assert.Equal(SensorQuality.Good, readings[0].Quality);
        Assert.Equal((SensorQuality.OutOfRange, 600.0), (readings[1].Quality, readings[1].Value));
        Assert.Equal((SensorQuality.OutOfRange, 1200.0), (readings[2].Quality, readings[2].Value));
    }

    [Fact]
    public async Task Sds011_above_its_999_9_ug_measuring_range_reports_out_of_range_with_the_value()
    {
        var time = Clock.New();
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 5, 5));
        using var driver = new Devices.Sds011(sensor.Uart, time);
        // PM2.5 = 15000 / 10 = 1500.0, PM10 = 999.9 (SDS011 datasheet V1.3: measuring range 0.0-999.9 µg/m³).
        sensor.InjectGarbage(SimulatedSds011.EncodeFrame(0xC0, [0x98, 0x3A, 0x0F, 0x27, 0xA1, 0xB2]));

        var readings = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.Equal((SensorQuality.OutOfRange, 1500.0), (readings[0].Quality, readings[0].Value));
        Assert.Equal((SensorQuality.Good, 999.9), (readings[1].Quality, readings[1].Value));
    }

    [Theory]
    [InlineData(3.7, -0.1875)] // NE 43: 3.6-3.8 mA is neither a measurement nor a failure signal
    [InlineData(20.8, 10.5)] // NE 43: 20.5-21 mA likewise
    public async Task Current_loop_between_the_ne43_measuring_range_and_the_failure_bands_is_out_of_range_with_the_value(
        double mA, double metres)
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, i => i == 0 ? SimulatedAds1115.ShuntVolts(mA, 250) : 0);
        var input = new CurrentLoopInput(new Devices.Ads1115(chip, time), new CurrentLoopOptions
        {
            Quantity = "water_level", Unit = "m", ValueAt4mA = 0, ValueAt20mA = 10, ShuntOhms = 250,
        });

        var readings = await time.RunAsync(input.ReadAsync(), Step, Budget);

        // (3.7 - 4) / 16 × 10 m = -0.1875 m; (20.8 - 4) / 16 × 10 m = 10.5 m.
        Assert.Equal(SensorQuality.OutOfRange, readings[0].Quality);
        Assert.Equal(metres, readings[0].Value, 0.002);
        Assert.Equal(SensorQuality.Good, readings[1].Quality);
    }

    [Fact]
    public async Task Current_loop_clipped_at_adc_full_scale_sends_its_current_as_out_of_range()
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, i => i == 0 ? SimulatedAds1115.ShuntVolts(25, 250) : 0);
        var input = new CurrentLoopInput(new Devices.Ads1115(chip, time), new CurrentLoopOptions
        {
            Quantity = "water_level", Unit = "m", ValueAt4mA = 0, ValueAt20mA = 10, ShuntOhms = 250,
        });

        var readings = await time.RunAsync(input.ReadAsync(), Step, Budget);

        // 6.144 V full scale / 250 Ω = 24.58 mA: the ADC clips (TI SBAS444, output code 0x7FFF).
        Assert.Equal(SensorQuality.DeviceException, readings[0].Quality);
        Assert.Equal(SensorQuality.OutOfRange, readings[1].Quality);
        Assert.Equal(24.58, readings[1].Value, 0.01);
    }

    [Fact]
    public void Rain_rate_beyond_the_gauges_maximum_intensity_is_out_of_range_with_the_value()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new System.Device.Gpio.GpioController(chip);
        using var counter = new PulseCounter(gpio, new PulseCounterOptions
        {
            Name = "rain", Pin = 23, MinPulseInterval = TimeSpan.FromMilliseconds(50), RateWindow = TimeSpan.FromMinutes(1),
        }, time);
        var gauge = new RainGauge(counter);
        // A chattering line: 5 tips/s × 0.2794 mm × 3600 s/h = 5029.2 mm/h, beyond 2000 mm/h (WMO-No. 8 Annex 1.A).
        using var noise = new PulseTrain(chip, 23, time, () => 5.0);
        time.Step(TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(10));

        var rate = gauge.Read()[1];

        Assert.Equal(SensorQuality.OutOfRange, rate.Quality);
        Assert.Equal(5029.2, rate.Value, 1);
        Assert.Equal(SensorQuality.Good, gauge.Read()[0].Quality);
    }

    [Fact]
    public void Wind_speed_beyond_the_anemometers_maximum_is_out_of_range_with_the_value()
    {
        var time = Clock.New();
        var chip = new SimulatedGpioDriver(time);
        using var gpio = new System.Device.Gpio.GpioController(chip);
        using var counter = new PulseCounter(gpio,
            new PulseCounterOptions { Name = "wind", Pin = 24, RateWindow = TimeSpan.FromSeconds(10) }, time);
        var anemometer = new Anemometer(counter, maxMetresPerSecond: 50);
        // 60 m/s = 216 km/h = 90 Hz at 2.4 km/h per Hz (SparkFun SEN-15901 datasheet, "Wind Speed").
        using var cups = PulseTrain.Anemometer(chip, 24, time, () => 60.0);
        time.Step(TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(1));

        var reading = anemometer.Read();

        Assert.Equal(SensorQuality.OutOfRange, reading.Quality);
        Assert.Equal(60, reading.Value, 0);
    }
}
