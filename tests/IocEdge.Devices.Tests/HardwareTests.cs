using System.Device.I2c;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests;

/// <summary>
/// The drivers on a real Raspberry Pi with the sensors wired as in each driver's README (BME280 at 0x76 and ADS1115 at
/// 0x48 on I2C bus 1, a DS18B20 on the w1-gpio bus). Filtered out by default: run on the Pi with
/// <c>dotnet test tests/IocEdge.Devices.Tests --filter Category=Hardware</c>.
/// </summary>
[Trait(Traits.Category, Traits.Hardware)]
public sealed class HardwareTests
{
    [Fact]
    public async Task Bme280_on_bus_1_reads_plausible_air()
    {
        using var sensor = new Devices.Bme280(I2cDevice.Create(new I2cConnectionSettings(1, Devices.Bme280.DefaultAddress)));

        var m = await sensor.MeasureAsync();

        Assert.InRange(m.TemperatureCelsius, -10, 60);
        Assert.InRange(m.PressureHectopascals, 800, 1100);
        Assert.InRange(m.HumidityPercent, 1, 100);
    }

    [Fact]
    public async Task Every_ds18b20_on_the_w1_bus_reads_a_good_temperature()
    {
        var ids = Devices.Ds18b20.Discover();
        Assert.NotEmpty(ids);

        foreach (var id in ids)
        {
            var reading = await Devices.Ds18b20.Open(Devices.Ds18b20.DefaultW1Root, id).ReadAsync();
            Assert.True(reading.Ok, reading.Error);
            Assert.InRange(reading.Value, -10, 60);
        }
    }

    [Fact]
    public async Task Ads1115_answers_with_a_finished_conversion()
    {
        using var adc = new Devices.Ads1115(I2cDevice.Create(new I2cConnectionSettings(1, Devices.Ads1115.DefaultAddress)));

        var sample = await adc.ReadAsync(Ads1115Input.Ain0, Ads1115FullScale.PlusMinus4096mV);

        Assert.InRange(sample.Volts, -0.3, 3.6);
    }
}
