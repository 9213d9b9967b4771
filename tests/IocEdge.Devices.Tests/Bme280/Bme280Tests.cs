using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Devices.Tests.Bme280;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class Bme280Tests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1);

    [Fact]
    public void Integer_compensation_gives_the_datasheet_worked_example()
    {
        // BMP280 datasheet BST-BMP280-DS001 section 3.12: the same T/P formulas as BME280 section 4.2.3.
        var c = Parse(SimulatedBme280.Trimming.DatasheetExample);

        var t = c.CompensateTemperature(519888, out var tFine);
        var p = c.CompensatePressure(415148, tFine) / 256.0;

        Assert.Equal(128422, tFine);
        Assert.Equal(2508, t); // 25.08 degC
        // The example table gives 100653.27 Pa (computed in floating point); the 64-bit integer formula lands
        // 0.016 Pa below it (resolution 1/256 Pa), so the check allows 0.02 Pa.
        Assert.Equal(100653.27, p, 0.02);
    }

    [Fact]
    public async Task Driver_reads_the_datasheet_example_through_the_simulated_register_file()
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => default) { RawOverride = (519888, 415148, 30000) };
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        var m = await time.RunAsync(sensor.MeasureAsync(), Step, Budget);

        Assert.Equal(25.08, m.TemperatureCelsius, 6);
        Assert.Equal(1006.5327, m.PressureHectopascals, 0.0002);
        Assert.Equal(Parse(chip.Calibration), sensor.Calibration);
    }

    [Theory]
    [InlineData(31.5, 1009.3, 62.0)]
    [InlineData(-5.25, 870.0, 15.0)]
    [InlineData(45.0, 1050.0, 98.5)]
    public async Task Readings_match_the_air_the_simulated_part_is_in(double celsius, double hpa, double rh)
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(celsius, hpa, rh));
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        var readings = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        Assert.All(readings, r => Assert.True(r.Ok, r.Error));
        Assert.Equal(["temperature", "pressure", "humidity"], readings.Select(r => r.Quantity));
        Assert.Equal(["degC", "hPa", "%RH"], readings.Select(r => r.Unit));
        Assert.Equal(celsius, readings[0].Value, 0.01);
        Assert.Equal(hpa, readings[1].Value, 0.02);
        Assert.Equal(rh, readings[2].Value, 0.1);
    }

    [Fact]
    public async Task Forced_mode_waits_the_datasheet_maximum_measurement_time_and_triggers_one_conversion_per_read()
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(20, 1000, 50));
        var options = new Bme280Options
        {
            Temperature = Bme280Oversampling.X2, Pressure = Bme280Oversampling.X16, Humidity = Bme280Oversampling.X1,
        };
        using var sensor = new Devices.Bme280(chip, options, time);
        await time.RunAsync(sensor.InitializeAsync(), Step, Budget);

        // 1.25 + 2.3*2 + (2.3*16 + 0.575) + (2.3*1 + 0.575) = 46.1 ms
        Assert.Equal(46.1, Devices.Bme280.MaxMeasurementTime(options).TotalMilliseconds, 6);
        var read = sensor.MeasureAsync();
        time.Advance(TimeSpan.FromMilliseconds(45));
        await Task.Yield();
        Assert.False(read.IsCompleted);
        var m = await time.RunAsync(read, Step, Budget);
        Assert.Equal(20, m.TemperatureCelsius, 0.01);
        Assert.Equal(1, chip.Conversions);

        await time.RunAsync(sensor.MeasureAsync(), Step, Budget);
        Assert.Equal(2, chip.Conversions);
    }

    [Fact]
    public async Task Normal_mode_follows_the_air_without_triggering()
    {
        var time = Clock.New();
        var air = new AirConditions(18, 1012, 70);
        var chip = new SimulatedBme280(time, () => air, address: 0x77);
        using var sensor = new Devices.Bme280(chip, new Bme280Options { Mode = Bme280Mode.Normal }, time);
        var first = await time.RunAsync(sensor.MeasureAsync(), Step, Budget);

        air = new AirConditions(19, 1011, 72);
        var second = sensor.MeasureAsync();

        Assert.True(second.IsCompleted); // no conversion wait in normal mode
        Assert.Equal(18, first.TemperatureCelsius, 0.01);
        Assert.Equal(19, (await second).TemperatureCelsius, 0.01);
        Assert.Equal(72, (await second).HumidityPercent, 0.1);
    }

    [Fact]
    public async Task Skipped_humidity_is_not_reported()
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(25, 1000, 40));
        using var sensor = new Devices.Bme280(chip, new Bme280Options { Humidity = Bme280Oversampling.Skipped }, time);

        var readings = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        Assert.Equal(["temperature", "pressure"], readings.Select(r => r.Quantity));
        Assert.All(readings, r => Assert.True(r.Ok));
    }

    [Theory]
    [InlineData(0x00, "check SDA/SCL wiring")]
    [InlineData(0xFF, "check SDA/SCL wiring")]
    [InlineData(0x58, "that is a BMP280")]
    public async Task Wrong_or_stuck_chip_id_is_a_device_exception_with_a_hint(int chipId, string hint)
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(25, 1000, 40)) { ChipId = (byte)chipId };
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        var readings = await time.RunAsync(sensor.ReadAsync(), Step, Budget);

        Assert.Equal(3, readings.Count);
        Assert.All(readings, r =>
        {
            Assert.Equal(SensorQuality.DeviceException, r.Quality);
            Assert.True(double.IsNaN(r.Value));
            Assert.Contains($"chip id 0x{chipId:X2}", r.Error, StringComparison.Ordinal);
            Assert.Contains(hint, r.Error, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Part_that_stops_answering_is_a_comm_failure_and_is_set_up_again_when_it_returns()
    {
        var time = Clock.New();
        var chip = new SimulatedBme280(time, () => new AirConditions(22, 1005, 55));
        using var sensor = new Devices.Bme280(chip, timeProvider: time);
        Assert.True((await time.RunAsync(sensor.ReadAsync(), Step, Budget))[0].Ok);

        chip.Unresponsive = true;
        var during = await time.RunAsync(sensor.ReadAsync(), Step, Budget);
        Assert.All(during, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
        Assert.Contains("BME280 on I2C bus 1 at 0x76: no answer", during[0].Error, StringComparison.Ordinal);

        chip.Unresponsive = false;
        var after = await time.RunAsync(sensor.ReadAsync(), Step, Budget);
        Assert.All(after, r => Assert.True(r.Ok, r.Error));
        Assert.Equal(22, after[0].Value, 0.01);
    }

    [Fact]
    public async Task Negative_12_bit_humidity_trimming_words_survive_the_nibble_packing()
    {
        // dig_H4 and dig_H5 share register 0xE5 (section 4.2.2, Table 16) and are signed 12-bit values.
        var time = Clock.New();
        var trimming = SimulatedBme280.Trimming.DatasheetExample with { H4 = -100, H5 = -7, H2 = -12, H6 = -3 };
        var chip = new SimulatedBme280(time, () => new AirConditions(25, 1000, 50), trimming);
        using var sensor = new Devices.Bme280(chip, timeProvider: time);

        await time.RunAsync(sensor.InitializeAsync(), Step, Budget);

        Assert.Equal(Parse(trimming), sensor.Calibration);
    }

    [Fact]
    public void Options_without_temperature_are_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new Bme280Options { Temperature = Bme280Oversampling.Skipped }.Validate());
        Assert.Contains("use X1", ex.Message, StringComparison.Ordinal);
    }

    private static Bme280Calibration Parse(SimulatedBme280.Trimming t) =>
        new(t.T1, t.T2, t.T3, t.P1, t.P2, t.P3, t.P4, t.P5, t.P6, t.P7, t.P8, t.P9, t.H1, t.H2, t.H3, t.H4, t.H5, t.H6);
}
