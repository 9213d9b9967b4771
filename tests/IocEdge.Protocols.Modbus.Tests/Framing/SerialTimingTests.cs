using System.IO.Ports;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Framing;

/// <summary>RTU inter-frame timing, "MODBUS over Serial Line V1.02" section 2.5.1.1.</summary>
[Trait("Category", "Unit")]
public sealed class SerialTimingTests
{
    [Theory]
    [InlineData(Parity.Even, StopBits.One, 11)]
    [InlineData(Parity.Odd, StopBits.One, 11)]
    [InlineData(Parity.None, StopBits.Two, 11)]
    [InlineData(Parity.None, StopBits.One, 10)]
    public void Bits_per_character_count_start_data_parity_and_stop(Parity parity, StopBits stop, int bits)
    {
        Assert.Equal(bits, new ModbusSerialLineSettings { Parity = parity, StopBits = stop }.BitsPerCharacter);
    }

    [Fact]
    public void At_9600_8E1_a_character_takes_11_bits_and_t35_is_3_5_characters()
    {
        var line = new ModbusSerialLineSettings { BaudRate = 9600, Parity = Parity.Even };
        Assert.Equal(11.0 / 9600, line.CharacterTime.TotalSeconds, 6);
        Assert.Equal(3.5 * 11 / 9600, line.T35.TotalSeconds, 6);   // ≈ 4.01 ms
        Assert.Equal(1.5 * 11 / 9600, line.T15.TotalSeconds, 6);   // ≈ 1.72 ms
    }

    [Fact]
    public void At_9600_8N1_t35_is_shorter_by_the_missing_parity_bit()
    {
        var line = new ModbusSerialLineSettings { BaudRate = 9600, Parity = Parity.None };
        Assert.Equal(3.5 * 10 / 9600, line.T35.TotalSeconds, 6);
    }

    [Theory]
    [InlineData(38400)]
    [InlineData(115200)]
    public void Above_19200_baud_the_timers_are_fixed(int baud)
    {
        var line = new ModbusSerialLineSettings { BaudRate = baud };
        Assert.Equal(TimeSpan.FromMicroseconds(750), line.T15);
        Assert.Equal(TimeSpan.FromMicroseconds(1750), line.T35);
    }

    [Fact]
    public void At_19200_the_timers_still_follow_the_character_time()
    {
        var line = new ModbusSerialLineSettings { BaudRate = 19200, Parity = Parity.Even };
        Assert.Equal(3.5 * 11 / 19200, line.T35.TotalSeconds, 6);
    }

    [Fact]
    public void Bad_settings_are_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new ModbusSerialLineSettings { BaudRate = 0 }.Validate());
        Assert.Contains("BaudRate", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ModbusSerialLineSettings { DataBits = 5 }.Validate());
    }
}
