using System.Buffers;

namespace IocEdge.Protocols.Modbus;

/// <summary>Which side of the exchange a serial decoder is reading: RTU frames carry no length, so it matters.</summary>
public enum ModbusFrameDirection
{
    /// <summary>Master → slave (what a server decodes).</summary>
    Request,

    /// <summary>Slave → master (what a master decodes).</summary>
    Response,
}

/// <summary>One serial frame (RTU or ASCII) after its checksum was verified.</summary>
/// <param name="UnitId">The slave address (0 = broadcast).</param>
/// <param name="PduLength">Bytes of the PDU copied into the caller's destination.</param>
/// <param name="Discarded">Bytes thrown away before this frame (garbage, bad checksum, foreign frames).</param>
public readonly record struct ModbusSerialFrame(byte UnitId, int PduLength, int Discarded);

/// <summary>
/// RTU framing ("MODBUS over Serial Line V1.02", section 2.5.1): address, PDU, CRC-16 low byte first; at most 256
/// bytes. RTU has no length field, so a frame's length is worked out from its function code and byte count
/// (section 6 of the application protocol), and the CRC decides. The decoder copes with partial reads (needs more
/// data), garbage before a frame and frames with a bad CRC (skipped byte by byte until a frame checks), and
/// back-to-back frames (one per call).
/// </summary>
public static class ModbusRtuFraming
{
    /// <summary>Largest RTU ADU (section 2.5.1).</summary>
    public const int MaxAduLength = 256;

    /// <summary>Address, function, CRC.</summary>
    public const int MinAduLength = 4;

    /// <summary>Writes address, <paramref name="pdu"/> and CRC into <paramref name="destination"/>; returns the ADU length.</summary>
    public static int Encode(Span<byte> destination, byte unitId, ReadOnlySpan<byte> pdu)
    {
        if (pdu.Length is 0 or > ModbusLimits.MaxPduLength)
        {
            throw new ArgumentException($"A PDU has 1 to {ModbusLimits.MaxPduLength} bytes.", nameof(pdu));
        }

        destination[0] = unitId;
        pdu.CopyTo(destination[1..]);
        var crc = ModbusChecksums.Crc16(destination[..(1 + pdu.Length)]);
        destination[1 + pdu.Length] = (byte)crc;
        destination[2 + pdu.Length] = (byte)(crc >> 8);
        return 3 + pdu.Length;
    }

