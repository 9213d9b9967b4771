using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Ads1115;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class CurrentLoopTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    private static readonly CurrentLoopOptions WaterLevel = new()
    {
        Quantity = "water_level", Unit = "m", ValueAt4mA = 0, ValueAt20mA = 10, Input = Ads1115Input.Ain1, ShuntOhms = 250,
    };

    [Theory]
    [InlineData(4.0, 0.0)]
    [InlineData(12.0, 5.0)]
    [InlineData(20.0, 10.0)]
    [InlineData(7.2, 2.0)]
    [InlineData(3.9, -0.0625)] // under-range inside NE 43's measuring range is still a measurement
    [InlineData(20.4, 10.25)]
    public async Task Loop_current_through_250_ohm_scales_linearly_to_engineering_units(double mA, double metres)
    {
        var (input, time) = Loop(mA);

        var readings = await time.RunAsync(input.ReadAsync(), Step, Budget);

        Assert.True(readings[0].Ok, readings[0].Error);
        Assert.Equal("water_level", readings[0].Quantity);
        Assert.Equal("m", readings[0].Unit);
        // 187.5 uV LSB / 250 ohm = 0.75 uA = 0.00047 m.
        Assert.Equal(metres, readings[0].Value, 0.001);
        Assert.Equal(new SensorReading("water_level_current", readings[1].Value, "mA", SensorQuality.Good, null), readings[1]);
        Assert.Equal(mA, readings[1].Value, 0.001);
    }

    [Theory]
    [InlineData(0.0, SensorQuality.CommFailure, "open loop")]
    [InlineData(3.5, SensorQuality.DeviceException, "NE 43: ≤ 3.6 mA")]
    [InlineData(22.0, SensorQuality.DeviceException, "NE 43: ≥ 21 mA")]
    [InlineData(25.0, SensorQuality.DeviceException, "ADC at full scale")]
    public async Task Fault_currents_follow_namur_ne43_and_keep_the_measured_current(double mA, SensorQuality quality, string reason)
    {
        var (input, time) = Loop(mA);

        var readings = await time.RunAsync(input.ReadAsync(), Step, Budget);

        Assert.Equal(quality, readings[0].Quality);
        Assert.True(double.IsNaN(readings[0].Value));
        Assert.Contains(reason, readings[0].Error, StringComparison.Ordinal);
        Assert.Contains("water_level on ADS1115 on I2C bus 1 at 0x48 Ain1", readings[0].Error, StringComparison.Ordinal);
        Assert.True(readings[1].HasValue); // the measured current travels (OutOfRange when the ADC is clipped)
    }

    [Fact]
    public async Task Adc_failure_marks_both_readings_comm_failure()
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, _ => 3.0) { Unresponsive = true };
        var input = new CurrentLoopInput(new Devices.Ads1115(chip, time), WaterLevel);

        var readings = await time.RunAsync(input.ReadAsync(), Step, Budget);

        Assert.All(readings, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
    }

    [Fact]
    public void Range_that_cannot_show_the_upscale_failure_signal_is_refused_with_the_fix()
    {
        var ex = Assert.Throws<ArgumentException>(() => (WaterLevel with { FullScale = Ads1115FullScale.PlusMinus4096mV }).Validate());
        Assert.Contains("choose a larger FullScale or a smaller shunt", ex.Message, StringComparison.Ordinal);

        // 150 ohm fits ±4.096 V (21 mA -> 3.15 V): the 3.3 V wiring of the README.
        (WaterLevel with { ShuntOhms = 150, FullScale = Ads1115FullScale.PlusMinus4096mV }).Validate();
    }

    private static (CurrentLoopInput Input, Microsoft.Extensions.Time.Testing.FakeTimeProvider Time) Loop(double mA)
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, i => i == 1 ? SimulatedAds1115.ShuntVolts(mA, 250) : 0);
        return (new CurrentLoopInput(new Devices.Ads1115(chip, time), WaterLevel), time);
    }
}
