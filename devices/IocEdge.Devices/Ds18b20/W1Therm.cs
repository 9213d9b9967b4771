using System.Globalization;

namespace IocEdge.Devices;

/// <summary>What the Linux w1_therm driver printed in a <c>w1_slave</c> file.</summary>
/// <param name="Scratchpad">The 9 scratchpad bytes (temperature LSB, MSB, TH, TL, config, 3 reserved, CRC).</param>
/// <param name="KernelCrcOk">The kernel's verdict: "crc=.. YES" or "NO".</param>
/// <param name="KernelMillidegrees">The <c>t=</c> value, when the kernel printed one.</param>
public sealed record W1ThermReading(byte[] Scratchpad, bool KernelCrcOk, int? KernelMillidegrees)
{
    /// <summary>Our own check of the scratchpad CRC (DS18B20 datasheet, "CRC Generation": X^8 + X^5 + X^4 + 1).</summary>
    public bool CrcOk => KernelCrcOk && W1Therm.Crc8(Scratchpad.AsSpan(0, 8)) == Scratchpad[8];

    /// <summary>Raw temperature register (two's complement, 1/16 °C per LSB at 12-bit resolution).</summary>
    public short RawTemperature => (short)(Scratchpad[0] | (Scratchpad[1] << 8));

    /// <summary>Resolution bits from the configuration register (R1 R0 = bits 6:5): 9 to 12.</summary>
    public int ResolutionBits => 9 + ((Scratchpad[4] >> 5) & 0x03);

    /// <summary>Temperature in °C from the scratchpad, ignoring the bits undefined at lower resolutions.</summary>
    public double Celsius
    {
        get
        {
            var undefinedBits = 12 - ResolutionBits;
            var raw = RawTemperature >> undefinedBits << undefinedBits;
            return raw / 16.0;
        }
    }
}

/// <summary>
/// Parser for the Linux <c>w1_therm</c> sysfs file <c>/sys/bus/w1/devices/28-*/w1_slave</c>, which reads:
/// <code>
/// 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
/// 72 01 4b 46 7f ff 0e 10 57 t=23125
/// </code>
/// The first line is the scratchpad and the kernel's CRC verdict; the second repeats it with the temperature in
/// millidegrees. Pure: no I/O.
/// </summary>
public static class W1Therm
{
    /// <summary>Dallas/Maxim 1-Wire CRC-8 (polynomial X^8 + X^5 + X^4 + 1, reflected 0x8C, initial 0).</summary>
    public static byte Crc8(ReadOnlySpan<byte> data)
    {
        byte crc = 0;
        foreach (var b in data)
        {
            var value = b;
            for (var i = 0; i < 8; i++)
            {
                var mix = (byte)((crc ^ value) & 0x01);
                crc >>= 1;
                if (mix != 0)
                {
                    crc ^= 0x8C;
                }

                value >>= 1;
            }
        }

        return crc;
    }

    /// <summary>Parses the file's text. Throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static W1ThermReading Parse(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var lines = content.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
        {
            throw new FormatException("w1_slave is empty (the read was interrupted or the device vanished).");
        }

        var first = lines[0];
        var marker = first.IndexOf(": crc=", StringComparison.Ordinal);
        if (marker < 0)
        {
            throw new FormatException($"w1_slave first line has no ': crc=' verdict: '{first}'.");
        }

        var scratchpad = ParseBytes(first[..marker]);
        var verdict = first[(marker + 6)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (verdict.Length != 2 || verdict[1] is not ("YES" or "NO"))
        {
            throw new FormatException($"w1_slave first line does not end in 'crc=xx YES' or 'crc=xx NO': '{first}'.");
        }

        int? millidegrees = null;
        if (lines.Length > 1)
        {
            var t = lines[1].LastIndexOf("t=", StringComparison.Ordinal);
            if (t < 0 || !int.TryParse(lines[1].AsSpan(t + 2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                throw new FormatException($"w1_slave second line has no 't=<millidegrees>': '{lines[1]}'.");
            }

            millidegrees = value;
        }

        return new W1ThermReading(scratchpad, verdict[1] == "YES", millidegrees);
    }

    private static byte[] ParseBytes(string hex)
    {
        var parts = hex.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 9)
        {
            throw new FormatException($"w1_slave scratchpad has {parts.Length} bytes, expected 9: '{hex.Trim()}'.");
        }

        var bytes = new byte[9];
        for (var i = 0; i < 9; i++)
        {
            if (!byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                throw new FormatException($"w1_slave scratchpad byte '{parts[i]}' is not hexadecimal.");
            }
        }

        return bytes;
    }
}