    /// <summary>
    /// Finds the first frame in <paramref name="buffer"/> whose length rules and CRC check, copies its PDU into
    /// <paramref name="pduDestination"/> (253 bytes suffice) and returns true; <paramref name="consumed"/> is then the
    /// offset after the frame. Returns false when no complete frame is there yet; <paramref name="consumed"/> is then the
    /// count of leading bytes that can never start a frame (drop them and read on). Never throws on any input.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, ModbusFrameDirection direction, Span<byte> pduDestination,
        out ModbusSerialFrame frame, out int consumed)
    {
        frame = default;
        var firstIncomplete = -1;
        for (var start = 0; start < buffer.Length; start++)
        {
            var candidate = buffer[start..];
            var length = FrameLength(candidate, direction);
            if (length < 0)
            {
                continue;
            }

            if (length == 0 || length > candidate.Length)
            {
                // Not complete yet at this start; a later start may still hold a complete frame (this one may be
                // garbage whose "byte count" claims more than will ever come).
                if (firstIncomplete < 0)
                {
                    firstIncomplete = start;
                }

                continue;
            }

            if (CrcMatches(candidate[..length]))
            {
                candidate.Slice(1, length - 3).CopyTo(pduDestination);
                frame = new ModbusSerialFrame(candidate[0], length - 3, start);
                consumed = start + length;
                return true;
            }
        }

        consumed = firstIncomplete < 0 ? buffer.Length : firstIncomplete;
        return false;
    }

    /// <summary>Sequence form of <see cref="TryDecode(ReadOnlySpan{byte}, ModbusFrameDirection, Span{byte}, out ModbusSerialFrame, out int)"/> for a Pipe loop.</summary>
    public static bool TryDecode(ReadOnlySequence<byte> buffer, ModbusFrameDirection direction, Span<byte> pduDestination,
        out ModbusSerialFrame frame, out SequencePosition consumed)
    {
        // A frame is at most 256 bytes: looking at the first 2 x 256 is enough to find one or to discard garbage.
        Span<byte> window = stackalloc byte[2 * MaxAduLength];
        var span = buffer.IsSingleSegment ? buffer.FirstSpan : Window(buffer, window);
        var found = TryDecode(span, direction, pduDestination, out frame, out var used);
        consumed = buffer.GetPosition(used);
        return found;
    }

    /// <summary>
    /// When the line has been silent for t3.5 (section 2.5.1.1), the bytes received form one frame whatever their
    /// function code: true when their CRC checks. A server uses this to answer unknown function codes (exception 01).
    /// </summary>
    public static bool TryDecodeAtSilence(ReadOnlySpan<byte> buffer, Span<byte> pduDestination, out ModbusSerialFrame frame)
    {
        frame = default;
        if (buffer.Length < MinAduLength || buffer.Length > MaxAduLength || !CrcMatches(buffer))
        {
            return false;
        }

        buffer[1..^2].CopyTo(pduDestination);
        frame = new ModbusSerialFrame(buffer[0], buffer.Length - 3, 0);
        return true;
    }

    /// <summary>The ADU length a frame starting at <paramref name="s"/> must have; 0 = not known yet; -1 = not a frame start.</summary>
    internal static int FrameLength(ReadOnlySpan<byte> s, ModbusFrameDirection direction)
    {
        if (s.Length < 2)
        {
            return 0;
        }

        var fc = s[1];
        int length;
        if (direction == ModbusFrameDirection.Response)
        {
            if ((fc & 0x80) != 0)
            {
                return IsKnown((byte)(fc & 0x7F)) ? 5 : -1;
            }

            switch (fc)
            {
                case 0x01:
                case 0x02:
                case 0x03:
                case 0x04:
                case 0x17:
                    if (s.Length < 3)
                    {
                        return 0;
                    }

                    if (s[2] == 0 || (fc >= 0x03 && (s[2] & 1) != 0) || s[2] > 250)
                    {
                        return -1;
                    }

                    length = 5 + s[2];
                    break;
                case 0x05:
                case 0x06:
                case 0x0F:
                case 0x10:
                    return 8;
                case 0x16:
                    return 10;
                case 0x11:
                    // Section 6.13: byte count, then server id, run indicator, additional data; at least the run indicator.
                    if (s.Length < 3)
                    {
                        return 0;
                    }

                    if (s[2] == 0 || s[2] > ModbusLimits.MaxServerIdReportDataLength)
                    {
                        return -1;
                    }

                    length = 5 + s[2];
                    break;
                case 0x2B:
                    return DeviceIdentificationResponseLength(s);
                default:
                    return -1;
            }
        }
        else
        {
            switch (fc)
            {
                case 0x01:
                case 0x02:
                case 0x03:
                case 0x04:
                case 0x05:
                case 0x06:
                    return 8;
                case 0x11:
                    return 4;
                case 0x0F:
                case 0x10:
                    if (s.Length < 7)
                    {
                        return 0;
                    }

                    length = 9 + s[6];
                    break;
                case 0x16:
                    return 10;
                case 0x17:
                    if (s.Length < 11)
                    {
                        return 0;
                    }

                    length = 13 + s[10];
                    break;
                case 0x2B:
                    if (s.Length < 3)
                    {
                        return 0;
                    }

                    return s[2] == ModbusLimits.MeiReadDeviceIdentification ? 7 : -1;
                default:
                    return -1;
            }
        }

        return length <= MaxAduLength ? length : -1;
    }

    private static int DeviceIdentificationResponseLength(ReadOnlySpan<byte> s)
    {
        // address, 2B, 0E, code, conformity, more follows, next id, object count, then (id, length, value)*, CRC.
        if (s.Length < 3)
        {
            return 0;
        }

        if (s[2] != ModbusLimits.MeiReadDeviceIdentification)
        {
            return -1;
        }

        if (s.Length < 8)
        {
            return 0;
        }

        var offset = 8;
        for (var i = 0; i < s[7]; i++)
        {
            if (offset + 2 > s.Length)
            {
                return offset + 2 + 2 > MaxAduLength ? -1 : 0;
            }

            offset += 2 + s[offset + 1];
            if (offset + 2 > MaxAduLength)
            {
                return -1;
            }
        }

        return offset + 2;
    }

    private static bool IsKnown(byte fc) => fc is 0x01 or 0x02 or 0x03 or 0x04 or 0x05 or 0x06 or 0x0F or 0x10
        or 0x11 or 0x16 or 0x17 or 0x2B;

    private static bool CrcMatches(ReadOnlySpan<byte> adu)
    {
        var crc = ModbusChecksums.Crc16(adu[..^2]);
        return adu[^2] == (byte)crc && adu[^1] == (byte)(crc >> 8);
    }

    internal static ReadOnlySpan<byte> Window(ReadOnlySequence<byte> buffer, Span<byte> window)
    {
        var length = (int)Math.Min(buffer.Length, window.Length);
        buffer.Slice(0, length).CopyTo(window);
        return window[..length];
    }
}

/// <summary>
/// ASCII framing ("MODBUS over Serial Line V1.02", section 2.5.2): ':' then address, PDU and LRC as pairs of
/// upper-case hex digits, then CR LF; at most 513 characters. The decoder skips anything before ':', drops a frame
/// with bad hex or a bad LRC up to its CR LF, and never throws.
/// </summary>
public static class ModbusAsciiFraming
{
    /// <summary>Largest ASCII ADU in characters (section 2.5.2.1).</summary>
    public const int MaxAduLength = 513;

