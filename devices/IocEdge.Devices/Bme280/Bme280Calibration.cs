namespace IocEdge.Devices;

/// <summary>
/// The trimming parameters dig_T1..dig_H6 read from the part (datasheet section 4.2.2, Table 16), and the
/// datasheet's integer compensation formulas (section 4.2.3, rev. 1.1 for T and P, 64-bit pressure).
/// </summary>
public sealed record Bme280Calibration(
    ushort T1, short T2, short T3,
    ushort P1, short P2, short P3, short P4, short P5, short P6, short P7, short P8, short P9,
    byte H1, short H2, byte H3, short H4, short H5, sbyte H6)
{
    /// <summary>Bytes at 0x88..0xA1.</summary>
    public const int Block1Length = 26;

    /// <summary>Bytes at 0xE1..0xE7.</summary>
    public const int Block2Length = 7;

    /// <summary>Decodes the two calibration blocks (little-endian words; dig_H4/dig_H5 are 12-bit signed nibble pairs).</summary>
    public static Bme280Calibration Parse(ReadOnlySpan<byte> block1, ReadOnlySpan<byte> block2)
    {
        if (block1.Length < Block1Length || block2.Length < Block2Length)
        {
            throw new ArgumentException($"BME280 calibration needs {Block1Length} + {Block2Length} bytes.");
        }

        ushort U(ReadOnlySpan<byte> b, int i) => (ushort)(b[i] | (b[i + 1] << 8));
        short S(ReadOnlySpan<byte> b, int i) => (short)(b[i] | (b[i + 1] << 8));

        return new Bme280Calibration(
            U(block1, 0), S(block1, 2), S(block1, 4),
            U(block1, 6), S(block1, 8), S(block1, 10), S(block1, 12), S(block1, 14), S(block1, 16),
            S(block1, 18), S(block1, 20), S(block1, 22),
            block1[25],
            S(block2, 0),
            block2[2],
            (short)((sbyte)block2[3] * 16 | (block2[4] & 0x0F)),
            (short)((sbyte)block2[5] * 16 | (block2[4] >> 4)),
            (sbyte)block2[6]);
    }

    /// <summary>
    /// A part whose NVM reads back as all zeros or all ones is not answering properly (bus stuck, wrong chip):
    /// dig_T1 and dig_P1 are never 0 or 0xFFFF on a real BME280.
    /// </summary>
    public bool LooksValid => T1 is not (0 or 0xFFFF) && P1 is not (0 or 0xFFFF);

    /// <summary>BME280_compensate_T_int32: temperature in 0.01 °C, and t_fine for P and H.</summary>
    public int CompensateTemperature(int adcT, out int tFine)
    {
        var var1 = (((adcT >> 3) - (T1 << 1)) * T2) >> 11;
        var var2 = (((((adcT >> 4) - T1) * ((adcT >> 4) - T1)) >> 12) * T3) >> 14;
        tFine = var1 + var2;
        return ((tFine * 5) + 128) >> 8;
    }

    /// <summary>BME280_compensate_P_int64: pressure in Pa as Q24.8 (divide by 256).</summary>
    public uint CompensatePressure(int adcP, int tFine)
    {
        long var1 = tFine - 128000L;
        var var2 = var1 * var1 * P6;
        var2 += (var1 * P5) << 17;
        var2 += (long)P4 << 35;
        var1 = ((var1 * var1 * P3) >> 8) + ((var1 * P2) << 12);
        var1 = (((1L << 47) + var1) * P1) >> 33;
        if (var1 == 0)
        {
            return 0; // avoids a division by zero on a part with dig_P1 = 0
        }

        long p = 1048576 - adcP;
        p = (((p << 31) - var2) * 3125) / var1;
        var1 = (P9 * (p >> 13) * (p >> 13)) >> 25;
        var2 = (P8 * p) >> 19;
        p = ((p + var1 + var2) >> 8) + ((long)P7 << 4);
        return (uint)p;
    }

    /// <summary>bme280_compensate_H_int32: relative humidity in %RH as Q22.10 (divide by 1024).</summary>
    public uint CompensateHumidity(int adcH, int tFine)
    {
        var v = tFine - 76800;
        v = ((((adcH << 14) - (H4 << 20) - (H5 * v)) + 16384) >> 15)
            * (((((((v * H6) >> 10) * (((v * H3) >> 11) + 32768)) >> 10) + 2097152) * H2 + 8192) >> 14);
        v -= ((((v >> 15) * (v >> 15)) >> 7) * H1) >> 4;
        v = Math.Clamp(v, 0, 419430400);
        return (uint)(v >> 12);
    }
}
