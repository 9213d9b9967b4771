using CsCheck;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Codec;

[Trait("Category", "Unit")]
public sealed class ChecksumTests
{
    [Fact]
    public void Crc16_matches_the_serial_line_specification_example()
    {
        // "MODBUS over Serial Line V1.02", section 6.2.2 (CRC generation): the frame 02 07 carries CRC 0x1241,
        // sent low byte first as 41 12.
        Assert.Equal(0x1241, ModbusChecksums.Crc16([0x02, 0x07]));
    }

    [Fact]
    public void Crc16_of_a_read_holding_registers_frame_matches_the_bitwise_algorithm()
    {
        // 01 03 00 00 00 0A: the classic CRC C5 CD, computed here by the bit-by-bit procedure of section 6.2.2.
        byte[] frame = [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A];
        Assert.Equal(BitwiseCrc(frame), ModbusChecksums.Crc16(frame));
        Assert.Equal(0xCDC5, ModbusChecksums.Crc16(frame));
    }

    [Fact]
    public void Table_driven_crc16_equals_the_bitwise_procedure_on_any_input()
    {
        Gen.Byte.Array[0, 300].Sample(data => Assert.Equal(BitwiseCrc(data), ModbusChecksums.Crc16(data)), iter: 2_000);
    }

    [Fact]
    public void Lrc_makes_the_byte_sum_zero()
    {
        // Section 6.2.1: LRC = two's complement of the 8-bit sum. 01 03 00 00 00 01 sums to 05, so LRC = FB.
        byte[] frame = [0x01, 0x03, 0x00, 0x00, 0x00, 0x01];
        Assert.Equal(0xFB, ModbusChecksums.Lrc(frame));
        Assert.Equal(0, (byte)(frame.Sum(b => b) + 0xFB));
    }

    private static ushort BitwiseCrc(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 1) == 1 ? (ushort)((crc >> 1) ^ 0xA001) : (ushort)(crc >> 1);
            }
        }

        return crc;
    }
}