    /// <summary>Writes the ASCII frame for <paramref name="pdu"/>; returns its length in characters.</summary>
    public static int Encode(Span<byte> destination, byte unitId, ReadOnlySpan<byte> pdu)
    {
        if (pdu.Length is 0 or > ModbusLimits.MaxPduLength)
        {
            throw new ArgumentException($"A PDU has 1 to {ModbusLimits.MaxPduLength} bytes.", nameof(pdu));
        }

        var lrc = (byte)(ModbusChecksums.Lrc(pdu) - unitId);
        var offset = 0;
        destination[offset++] = (byte)':';
        offset += WriteHex(destination[offset..], unitId);
        foreach (var b in pdu)
        {
            offset += WriteHex(destination[offset..], b);
        }

        offset += WriteHex(destination[offset..], lrc);
        destination[offset++] = (byte)'\r';
        destination[offset++] = (byte)'\n';
        return offset;
    }

    /// <summary>
    /// Finds the first frame in <paramref name="buffer"/>: true with its PDU in <paramref name="pduDestination"/> and
    /// <paramref name="consumed"/> after its LF; false when none is complete yet, <paramref name="consumed"/> being the
    /// bytes to drop (everything before a ':' that may still become a frame).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, Span<byte> pduDestination, out ModbusSerialFrame frame,
        out int consumed)
    {
        frame = default;
        var discarded = 0;
        var offset = 0;
        while (true)
        {
            var colon = buffer[offset..].IndexOf((byte)':');
            if (colon < 0)
            {
                consumed = buffer.Length;
                return false;
            }

            var start = offset + colon;
            discarded += colon;
            var rest = buffer[(start + 1)..];
            var lf = rest.IndexOf((byte)'\n');
            var nextColon = rest.IndexOf((byte)':');
            if (nextColon >= 0 && (lf < 0 || nextColon < lf))
            {
                // A new frame starts before this one ended: section 2.5.2.1 says restart on ':'.
                discarded += nextColon + 1;
                offset = start + 1 + nextColon;
                continue;
            }

            if (lf < 0)
            {
                if (rest.Length + 1 >= MaxAduLength)
                {
                    // No end within the longest possible frame: drop it.
                    discarded += rest.Length + 1;
                    offset = buffer.Length;
                    continue;
                }

                consumed = start;
                return false;
            }

            var frameEnd = start + 1 + lf + 1;
            var hex = rest[..lf];
            if (TryDecodeHex(hex, pduDestination, out var unitId, out var pduLength))
            {
                frame = new ModbusSerialFrame(unitId, pduLength, discarded);
                consumed = frameEnd;
                return true;
            }

            discarded += frameEnd - start;
            offset = frameEnd;
        }
    }

    /// <summary>Sequence form of <see cref="TryDecode(ReadOnlySpan{byte}, Span{byte}, out ModbusSerialFrame, out int)"/>.</summary>
    public static bool TryDecode(ReadOnlySequence<byte> buffer, Span<byte> pduDestination, out ModbusSerialFrame frame,
        out SequencePosition consumed)
    {
        Span<byte> window = stackalloc byte[2 * MaxAduLength];
        var span = buffer.IsSingleSegment ? buffer.FirstSpan : ModbusRtuFraming.Window(buffer, window);
        var found = TryDecode(span, pduDestination, out frame, out var used);
        consumed = buffer.GetPosition(used);
        return found;
    }

    private static bool TryDecodeHex(ReadOnlySpan<byte> hex, Span<byte> pduDestination, out byte unitId, out int pduLength)
    {
        unitId = 0;
        pduLength = 0;
        // Characters between ':' and LF: pairs of hex digits, then CR. Address + function + LRC at least.
        if (hex.Length < 7 || hex[^1] != (byte)'\r' || (hex.Length - 1) % 2 != 0)
        {
            return false;
        }

        var byteCount = (hex.Length - 1) / 2;
        if (byteCount - 2 > ModbusLimits.MaxPduLength)
        {
            return false;
        }

        byte sum = 0;
        for (var i = 0; i < byteCount; i++)
        {
            var hi = HexValue(hex[2 * i]);
            var lo = HexValue(hex[(2 * i) + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }

            var b = (byte)((hi << 4) | lo);
            sum += b;
            if (i == 0)
            {
                unitId = b;
            }
            else if (i < byteCount - 1)
            {
                pduDestination[i - 1] = b;
            }
        }

        // Section 2.5.2.2: the LRC makes the 8-bit sum of all bytes (LRC included) zero.
        pduLength = byteCount - 2;
        return sum == 0;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };

    private static int WriteHex(Span<byte> destination, byte value)
    {
        const string digits = "0123456789ABCDEF";
        destination[0] = (byte)digits[value >> 4];
        destination[1] = (byte)digits[value & 0xF];
        return 2;
    }
}
