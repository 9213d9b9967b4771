using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Ds18b20;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class Ds18b20Tests : IDisposable
{
    private const string Id = "28-00000a1b2c3d";
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);
    private readonly TempDirectory _w1 = new("w1");

    public void Dispose() => _w1.Dispose();

    [Theory]
    // DS18B20 datasheet, Table 1 "Temperature/Data Relationship".
    [InlineData(125.0, 0x07D0)]
    [InlineData(25.0625, 0x0191)]
    [InlineData(10.125, 0x00A2)]
    [InlineData(0.5, 0x0008)]
    [InlineData(0.0, 0x0000)]
    [InlineData(-0.5, 0xFFF8)]
    [InlineData(-10.125, 0xFF5E)]
    [InlineData(-25.0625, 0xFE6F)]
    [InlineData(-55.0, 0xFC90)]
    public async Task Datasheet_table_1_values_are_written_and_read_back_exactly(double celsius, int register)
    {
        var time = Clock.New();
        Assert.Equal((short)register, SimulatedDs18b20.RawTemperature(celsius));
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => celsius);
        var driver = new Devices.Ds18b20(sensor.DevicePath, time);

        var reading = await driver.ReadAsync();

        Assert.Equal(new SensorReading("temperature", celsius, "degC", SensorQuality.Good, null), reading);
    }

    [Fact]
    public void Kernel_w1_slave_text_parses_and_the_simulator_prints_the_same_text()
    {
        const string kernel = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";

        var parsed = W1Therm.Parse(kernel);

        Assert.True(parsed.CrcOk);
        Assert.Equal(23.125, parsed.Celsius);
        Assert.Equal(12, parsed.ResolutionBits);
        Assert.Equal(23125, parsed.KernelMillidegrees);
        Assert.Equal(kernel, SimulatedDs18b20.Format(SimulatedDs18b20.Scratchpad(0x0172)));
    }

    [Fact]
    public async Task Nine_bit_resolution_reads_in_half_degree_steps()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 25.3) { ResolutionBits = 9 };
        sensor.Write();

        var celsius = await new Devices.Ds18b20(sensor.DevicePath, time).ReadTemperatureAsync();

        Assert.Equal(25.0, celsius);
    }

    [Fact]
    public async Task Crc_error_is_retried_and_a_clean_read_is_returned()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 21.5) { Fault = W1Fault.CrcError };
        sensor.Write();
        Assert.Contains("NO", File.ReadAllText(Path.Combine(sensor.DevicePath, "w1_slave")), StringComparison.Ordinal);
        var driver = new Devices.Ds18b20(sensor.DevicePath, time);

        var read = driver.ReadAsync();
        sensor.Fault = W1Fault.None;
        sensor.Write(); // the line is quiet again before the retry
        var reading = await time.RunAsync(read, Step, Budget);

        Assert.True(reading.Ok, reading.Error);
        Assert.Equal(21.5, reading.Value);
    }

    [Fact]
    public async Task Persistent_crc_errors_are_a_comm_failure_with_wiring_advice()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 21.5) { Fault = W1Fault.CrcError };
        sensor.Write();
        var driver = new Devices.Ds18b20(sensor.DevicePath, time);

        var reading = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.CommFailure, reading.Quality);
        Assert.Contains("CRC check failed (crc=.. NO) after 3 attempts", reading.Error, StringComparison.Ordinal);
        Assert.Contains("4.7 kΩ pull-up", reading.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Power_on_reset_85_degrees_is_suspect_and_reported_as_invalid()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 30) { Fault = W1Fault.PowerOnReset };
        sensor.Write();
        Assert.Contains("t=85000", File.ReadAllText(Path.Combine(sensor.DevicePath, "w1_slave")), StringComparison.Ordinal);

        var reading = await time.RunAsync(new Devices.Ds18b20(sensor.DevicePath, time).ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.Invalid, reading.Quality); // issue 13: a reset value is "no measurement"
        Assert.Contains("85 °C power-on reset value", reading.Error, StringComparison.Ordinal);
        Assert.True(double.IsNaN(reading.Value));
    }

    [Fact]
    public async Task Shorted_data_line_is_a_comm_failure()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 30) { Fault = W1Fault.ShortedLow };
        sensor.Write();

        var reading = await time.RunAsync(new Devices.Ds18b20(sensor.DevicePath, time).ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.CommFailure, reading.Quality);
        Assert.Contains("all zeros", reading.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unplugged_sensor_is_a_comm_failure_and_reads_again_when_plugged_back()
    {
        var time = Clock.New();
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => 19.25);
        var driver = Devices.Ds18b20.Open(_w1.Path, Id, time);

        sensor.Unplug();
        var missing = await driver.ReadAsync();
        sensor.Plug();
        var back = await driver.ReadAsync();

        Assert.Equal(SensorQuality.CommFailure, missing.Quality);
        Assert.Contains($"DS18B20 {Id}: not present", missing.Error, StringComparison.Ordinal);
        Assert.Contains("dtoverlay=w1-gpio", missing.Error, StringComparison.Ordinal);
        Assert.Equal(19.25, back.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage\n")]
    [InlineData("72 01 4b : crc=57 YES\n")]
    [InlineData("72 01 4b 46 7f ff 0e 10 57 : crc=57 MAYBE\n")]
    [InlineData("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=99999\n")]
    public async Task Malformed_file_is_a_comm_failure_naming_the_problem(string content)
    {
        var time = Clock.New();
        var folder = Directory.CreateDirectory(Path.Combine(_w1.Path, Id)).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "w1_slave"), content);

        var reading = await time.RunAsync(new Devices.Ds18b20(folder, time).ReadAsync(), Step, Budget);

        Assert.Equal(SensorQuality.CommFailure, reading.Quality);
        Assert.Contains("after 3 attempts", reading.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Discover_lists_only_ds18b20_folders()
    {
        var time = Clock.New();
        using var a = new SimulatedDs18b20(_w1.Path, "28-0000000000bb", time, () => 1);
        using var b = new SimulatedDs18b20(_w1.Path, "28-0000000000aa", time, () => 2);
        Directory.CreateDirectory(Path.Combine(_w1.Path, "w1_bus_master1"));
        Directory.CreateDirectory(Path.Combine(_w1.Path, "10-000802d5a1b2")); // a DS18S20

        Assert.Equal(["28-0000000000aa", "28-0000000000bb"], Devices.Ds18b20.Discover(_w1.Path));
        Assert.Empty(Devices.Ds18b20.Discover(Path.Combine(_w1.Path, "nope")));
    }

    [Fact]
    public async Task Refresh_timer_follows_the_temperature_source()
    {
        var time = Clock.New();
        var celsius = 20.0;
        using var sensor = new SimulatedDs18b20(_w1.Path, Id, time, () => celsius, TimeSpan.FromSeconds(1));
        var driver = new Devices.Ds18b20(sensor.DevicePath, time);
        Assert.Equal(20.0, await driver.ReadTemperatureAsync());

        celsius = 26.5;
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(26.5, await driver.ReadTemperatureAsync());
    }
}
