using System.Globalization;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Converts engineering values to and from the 16-bit registers of a Modbus device: integers, IEEE 754 floats,
/// ASCII strings and bit fields, in the four byte/word orders devices use, with a linear scale and offset.
/// Pure: no I/O, no clock, no allocation on the numeric paths.
/// </summary>
/// <remarks>
/// <para>
/// The Modbus Application Protocol Specification V1.1b3, section 4.2 ("Data Encoding"), fixes the byte order inside
/// one register: big-endian, the most significant byte first. It says nothing about values wider than a register,
/// so devices differ. We name an order by where the bytes A (most significant) to D (least significant) of a 32-bit
/// value land in the registers, in the order the registers come off the wire:
/// </para>
/// <list type="bullet">
/// <item><description><see cref="ModbusByteOrder.ABCD"/>: big-endian words, most significant word first (the specification's
/// order extended: 123.456f = 0x42F6E979 reads as 0x42F6, 0xE979).</description></item>
/// <item><description><see cref="ModbusByteOrder.CDAB"/>: words swapped (0xE979, 0x42F6), the "little-endian word order" of many PLCs.</description></item>
/// <item><description><see cref="ModbusByteOrder.BADC"/>: bytes swapped inside each word (0xF642, 0x79E9).</description></item>
/// <item><description><see cref="ModbusByteOrder.DCBA"/>: fully little-endian (0x79E9, 0xF642).</description></item>
/// </list>
/// <para>
/// For 64-bit values the same pattern extends over four registers: a word swap reverses all four words and a byte
/// swap swaps the bytes inside each. For one-register values only the byte swap matters (CDAB = ABCD, DCBA = BADC).
/// </para>
/// <para>
/// Engineering value = raw × scale + offset. Encoding inverts that, rounds to the nearest integer (halves away from
/// zero) for integer types and throws <see cref="ArgumentOutOfRangeException"/> when the raw value does not fit the type.
/// Int64 and UInt32 raw values beyond 2^53 are not exactly representable as a double; decoding rounds them.
/// </para>
/// </remarks>
public static class ModbusValueCodec
{
    /// <summary>Number of registers a value of <paramref name="type"/> occupies.</summary>
    /// <param name="type">The data type.</param>
    /// <param name="stringRegisters">For <see cref="ModbusDataType.String"/> only: its length in registers (two characters each).</param>
    public static int RegisterCount(ModbusDataType type, int stringRegisters = 0) => type switch
    {
        ModbusDataType.Int16 or ModbusDataType.UInt16 or ModbusDataType.Bit => 1,
        ModbusDataType.Int32 or ModbusDataType.UInt32 or ModbusDataType.Float32 => 2,
        ModbusDataType.Int64 or ModbusDataType.Float64 => 4,
        ModbusDataType.String => stringRegisters is >= 1 and <= 125
            ? stringRegisters
            : throw new ArgumentOutOfRangeException(nameof(stringRegisters), stringRegisters,
                "A string occupies 1 to 125 registers (two ASCII characters each); give its length in registers."),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown Modbus data type."),
    };

    /// <summary>
    /// Decodes a numeric value (or bit 0 for <see cref="ModbusDataType.Bit"/>) from the first registers of
    /// <paramref name="registers"/> and returns raw × <paramref name="scale"/> + <paramref name="offset"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Too few registers, or <see cref="ModbusDataType.String"/> (use <see cref="DecodeString"/>).</exception>
    /// <remarks>
    /// A Float32 raw value is widened to the double of its shortest round-trip decimal (the float 7.9f, which is
    /// 7.900000095367432 exactly, decodes as 7.9), and a scaled value is cleaned of the binary noise of the
    /// multiplication (883 × 0.1 decodes as 88.3, not 88.30000000000001) by rounding it to 15 significant digits,
    /// the precision a double guarantees for a decimal (IEEE 754-2019, 5.12.2: 15 digits survive a round trip).
    /// </remarks>
    public static double Decode(ReadOnlySpan<ushort> registers, ModbusDataType type, ModbusByteOrder order,
        double scale = 1, double offset = 0)
    {
        return Scale(DecodeRaw(registers, type, order), scale, offset);
    }

