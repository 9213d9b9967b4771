namespace IocEdge.Devices;

/// <summary>
/// A 10-byte frame from a Nova Fitness SDS011 (Laser Dust Sensor Control Protocol V1.3): head 0xAA, command id
/// (0xC0 = measurement, 0xC5 = reply to a command), six data bytes, checksum = low byte of the sum of the six data
/// bytes, tail 0xAB.
/// </summary>
/// <param name="CommandId">0xC0 or 0xC5.</param>
/// <param name="Data">The six data bytes.</param>
public sealed record Sds011Frame(byte CommandId, byte[] Data)
{
    public const int Length = 10;
    public const byte Head = 0xAA;
    public const byte Tail = 0xAB;
    public const byte MeasurementId = 0xC0;
    public const byte ReplyId = 0xC5;

    /// <summary>PM2.5 in µg/m³ of a measurement frame: (DATA2 × 256 + DATA1) / 10.</summary>
    public double Pm25 => ((Data[1] << 8) | Data[0]) / 10.0;

    /// <summary>PM10 in µg/m³ of a measurement frame: (DATA4 × 256 + DATA3) / 10.</summary>
    public double Pm10 => ((Data[3] << 8) | Data[2]) / 10.0;

    /// <summary>Device id (DATA5, DATA6).</summary>
    public ushort DeviceId => (ushort)((Data[4] << 8) | Data[5]);

    /// <summary>Decodes the frame at the start of <paramref name="buffer"/>. Pure: no I/O.</summary>
    public static FrameDecodeStatus Decode(ReadOnlySpan<byte> buffer, out Sds011Frame? frame, out int consumed)
    {
        frame = null;
        consumed = 0;
        var start = buffer.IndexOf(Head);
        if (start != 0)
        {
            consumed = start < 0 ? buffer.Length : start;
            return consumed == 0 ? FrameDecodeStatus.NeedMoreData : FrameDecodeStatus.Garbage;
        }

        if (buffer.Length >= 2 && buffer[1] is not (MeasurementId or ReplyId))
        {
            consumed = 1;
            return FrameDecodeStatus.Garbage;
        }

        if (buffer.Length < Length)
        {
            return FrameDecodeStatus.NeedMoreData;
        }

        if (buffer[9] != Tail)
        {
            consumed = 1;
            return FrameDecodeStatus.Malformed;
        }

        if (Checksum(buffer.Slice(2, 6)) != buffer[8])
        {
            consumed = 1;
            return FrameDecodeStatus.ChecksumError;
        }

        consumed = Length;
        frame = new Sds011Frame(buffer[1], buffer.Slice(2, 6).ToArray());
        return FrameDecodeStatus.Frame;
    }

    /// <summary>Encodes a frame (used by tests and simulators).</summary>
    public byte[] Encode()
    {
        var bytes = new byte[Length];
        bytes[0] = Head;
        bytes[1] = CommandId;
        Data.AsSpan(0, 6).CopyTo(bytes.AsSpan(2));
        bytes[8] = Checksum(bytes.AsSpan(2, 6));
        bytes[9] = Tail;
        return bytes;
    }

    internal static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        var sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return (byte)sum;
    }
}
