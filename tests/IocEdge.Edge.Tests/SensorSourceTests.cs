using System.Device.I2c;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sources;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>Bus sensors named in the gateway configuration, read through their drivers from simulated chips.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class SensorSourceTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));

    private sealed class Buses(Func<int, int, I2cDevice>? i2c = null, Func<string, Stream>? serial = null) : IBusProvider
    {
        public I2cDevice OpenI2c(int bus, int address) => i2c?.Invoke(bus, address) ?? throw new IOException($"/dev/i2c-{bus}: no such device");

        public Stream OpenSerial(string path) => serial?.Invoke(path) ?? throw new IOException($"{path}: no such device");
    }

    private async Task<IReadOnlyList<Reading>> FirstAsync(SensorSource source)
    {
        await using var e = source.RunAsync(CancellationToken.None).GetAsyncEnumerator();
        var move = e.MoveNextAsync().AsTask();
        while (!move.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10)); // the BME280's conversion time, on the fake clock
            await Task.WhenAny(move, Task.Delay(5));
        }

        Assert.True(await move);
        return e.Current;
    }

    [Fact]
    public async Task A_bme280_on_i2c_gives_temperature_pressure_and_humidity_channels()
    {
        var chip = new SimulatedBme280(_time, () => new AirConditions(29.5, 1008.2, 81.0));
        var options = new SensorOptions { Id = "air", Driver = SensorDriver.Bme280, Address = "0x76" };
        var source = new SensorSource(options, new Buses(i2c: (bus, address) => bus == 1 && address == 0x76 ? chip : throw new IOException("nack")),
            _time, NullLoggerFactory.Instance);

        var readings = await FirstAsync(source);

        Assert.Equal(["air/temperature", "air/pressure", "air/humidity"], readings.Select(r => r.Channel));
        Assert.All(readings, r => Assert.Equal(Quality.Good, r.Quality));
        Assert.Equal(29.5, readings[0].Value!.Value, 1);
        Assert.Equal(1008.2, readings[1].Value!.Value, 0);
        Assert.Equal(81.0, readings[2].Value!.Value, 0);
        Assert.Equal(source.Channels, readings.Select(r => r.Channel));
    }

    [Fact]
    public async Task A_pms5003_on_a_uart_gives_particulate_channels()
    {
        using var sensor = new SimulatedPms5003(_time, () => new ParticulateSample(12, 35, 61), TimeSpan.FromSeconds(1));
        var options = new SensorOptions { Id = "dust", Driver = SensorDriver.Pms5003, SerialPort = "/dev/serial0" };
        var source = new SensorSource(options, new Buses(serial: _ => sensor.Uart), _time, NullLoggerFactory.Instance);

        var readings = await FirstAsync(source);

        Assert.Equal([("dust/pm1", 12.0), ("dust/pm2_5", 35.0), ("dust/pm10", 61.0)], readings.Select(r => (r.Channel, r.Value!.Value)));
    }

    [Fact]
    public async Task A_missing_bus_gives_comm_failure_readings_instead_of_stopping_the_gateway()
    {
        var options = new SensorOptions { Id = "air", Driver = SensorDriver.Bme280, Address = "0x77" };
        var source = new SensorSource(options, new Buses(), _time, NullLoggerFactory.Instance);

        var readings = await FirstAsync(source);

        Assert.Equal(3, readings.Count);
        Assert.All(readings, r => Assert.Equal((Quality.CommFailure, (double?)null), (r.Quality, r.Value)));
    }

    [Fact]
    public void Bad_sensor_settings_are_refused_with_key_and_fix()
    {
        var options = new GatewayOptions
        {
            Id = "gw-a",
            Sensors =
            [
                new() { Id = "air", Driver = SensorDriver.Bme280, Address = "0x48" },
                new() { Id = "level", Driver = SensorDriver.CurrentLoop, Address = "0x48", Quantity = "water_level", Unit = "metres", ValueAt4mA = 0, ValueAt20mA = 5 },
                new() { Id = "level2", Driver = SensorDriver.CurrentLoop, Address = "0x48", Quantity = "water_level", Unit = "m", ValueAt4mA = 0, ValueAt20mA = 5 },
                new() { Id = "t1", Driver = SensorDriver.Ds18b20, DeviceId = "10-abc" },
            ],
        };

        var failures = new GatewayOptionsValidator(new ProfileSource()).Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Gateway:Sensors:0:Address '0x48' is not valid: a BME280 answers at 0x76", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Sensors:1:Unit 'metres' is not in the unit vocabulary", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Sensors:2:Address 0x48 on I2C bus 1 is already used by Gateway:Sensors:1", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Sensors:3:DeviceId '10-abc' is not a DS18B20 id", StringComparison.Ordinal));
    }
}