    /// <summary>
    /// raw × <paramref name="scale"/> + <paramref name="offset"/>, rounded to 15 significant digits when scale or
    /// offset changed the value, so that the binary noise of the arithmetic does not reach the consumer.
    /// NaN and infinities pass through.
    /// </summary>
    public static double Scale(double raw, double scale, double offset)
    {
        if (scale == 1 && offset == 0)
        {
            return raw;
        }

        var value = raw * scale + offset;
        return double.IsFinite(value) ? RoundSignificant(value, 15) : value;
    }

    /// <summary>
    /// The double nearest the shortest decimal that round-trips <paramref name="value"/> as a float32 (7.9f gives 7.9,
    /// not 7.900000095367432): the decimal a person reading the float would write. NaN and infinities pass through.
    /// </summary>
    public static double WidenSingle(float value)
    {
        if (!float.IsFinite(value))
        {
            return value;
        }

        // .NET formats a float as its shortest round-trip string by default (since .NET Core 3.0).
        Span<char> text = stackalloc char[32];
        return value.TryFormat(text, out var length, default, CultureInfo.InvariantCulture)
            ? double.Parse(text[..length], NumberStyles.Float, CultureInfo.InvariantCulture)
            : value;
    }

    /// <summary>Rounds to <paramref name="digits"/> (1-17) significant decimal digits, without allocation.</summary>
    public static double RoundSignificant(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0)
        {
            return value;
        }

