namespace IocEdge.Protocols.Modbus;

/// <summary>
/// The serial-line checksums of "MODBUS over Serial Line Specification and Implementation Guide V1.02":
/// CRC-16 for RTU (section 2.5.1.2 and 6.2.2: polynomial 0xA001 reflected, preset 0xFFFF, low byte sent first) and
/// LRC for ASCII (section 2.5.2.2 and 6.2.1: two's complement of the 8-bit sum of the bytes).
/// </summary>
public static class ModbusChecksums
{
    private static readonly ushort[] CrcTable = BuildCrcTable();

    /// <summary>The RTU CRC-16 of <paramref name="data"/>; on the wire the low byte goes first.</summary>
    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xFFFF;
        foreach (var b in data)
        {
            crc = (ushort)((crc >> 8) ^ CrcTable[(crc ^ b) & 0xFF]);
        }

        return crc;
    }

    /// <summary>The ASCII LRC of <paramref name="data"/> (address, function and data bytes, before hex encoding).</summary>
    public static byte Lrc(ReadOnlySpan<byte> data)
    {
        byte sum = 0;
        foreach (var b in data)
        {
            sum += b;
        }

        return (byte)-sum;
    }

    private static ushort[] BuildCrcTable()
    {
        // The bitwise algorithm of section 6.2.2, run once per byte value: shift right, XOR 0xA001 when the LSB was 1.
        var table = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var crc = (ushort)i;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (ushort)((crc >> 1) ^ 0xA001) : (ushort)(crc >> 1);
            }

            table[i] = crc;
        }

        return table;
    }
}
