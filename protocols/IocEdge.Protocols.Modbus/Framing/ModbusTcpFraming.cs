using System.Buffers;
using System.Buffers.Binary;

namespace IocEdge.Protocols.Modbus;

/// <summary>One MBAP frame: header fields and the PDU (a slice of the buffer it was decoded from).</summary>
/// <param name="TransactionId">Transaction identifier, echoed by the server.</param>
/// <param name="UnitId">Unit identifier (the slave behind a gateway; 0xFF or 0 for a plain TCP device).</param>
/// <param name="Pdu">Function code and data; valid until the buffer it came from is advanced.</param>
public readonly record struct ModbusTcpFrame(ushort TransactionId, byte UnitId, ReadOnlySequence<byte> Pdu);

/// <summary>
/// MBAP framing ("MODBUS Messaging on TCP/IP Implementation Guide V1.0b", section 3.1.3): transaction id (2 bytes),
/// protocol id (2, always 0), length (2, the count of the bytes that follow: unit id + PDU), unit id (1), then the PDU.
/// All big-endian. An ADU is at most 260 bytes (7-byte header + 253-byte PDU).
/// </summary>
public static class ModbusTcpFraming
{
    /// <summary>Transaction id, protocol id, length and unit id.</summary>
    public const int HeaderLength = 7;

    /// <summary>Largest ADU: header and a 253-byte PDU.</summary>
    public const int MaxAduLength = HeaderLength + ModbusLimits.MaxPduLength;

    /// <summary>Writes an MBAP header and <paramref name="pdu"/> into <paramref name="destination"/>; returns the ADU length.</summary>
    public static int Encode(Span<byte> destination, ushort transactionId, byte unitId, ReadOnlySpan<byte> pdu)
    {
        if (pdu.Length is 0 or > ModbusLimits.MaxPduLength)
        {
            throw new ArgumentException($"A PDU has 1 to {ModbusLimits.MaxPduLength} bytes.", nameof(pdu));
        }

        WriteHeader(destination, transactionId, unitId, pdu.Length);
        pdu.CopyTo(destination[HeaderLength..]);
        return HeaderLength + pdu.Length;
    }

    /// <summary>Writes the 7-byte MBAP header for a PDU of <paramref name="pduLength"/> bytes.</summary>
    public static void WriteHeader(Span<byte> destination, ushort transactionId, byte unitId, int pduLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, transactionId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)(pduLength + 1));
        destination[6] = unitId;
    }

    /// <summary>
    /// Decodes the first MBAP frame of <paramref name="buffer"/>. Returns false with <paramref name="consumed"/> at the
    /// start when more bytes are needed; true with the frame and the position after it otherwise.
    /// </summary>
    /// <exception cref="ModbusProtocolException">
    /// The header is impossible (protocol id not 0, length outside 2-254): a TCP byte stream has no way to find the
    /// next frame after that, so the connection must be closed.
    /// </exception>
    public static bool TryDecode(ReadOnlySequence<byte> buffer, out ModbusTcpFrame frame, out SequencePosition consumed)
    {
        frame = default;
        consumed = buffer.Start;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        var pduLength = CheckHeader(header);
        if (buffer.Length < HeaderLength + pduLength)
        {
            return false;
        }

        var pdu = buffer.Slice(HeaderLength, pduLength);
        frame = new ModbusTcpFrame(BinaryPrimitives.ReadUInt16BigEndian(header), header[6], pdu);
        consumed = pdu.End;
        return true;
    }

    /// <summary>
    /// Span form of <see cref="TryDecode(ReadOnlySequence{byte}, out ModbusTcpFrame, out SequencePosition)"/>:
    /// the PDU is <c>buffer.Slice(HeaderLength, consumed - HeaderLength)</c>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, out ushort transactionId, out byte unitId, out int consumed)
    {
        transactionId = 0;
        unitId = 0;
        consumed = 0;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        var pduLength = CheckHeader(buffer);
        if (buffer.Length < HeaderLength + pduLength)
        {
            return false;
        }

        transactionId = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        unitId = buffer[6];
        consumed = HeaderLength + pduLength;
        return true;
    }

    private static int CheckHeader(ReadOnlySpan<byte> header)
    {
        var protocolId = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
        if (protocolId != 0)
        {
            throw new ModbusProtocolException($"MBAP protocol identifier is {protocolId}; Modbus uses 0.");
        }

        if (length < 2 || length > ModbusLimits.MaxPduLength + 1)
        {
            throw new ModbusProtocolException(
                $"MBAP length field is {length}; it must be 2 to {ModbusLimits.MaxPduLength + 1} (unit id + PDU).");
        }

        return length - 1;
    }
}
