using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Ads1115;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class Ads1115Tests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    [Fact]
    public void Config_word_matches_the_datasheet_reset_value_for_the_reset_settings()
    {
        // SBAS444 Config Register: reset 0x8583 = OS 1, MUX AIN0-AIN1, PGA ±2.048 V, single-shot, 128 SPS, comparator off.
        Assert.Equal(0x8583, Devices.Ads1115.ConfigFor(Ads1115Input.Ain0MinusAin1, Ads1115FullScale.PlusMinus2048mV, Ads1115DataRate.Sps128));
        Assert.Equal(0xC183, Devices.Ads1115.ConfigFor(Ads1115Input.Ain0, Ads1115FullScale.PlusMinus6144mV, Ads1115DataRate.Sps128));
    }

    [Theory]
    // Full-scale range and LSB size table: LSB = FS / 2^15.
    [InlineData(Ads1115FullScale.PlusMinus6144mV, 187.5e-6)]
    [InlineData(Ads1115FullScale.PlusMinus4096mV, 125e-6)]
    [InlineData(Ads1115FullScale.PlusMinus2048mV, 62.5e-6)]
    [InlineData(Ads1115FullScale.PlusMinus1024mV, 31.25e-6)]
    [InlineData(Ads1115FullScale.PlusMinus512mV, 15.625e-6)]
    [InlineData(Ads1115FullScale.PlusMinus256mV, 7.8125e-6)]
    public async Task Every_range_converts_half_scale_to_code_16384_with_the_datasheet_lsb(Ads1115FullScale range, double lsb)
    {
        var time = Clock.New();
        var halfScale = Devices.Ads1115.FullScaleVolts(range) / 2;
        var chip = new SimulatedAds1115(time, _ => halfScale);
        using var adc = new Devices.Ads1115(chip, time);

        var sample = await time.RunAsync(adc.ReadAsync(Ads1115Input.Ain2, range), Step, Budget);

        Assert.Equal(16384, sample.Code);
        Assert.Equal(halfScale, sample.Volts, 9);
        Assert.Equal(lsb, Devices.Ads1115.FullScaleVolts(range) / 32768, 12);
        Assert.False(sample.Saturated);
    }

    [Fact]
    public async Task Input_beyond_the_range_clips_at_0x7FFF_and_0x8000_and_is_flagged()
    {
        var time = Clock.New();
        var volts = new[] { 3.0, 0.0, 0.0, 3.3 };
        var chip = new SimulatedAds1115(time, i => volts[i]);
        using var adc = new Devices.Ads1115(chip, time);

        var high = await time.RunAsync(adc.ReadAsync(Ads1115Input.Ain0, Ads1115FullScale.PlusMinus2048mV), Step, Budget);
        var low = await time.RunAsync(adc.ReadAsync(Ads1115Input.Ain0MinusAin3, Ads1115FullScale.PlusMinus256mV), Step, Budget);
        var diff = await time.RunAsync(adc.ReadAsync(Ads1115Input.Ain0MinusAin3, Ads1115FullScale.PlusMinus512mV), Step, Budget);

        Assert.Equal(short.MaxValue, high.Code); // 3.0 V on ±2.048 V
        Assert.True(high.Saturated);
        Assert.Equal(short.MinValue, low.Code); // 3.0 - 3.3 = -0.3 V on ±0.256 V
        Assert.True(low.Saturated);
        Assert.Equal(-19200, diff.Code); // -0.3 V on ±0.512 V
        Assert.False(diff.Saturated);
    }

    [Fact]
    public async Task Single_shot_conversion_takes_one_data_rate_period()
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, _ => 1.0);
        using var adc = new Devices.Ads1115(chip, time);

        var read = adc.ReadAsync(Ads1115Input.Ain1, Ads1115FullScale.PlusMinus4096mV, Ads1115DataRate.Sps8);
        time.Advance(TimeSpan.FromMilliseconds(120));
        await Task.Yield();
        Assert.False(read.IsCompleted);
        Assert.Equal(0, chip.Config & 0x8000); // OS reads 0 while converting

        var sample = await time.RunAsync(read, Step, Budget);
        Assert.Equal(8000, sample.Code); // 1.0 V / 4.096 V * 32768
        Assert.Equal(1, chip.Conversions);
        Assert.Equal(0x8000, chip.Config & 0x8000);
    }

    [Fact]
    public async Task Adc_that_does_not_answer_is_a_comm_failure()
    {
        var time = Clock.New();
        var chip = new SimulatedAds1115(time, _ => 1.0, address: 0x49) { Unresponsive = true };
        using var adc = new Devices.Ads1115(chip, time);

        var ex = await Assert.ThrowsAsync<SensorException>(() => adc.ReadAsync(Ads1115Input.Ain0, Ads1115FullScale.PlusMinus4096mV));

        Assert.Equal(SensorQuality.CommFailure, ex.Quality);
        Assert.Contains("ADS1115 on I2C bus 1 at 0x49: no answer", ex.Message, StringComparison.Ordinal);
    }
}
