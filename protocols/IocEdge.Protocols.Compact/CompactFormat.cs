using System;
using System.Globalization;
using System.Runtime.InteropServices;

namespace IocEdge.Protocols.Compact;

/// <summary>
/// Constants and primitives of the compact binary payload (contract README §8): LEB128 varints, zigzag, the decimal
/// scaling rule, and the identifier rules of contract §2 (repeated here so this library depends on nothing).
/// </summary>
public static class CompactFormat
{
    /// <summary>The format byte at offset 0 (§8.1). A different value is refused.</summary>
    public const byte FormatVersion = 1;

    /// <summary>Readings per message, 1 to 10 000: the same bound as the JSON payload (contract §4).</summary>
    public const int MaxReadings = 10_000;

    /// <summary>Channel-table entries per message: at most one per reading.</summary>
    public const int MaxChannels = MaxReadings;

    /// <summary>Largest sequence number, 2^53 (contract §4: JavaScript reads integers exactly up to 2^53).</summary>
    public const long MaxSequence = 1L << 53;

    /// <summary>Largest decimal places of a channel (§8.3): 10^9 is exact in a double and a 32-bit sensor word fits.</summary>
    public const int MaxDecimals = 9;

    /// <summary>Stream id at most 32 characters (contract §2).</summary>
    public const int MaxStreamIdLength = 32;

    /// <summary>A stream id with a boot epoch: 21 + "e" + at most 10 digits of 2^32-1 = 32 (§8.2).</summary>
    public const int MaxEpochStreamIdLength = 21;

    /// <summary>Channel id at most 128 characters (contract §2).</summary>
    public const int MaxChannelLength = 128;

    /// <summary>Unit at most 16 characters (contract §2).</summary>
    public const int MaxUnitLength = 16;

    /// <summary>0001-01-01T00:00:00Z in Unix milliseconds: the first instant a <see cref="DateTimeOffset"/> holds.</summary>
    public const long MinTimestampMs = -62_135_596_800_000;

    /// <summary>9999-12-31T23:59:59.999Z in Unix milliseconds: the last millisecond a <see cref="DateTimeOffset"/> holds.</summary>
    public const long MaxTimestampMs = 253_402_300_799_999;

    /// <summary>True for good, stale and out_of_range, which carry a number; the others carry none (contract §4).</summary>
    public static bool CarriesValue(CompactQuality quality) =>
        quality is CompactQuality.Good or CompactQuality.Stale or CompactQuality.OutOfRange;

    /// <summary>The aggregator's stream id for a (stream, boot epoch) pair (§8.2): "s" for epoch 0, "s" + "e" + epoch otherwise.</summary>
    /// <exception cref="ArgumentNullException">streamId is null.</exception>
    public static string IdentityStreamId(string streamId, uint bootEpoch)
    {
        Guard.NotNull(streamId, nameof(streamId));

        return bootEpoch == 0 ? streamId : streamId + "e" + bootEpoch.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Lower-case letters and digits, 1 to 32 (contract §2); at most 21 when a boot epoch is used (§8.2).</summary>
    public static bool IsValidStreamId(string? id, uint bootEpoch)
    {
        if (id is null || id.Length == 0 || id.Length > (bootEpoch == 0 ? MaxStreamIdLength : MaxEpochStreamIdLength))
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!IsAlnum(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Segments of [a-z0-9][a-z0-9_.-]* joined by '/', 1 to 128 characters (contract §2).</summary>
    public static bool IsValidChannelId(string? id)
    {
        if (id is null || id.Length is 0 or > MaxChannelLength)
        {
            return false;
        }

        var segmentStart = true;
        foreach (var c in id)
        {
            if (c == '/')
            {
                if (segmentStart)
                {
                    return false;
                }

                segmentStart = true;
                continue;
            }

            if (segmentStart ? !IsAlnum(c) : !(IsAlnum(c) || c is '_' or '-' or '.'))
            {
                return false;
            }

            segmentStart = false;
        }

        return !segmentStart;
    }

    /// <summary>Printable ASCII without space, '"' or '\', 1 to 16 characters (contract §2).</summary>
    public static bool IsValidUnit(string? unit)
    {
        if (unit is null || unit.Length is 0 or > MaxUnitLength)
        {
            return false;
        }

        foreach (var c in unit)
        {
            if (!IsUnitChar(c))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsUnitChar(int c) => c is > ' ' and < 0x7F and not '"' and not '\\';

    internal static bool IsAlnum(int c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    /// <summary>Powers of ten 10^0 to 10^9, all exact in a double.</summary>
    internal static readonly double[] Pow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

    /// <summary>
    /// The scaling rule of §8.3: <paramref name="value"/> travels as the integer m with m / 10^d == value bit for bit
    /// (IEEE 754 division is correctly rounded, so m / 10^d is the double nearest to the decimal m·10^-d, the same
    /// double a JSON reader makes of that decimal). False when no such m with |m| ≤ 2^53 exists, or for -0.0.
    /// </summary>
    public static bool TryScale(double value, int decimals, out long mantissa)
    {
        mantissa = 0;
        if (decimals is < 0 or > MaxDecimals || double.IsNaN(value) || double.IsInfinity(value))
        {
            return false;
        }

        var scaled = Math.Round(value * Pow10[decimals]);
        if (Math.Abs(scaled) > MaxSequence)
        {
            return false;
        }

        var m = (long)scaled;
        if (BitConverter.DoubleToInt64Bits(Unscale(m, decimals)) != BitConverter.DoubleToInt64Bits(value))
        {
            return false;
        }

        mantissa = m;
        return true;
    }

    /// <summary>The decoder's side of §8.3: m / 10^d.</summary>
    public static double Unscale(long mantissa, int decimals) => mantissa / Pow10[decimals];

    /// <summary>The fewest decimal places (0 to 9) at which <paramref name="value"/> scales exactly, or -1.</summary>
    public static int MinimalDecimals(double value)
    {
        for (var d = 0; d <= MaxDecimals; d++)
        {
            if (TryScale(value, d, out _))
            {
                return d;
            }
        }

        return -1;
    }

    internal static bool IsFloat32Exact(double value, out float single)
    {
        single = (float)value;
        return BitConverter.DoubleToInt64Bits(single) == BitConverter.DoubleToInt64Bits(value);
    }

    internal static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    internal static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    internal static int SingleToInt32Bits(float value) => new FloatBits { Single = value }.Int32;

    internal static float Int32BitsToSingle(int value) => new FloatBits { Int32 = value }.Single;

    [StructLayout(LayoutKind.Explicit)]
    private struct FloatBits
    {
        [FieldOffset(0)]
        public float Single;

        [FieldOffset(0)]
        public int Int32;
    }
}
