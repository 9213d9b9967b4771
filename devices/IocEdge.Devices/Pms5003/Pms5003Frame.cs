namespace IocEdge.Devices;

/// <summary>
/// One PMS5003 data frame (Plantower PMS5003 data manual, "Transport Protocol - Active Mode"): 32 bytes,
/// start characters 0x42 0x4D, frame length 2×13+2 = 28, thirteen big-endian data words, and a check code equal
/// to the 16-bit sum of all bytes before it.
/// </summary>
/// <param name="Pm1Standard">Data 1: PM1.0 in µg/m³, CF=1 (standard particle, factory environment).</param>
/// <param name="Pm25Standard">Data 2: PM2.5, CF=1.</param>
/// <param name="Pm10Standard">Data 3: PM10, CF=1.</param>
/// <param name="Pm1">Data 4: PM1.0 in µg/m³ under atmospheric environment (the ambient value).</param>
/// <param name="Pm25">Data 5: PM2.5, atmospheric environment.</param>
/// <param name="Pm10">Data 6: PM10, atmospheric environment.</param>
/// <param name="Particles03">Data 7: particles &gt; 0.3 µm per 0.1 L of air.</param>
/// <param name="Particles05">Data 8: &gt; 0.5 µm.</param>
/// <param name="Particles10">Data 9: &gt; 1.0 µm.</param>
/// <param name="Particles25">Data 10: &gt; 2.5 µm.</param>
/// <param name="Particles50">Data 11: &gt; 5.0 µm.</param>
/// <param name="Particles100">Data 12: &gt; 10 µm.</param>
public sealed record Pms5003Frame(
    ushort Pm1Standard, ushort Pm25Standard, ushort Pm10Standard,
    ushort Pm1, ushort Pm25, ushort Pm10,
    ushort Particles03, ushort Particles05, ushort Particles10, ushort Particles25, ushort Particles50, ushort Particles100)
{
    public const int Length = 32;
    public const byte Start1 = 0x42;
    public const byte Start2 = 0x4D;
    private const int DataFrameLength = 28;
    private const int CommandAckLength = 4;

    /// <summary>
    /// True when all twelve data words are zero: what the sensor sends while its fan spins up after power-on or
    /// wake-up, not a measurement (real air always has particles &gt; 0.3 µm).
    /// </summary>
    public bool IsAllZero => (Pm1Standard | Pm25Standard | Pm10Standard | Pm1 | Pm25 | Pm10 | Particles03 | Particles05
        | Particles10 | Particles25 | Particles50 | Particles100) == 0;

    /// <summary>Encodes the frame (data 13, reserved, is zero).</summary>
    public byte[] Encode()
    {
        var bytes = new byte[Length];
        bytes[0] = Start1;
        bytes[1] = Start2;
        bytes[3] = DataFrameLength;
        ushort[] words = [Pm1Standard, Pm25Standard, Pm10Standard, Pm1, Pm25, Pm10, Particles03, Particles05, Particles10,
            Particles25, Particles50, Particles100, 0];
        for (var i = 0; i < words.Length; i++)
        {
            bytes[4 + (2 * i)] = (byte)(words[i] >> 8);
            bytes[5 + (2 * i)] = (byte)words[i];
        }

        var sum = Sum(bytes.AsSpan(0, 30));
        bytes[30] = (byte)(sum >> 8);
        bytes[31] = (byte)sum;
        return bytes;
    }

    /// <summary>
    /// Decodes the frame at the start of <paramref name="buffer"/>. Pure: no I/O. Garbage before a start byte,
    /// a bad length or a bad checksum are reported with how many bytes to drop; a 4-byte command
    /// acknowledgement frame is reported as <see cref="FrameDecodeStatus.Other"/>.
    /// </summary>
    public static FrameDecodeStatus Decode(ReadOnlySpan<byte> buffer, out Pms5003Frame? frame, out int consumed)
    {
        frame = null;
        consumed = 0;
        var start = buffer.IndexOf(Start1);
        if (start != 0)
        {
            consumed = start < 0 ? buffer.Length : start;
            return consumed == 0 ? FrameDecodeStatus.NeedMoreData : FrameDecodeStatus.Garbage;
        }

        if (buffer.Length < 4)
        {
            if (buffer.Length >= 2 && buffer[1] != Start2)
            {
                consumed = 1;
                return FrameDecodeStatus.Garbage;
            }

            return FrameDecodeStatus.NeedMoreData;
        }

        if (buffer[1] != Start2)
        {
            consumed = 1;
            return FrameDecodeStatus.Garbage;
        }

        var length = (buffer[2] << 8) | buffer[3];
        if (length is not (DataFrameLength or CommandAckLength))
        {
            consumed = 2;
            return FrameDecodeStatus.Malformed;
        }

        var total = 4 + length;
        if (buffer.Length < total)
        {
            return FrameDecodeStatus.NeedMoreData;
        }

        var check = (buffer[total - 2] << 8) | buffer[total - 1];
        if (Sum(buffer[..(total - 2)]) != check)
        {
            consumed = 1;
            return FrameDecodeStatus.ChecksumError;
        }

        consumed = total;
        if (length == CommandAckLength)
        {
            return FrameDecodeStatus.Other;
        }

        static ushort W(ReadOnlySpan<byte> b, int i) => (ushort)((b[4 + (2 * i)] << 8) | b[5 + (2 * i)]);
        frame = new Pms5003Frame(W(buffer, 0), W(buffer, 1), W(buffer, 2), W(buffer, 3), W(buffer, 4), W(buffer, 5),
            W(buffer, 6), W(buffer, 7), W(buffer, 8), W(buffer, 9), W(buffer, 10), W(buffer, 11));
        return FrameDecodeStatus.Frame;
    }

    internal static ushort Sum(ReadOnlySpan<byte> bytes)
    {
        var sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return (ushort)sum;
    }
}