        Span<char> format = stackalloc char[3];
        format[0] = 'G';
        var formatLength = digits.TryFormat(format[1..], out var n, default, CultureInfo.InvariantCulture) ? n + 1 : 1;
        Span<char> text = stackalloc char[40];
        return value.TryFormat(text, out var length, format[..formatLength], CultureInfo.InvariantCulture)
            ? double.Parse(text[..length], NumberStyles.Float, CultureInfo.InvariantCulture)
            : value;
    }

    /// <summary>
    /// The raw bits of a numeric value as they stand in the registers, byte A most significant (for a one-register
    /// value the register itself; for Float32 the IEEE 754 bit pattern): what a point's sentinels are compared with.
    /// </summary>
    /// <exception cref="ArgumentException">Too few registers, or a String.</exception>
    public static ulong DecodeBits(ReadOnlySpan<ushort> registers, ModbusDataType type, ModbusByteOrder order)
    {
        if (type == ModbusDataType.String)
        {
            throw new ArgumentException("A string has no numeric value; use DecodeString.", nameof(type));
        }

        var count = RegisterCount(type);
        RequireLength(registers.Length, count, type, nameof(registers));
        return Gather(registers[..count], order);
    }

    /// <summary>Decodes the raw (unscaled) numeric value; see <see cref="Decode"/>. A Float32 comes back as the double of
    /// its shortest round-trip decimal (see <see cref="WidenSingle"/>).</summary>
    public static double DecodeRaw(ReadOnlySpan<ushort> registers, ModbusDataType type, ModbusByteOrder order)
    {
        if (type == ModbusDataType.String)
        {
            throw new ArgumentException("A string has no numeric value; use DecodeString.", nameof(type));
        }

        var count = RegisterCount(type);
        RequireLength(registers.Length, count, type, nameof(registers));
        var bits = Gather(registers[..count], order);
        return type switch
        {
            ModbusDataType.Int16 => (short)bits,
            ModbusDataType.UInt16 => (ushort)bits,
            ModbusDataType.Int32 => (int)bits,
            ModbusDataType.UInt32 => (uint)bits,
            ModbusDataType.Int64 => (long)bits,
            ModbusDataType.Float32 => WidenSingle(BitConverter.UInt32BitsToSingle((uint)bits)),
            ModbusDataType.Float64 => BitConverter.UInt64BitsToDouble(bits),
            ModbusDataType.Bit => bits & 1,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown Modbus data type."),
        };
    }

    /// <summary>
    /// Encodes engineering <paramref name="value"/> into the first registers of <paramref name="destination"/>:
    /// raw = (value − offset) / scale, rounded for integer types. For <see cref="ModbusDataType.Bit"/> the raw value
    /// must be 0 or 1 and only bit 0 of the register changes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The raw value does not fit the type, is not finite for an integer type,
    /// or scale is zero or not finite.</exception>
    /// <exception cref="ArgumentException">Destination too short, or <see cref="ModbusDataType.String"/> (use <see cref="EncodeString"/>).</exception>
    public static void Encode(double value, ModbusDataType type, ModbusByteOrder order, Span<ushort> destination,
        double scale = 1, double offset = 0)
    {
        if (type == ModbusDataType.String)
        {
            throw new ArgumentException("A string is not a number; use EncodeString.", nameof(type));
        }

        if (scale == 0 || !double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be a finite, non-zero number.");
        }

        var count = RegisterCount(type);
        RequireLength(destination.Length, count, type, nameof(destination));
        var raw = (value - offset) / scale;
        ulong bits;
        switch (type)
        {
            case ModbusDataType.Int16:
                bits = (ushort)(short)ToInteger(raw, short.MinValue, short.MaxValue, type, value);
                break;
            case ModbusDataType.UInt16:
                bits = (ushort)ToInteger(raw, ushort.MinValue, ushort.MaxValue, type, value);
                break;
            case ModbusDataType.Int32:
                bits = (uint)(int)ToInteger(raw, int.MinValue, int.MaxValue, type, value);
                break;
            case ModbusDataType.UInt32:
                bits = (uint)ToInteger(raw, uint.MinValue, uint.MaxValue, type, value);
                break;
            case ModbusDataType.Int64:
                bits = (ulong)ToInt64(raw, value);
                break;
            case ModbusDataType.Float32:
                var single = (float)raw;
                if (float.IsInfinity(single) && double.IsFinite(raw))
                {
                    throw OutOfRange(value, raw, type, "±3.4028235E+38");
                }

                bits = BitConverter.SingleToUInt32Bits(single);
                break;
            case ModbusDataType.Float64:
                bits = BitConverter.DoubleToUInt64Bits(raw);
                break;
            case ModbusDataType.Bit:
                var bit = ToInteger(raw, 0, 1, type, value);
                destination[0] = (ushort)((destination[0] & ~1) | (int)bit);
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown Modbus data type.");
        }

        Scatter(bits, order, destination[..count]);
    }

    /// <summary>
    /// Decodes ASCII text, two characters a register. The first character sits in the high byte of the first
    /// register for ABCD/CDAB and in the low byte for BADC/DCBA (word order does not apply to text).
    /// The text ends at the first NUL; bytes above 0x7F decode as '?'.
    /// </summary>
    public static string DecodeString(ReadOnlySpan<ushort> registers, ModbusByteOrder order)
    {
        var swap = ByteSwapped(order);
        Span<char> chars = registers.Length <= 128 ? stackalloc char[registers.Length * 2] : new char[registers.Length * 2];
        var length = 0;
        foreach (var register in registers)
        {
            var first = swap ? register & 0xFF : register >> 8;
            var second = swap ? register >> 8 : register & 0xFF;
            if (first == 0)
            {
                break;
            }

            chars[length++] = first > 0x7F ? '?' : (char)first;
            if (second == 0)
            {
                break;
            }

            chars[length++] = second > 0x7F ? '?' : (char)second;
        }

        return new string(chars[..length]);
    }

    /// <summary>
    /// Encodes ASCII <paramref name="value"/> into all of <paramref name="destination"/>, two characters a register
    /// (see <see cref="DecodeString"/> for the byte order), padded with NUL.
    /// </summary>
    /// <exception cref="ArgumentException">The text is longer than 2 × destination length or holds a character outside 0x01-0x7F.</exception>
    public static void EncodeString(ReadOnlySpan<char> value, ModbusByteOrder order, Span<ushort> destination)
    {
        if (value.Length > destination.Length * 2)
        {
            throw new ArgumentException(
                $"Text of {value.Length} characters does not fit {destination.Length} register(s) ({destination.Length * 2} characters).",
                nameof(value));
        }

        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] is '\0' or > (char)0x7F)
            {
                throw new ArgumentException(
                    $"Character U+{(int)value[i]:X4} at index {i} is not printable ASCII (0x01-0x7F); Modbus strings are ASCII.",
                    nameof(value));
            }
        }

        var swap = ByteSwapped(order);
        for (var r = 0; r < destination.Length; r++)
        {
            int first = 2 * r < value.Length ? value[2 * r] : 0;
            int second = 2 * r + 1 < value.Length ? value[2 * r + 1] : 0;
            destination[r] = swap ? (ushort)((second << 8) | first) : (ushort)((first << 8) | second);
        }
    }

    /// <summary>Bit <paramref name="bit"/> (0 = least significant, 15 = most significant) of a register.</summary>
    public static bool DecodeBit(ushort register, int bit)
    {
        RequireBit(bit);
        return ((register >> bit) & 1) != 0;
    }

    /// <summary>The register with bit <paramref name="bit"/> (0-15) set to <paramref name="value"/>, other bits unchanged.</summary>
    public static ushort EncodeBit(ushort register, int bit, bool value)
    {
        RequireBit(bit);
        var mask = (ushort)(1 << bit);
        return value ? (ushort)(register | mask) : (ushort)(register & ~mask);
    }

    /// <summary>The registers of a value, read into one integer with byte A in its most significant position.</summary>
    private static ulong Gather(ReadOnlySpan<ushort> registers, ModbusByteOrder order)
    {
        var wordSwap = WordSwapped(order);
        var byteSwap = ByteSwapped(order);
        var n = registers.Length;
        ulong bits = 0;
        for (var i = 0; i < n; i++)
        {
            var word = registers[wordSwap ? n - 1 - i : i];
            if (byteSwap)
            {
                word = Swap(word);
            }

            bits = (bits << 16) | word;
        }

        return bits;
    }

    private static void Scatter(ulong bits, ModbusByteOrder order, Span<ushort> destination)
    {
        var wordSwap = WordSwapped(order);
        var byteSwap = ByteSwapped(order);
        var n = destination.Length;
        for (var i = 0; i < n; i++)
        {
            var word = (ushort)(bits >> (16 * (n - 1 - i)));
            destination[wordSwap ? n - 1 - i : i] = byteSwap ? Swap(word) : word;
        }
    }

    private static bool WordSwapped(ModbusByteOrder order) => order switch
    {
        ModbusByteOrder.ABCD or ModbusByteOrder.BADC => false,
        ModbusByteOrder.CDAB or ModbusByteOrder.DCBA => true,
        _ => throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown byte order."),
    };

    private static bool ByteSwapped(ModbusByteOrder order) => order switch
    {
        ModbusByteOrder.ABCD or ModbusByteOrder.CDAB => false,
        ModbusByteOrder.BADC or ModbusByteOrder.DCBA => true,
        _ => throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown byte order."),
    };

    private static ushort Swap(ushort word) => (ushort)((word << 8) | (word >> 8));

    private static long ToInteger(double raw, long min, long max, ModbusDataType type, double value)
    {
        var rounded = Math.Round(raw, MidpointRounding.AwayFromZero);
        if (!(rounded >= min && rounded <= max))
        {
            throw OutOfRange(value, raw, type, string.Create(CultureInfo.InvariantCulture, $"{min}..{max}"));
        }

        return (long)rounded;
    }

    private static long ToInt64(double raw, double value)
    {
        var rounded = Math.Round(raw, MidpointRounding.AwayFromZero);
        // 2^63 is exactly representable as a double; long.MaxValue is not, so compare against 2^63 exclusively.
        if (!(rounded >= -9223372036854775808.0 && rounded < 9223372036854775808.0))
        {
            throw OutOfRange(value, raw, ModbusDataType.Int64, "-2^63..2^63-1");
        }

        return (long)rounded;
    }

    private static ArgumentOutOfRangeException OutOfRange(double value, double raw, ModbusDataType type, string range) =>
        new(nameof(value), value, string.Create(CultureInfo.InvariantCulture,
            $"Value {value} gives raw {raw} after scale and offset, outside the {type} range {range}."));

    private static void RequireLength(int actual, int needed, ModbusDataType type, string parameter)
    {
        if (actual < needed)
        {
            throw new ArgumentException(
                $"{type} needs {needed} register(s) but {actual} were given.", parameter);
        }
    }

    private static void RequireBit(int bit)
    {
        if (bit is < 0 or > 15)
        {
            throw new ArgumentOutOfRangeException(nameof(bit), bit, "A register bit index is 0 (least significant) to 15.");
        }
    }
}
