using System.Buffers.Binary;
using System.Text;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// The objects of one Read Device Identification response (FC 2B / MEI 0E, spec V1.1b3 section 6.21).
/// Object values are carried as Latin-1 text so that every byte survives a round trip.
/// </summary>
/// <param name="ReadDeviceIdCode">The request's read device ID code, echoed.</param>
/// <param name="ConformityLevel">The device's conformity level (0x01-0x03, 0x81-0x83).</param>
/// <param name="MoreFollows">True when the objects did not fit one response; ask again from <paramref name="NextObjectId"/>.</param>
/// <param name="NextObjectId">The first object of the next response when <paramref name="MoreFollows"/>.</param>
/// <param name="Objects">Object id and value, in the order received.</param>
public sealed record ModbusDeviceIdentification(byte ReadDeviceIdCode, byte ConformityLevel, bool MoreFollows,
    byte NextObjectId, IReadOnlyList<KeyValuePair<byte, string>> Objects);

/// <summary>
/// A Report Server ID answer (FC 11, spec V1.1b3 section 6.13): the response's data after its byte count, split as
/// the specification orders it: server id, run indicator status, additional data. The server id's length is device
/// specific (1 byte in libmodbus and most manuals, 2 in some); the master is told it (see
/// <see cref="IModbusMaster.ReportServerIdAsync"/>).
/// </summary>
/// <param name="ServerId">The server id bytes (device specific).</param>
/// <param name="RunIndicatorStatus"><see cref="RunIndicatorOff"/> (0x00) or <see cref="RunIndicatorOn"/> (0xFF); no other value is accepted.</param>
/// <param name="AdditionalData">The device-specific bytes after the run indicator (often ASCII text); may be empty.</param>
public sealed record ModbusServerIdReport(byte[] ServerId, byte RunIndicatorStatus, byte[] AdditionalData)
{
    /// <summary>Run indicator status OFF (section 6.13).</summary>
    public const byte RunIndicatorOff = 0x00;

    /// <summary>Run indicator status ON (section 6.13).</summary>
    public const byte RunIndicatorOn = 0xFF;

    /// <summary>True when the device reports itself running (run indicator 0xFF).</summary>
    public bool IsRunning => RunIndicatorStatus == RunIndicatorOn;

    /// <summary>The additional data as Latin-1 text (every byte kept), for devices that put a name or version there.</summary>
    public string AdditionalText => Encoding.Latin1.GetString(AdditionalData);

    /// <inheritdoc/>
    public override string ToString() =>
        $"server id {Convert.ToHexString(ServerId)}, run indicator {(IsRunning ? "ON" : "OFF")}, additional data {Convert.ToHexString(AdditionalData)}";
}

/// <summary>
/// Response PDUs: encoders for the server, decoders for the master. Pure: no I/O, no clock, no logging.
/// Decoders throw <see cref="ModbusDeviceException"/> for an exception response (section 7) and
/// <see cref="ModbusProtocolException"/> for a response that does not answer the request (wrong function, byte
/// count, echo); nothing else.
/// </summary>
public static class ModbusResponse
{
    /// <summary>Writes an exception response (function code | 0x80, exception code; section 7).</summary>
    public static int EncodeException(Span<byte> destination, byte functionCode, ModbusExceptionCode code)
    {
        destination[0] = (byte)(functionCode | 0x80);
        destination[1] = (byte)code;
        return 2;
    }

    /// <summary>FC 01/02 response: function, byte count, bits packed LSB first (sections 6.1, 6.2).</summary>
    public static int EncodeBits(Span<byte> destination, ModbusFunctionCode function, ReadOnlySpan<bool> bits)
    {
        var byteCount = (bits.Length + 7) / 8;
        destination[0] = (byte)function;
        destination[1] = (byte)byteCount;
        ModbusBits.Pack(bits, destination.Slice(2, byteCount));
        return 2 + byteCount;
    }

    /// <summary>FC 03/04/17 response: function, byte count, registers big-endian (sections 6.3, 6.4, 6.17).</summary>
    public static int EncodeRegisters(Span<byte> destination, ModbusFunctionCode function, ReadOnlySpan<ushort> registers)
    {
        destination[0] = (byte)function;
        destination[1] = (byte)(2 * registers.Length);
        ModbusBits.WriteRegisters(registers, destination[2..]);
        return 2 + (2 * registers.Length);
    }

    /// <summary>FC 05/06/0F/10/16 response: the echo the specification prescribes (sections 6.5, 6.6, 6.11, 6.12, 6.16).</summary>
    public static int EncodeWriteResponse(Span<byte> destination, in ModbusRequest request)
    {
        destination[0] = (byte)request.Function;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], request.Address);
        switch (request.Function)
        {
            case ModbusFunctionCode.WriteSingleCoil:
            case ModbusFunctionCode.WriteSingleRegister:
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], request.Value);
                return 5;
            case ModbusFunctionCode.WriteMultipleCoils:
            case ModbusFunctionCode.WriteMultipleRegisters:
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], request.Count);
                return 5;
            case ModbusFunctionCode.MaskWriteRegister:
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], request.AndMask);
                BinaryPrimitives.WriteUInt16BigEndian(destination[5..], request.OrMask);
                return 7;
            default:
                throw new ArgumentException($"{request.Function} is not a write function.", nameof(request));
        }
    }

    /// <summary>
    /// FC 2B/0E response (section 6.21). Objects are written in order until the next would overflow the 253-byte PDU;
    /// then More Follows is 0xFF and Next Object Id names the first object left out. Returns the PDU length.
    /// </summary>
    public static int EncodeDeviceIdentification(Span<byte> destination, byte readDeviceIdCode, byte conformityLevel,
        IReadOnlyList<KeyValuePair<byte, string>> objects)
    {
        destination[0] = (byte)ModbusFunctionCode.EncapsulatedInterfaceTransport;
        destination[1] = ModbusLimits.MeiReadDeviceIdentification;
        destination[2] = readDeviceIdCode;
        destination[3] = conformityLevel;
        destination[4] = 0x00; // more follows
        destination[5] = 0x00; // next object id
        var offset = 7;
        var written = 0;
        foreach (var (id, value) in objects)
        {
            var length = Math.Min(value.Length, 255);
            if (offset + 2 + length > ModbusLimits.MaxPduLength)
            {
                destination[4] = 0xFF;
                destination[5] = id;
                break;
            }

            destination[offset] = id;
            destination[offset + 1] = (byte)length;
            Encoding.Latin1.GetBytes(value.AsSpan(0, length), destination.Slice(offset + 2, length));
            offset += 2 + length;
            written++;
        }

        destination[6] = (byte)written;
        return offset;
    }

    /// <summary>
    /// FC 11 response (section 6.13): function, byte count, server id, run indicator status, additional data.
    /// Returns the PDU length (2 + byte count).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="runIndicatorStatus"/> is neither 0x00 nor 0xFF, or server id
    /// plus additional data exceed <see cref="ModbusLimits.MaxServerIdReportDataLength"/> - 1 bytes.</exception>
    public static int EncodeServerIdReport(Span<byte> destination, ReadOnlySpan<byte> serverId, byte runIndicatorStatus,
        ReadOnlySpan<byte> additionalData)
    {
        CheckServerIdReport(serverId.Length, runIndicatorStatus, additionalData.Length);
        var byteCount = serverId.Length + 1 + additionalData.Length;
        destination[0] = (byte)ModbusFunctionCode.ReportServerId;
        destination[1] = (byte)byteCount;
        serverId.CopyTo(destination[2..]);
        destination[2 + serverId.Length] = runIndicatorStatus;
        additionalData.CopyTo(destination[(3 + serverId.Length)..]);
        return 2 + byteCount;
    }

    /// <summary>Validates the parts of a Report Server ID answer (section 6.13; PDU limit of section 4.1).</summary>
    /// <exception cref="ArgumentException">See <see cref="EncodeServerIdReport"/>.</exception>
    internal static void CheckServerIdReport(int serverIdLength, byte runIndicatorStatus, int additionalDataLength)
    {
        if (runIndicatorStatus is not (ModbusServerIdReport.RunIndicatorOff or ModbusServerIdReport.RunIndicatorOn))
        {
            throw new ArgumentException(
                $"The run indicator status is 0x00 (OFF) or 0xFF (ON) (spec V1.1b3 section 6.13), not 0x{runIndicatorStatus:X2}.",
                nameof(runIndicatorStatus));
        }

        if (serverIdLength + 1 + additionalDataLength > ModbusLimits.MaxServerIdReportDataLength)
        {
            throw new ArgumentException(
                $"Server id ({serverIdLength} bytes) + run indicator + additional data ({additionalDataLength} bytes) exceed the " +
                $"{ModbusLimits.MaxServerIdReportDataLength} bytes one response PDU can carry (spec V1.1b3 section 4.1); shorten the additional data.",
                nameof(additionalDataLength));
        }
    }

    /// <summary>Throws <see cref="ModbusDeviceException"/> when <paramref name="pdu"/> is an exception response to <paramref name="function"/>.</summary>
    /// <exception cref="ModbusDeviceException">The slave refused the request.</exception>
    /// <exception cref="ModbusProtocolException">The PDU is empty, an exception response of the wrong length, or answers another function.</exception>
    public static void ThrowIfException(byte unitId, ModbusFunctionCode function, ReadOnlySpan<byte> pdu)
    {
        if (pdu.Length == 0)
        {
            throw new ModbusProtocolException($"Unit {unitId} sent an empty response PDU.");
        }

        if (pdu[0] == ((byte)function | 0x80))
        {
            if (pdu.Length != 2)
            {
                throw new ModbusProtocolException(
                    $"Unit {unitId} sent an exception response of {pdu.Length} bytes; section 7 defines 2.");
            }

            throw new ModbusDeviceException(unitId, (byte)function, (ModbusExceptionCode)pdu[1]);
        }

        if (pdu[0] != (byte)function)
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered function 0x{pdu[0]:X2} to a request for function 0x{(byte)function:X2}.");
        }
    }

    /// <summary>Decodes the bits of an FC 01/02 response to <paramref name="request"/>.</summary>
    public static bool[] DecodeBits(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu)
    {
        var bits = new bool[request.Count];
        DecodeBits(unitId, request, pdu, bits);
        return bits;
    }

    /// <summary>Decodes the bits of an FC 01/02 response into <paramref name="destination"/> (at least <see cref="ModbusRequest.Count"/> long).</summary>
    public static void DecodeBits(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu, Span<bool> destination)
    {
        ThrowIfException(unitId, request.Function, pdu);
        var expected = (request.Count + 7) / 8;
        CheckByteCount(unitId, request, pdu, expected);
        ModbusBits.Unpack(pdu.Slice(2, expected), destination[..request.Count]);
    }

    /// <summary>Decodes the registers of an FC 03/04/17 response to <paramref name="request"/>.</summary>
    public static ushort[] DecodeRegisters(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu)
    {
        var registers = new ushort[request.Count];
        DecodeRegisters(unitId, request, pdu, registers);
        return registers;
    }

    /// <summary>Decodes the registers of an FC 03/04/17 response into <paramref name="destination"/>.</summary>
    public static void DecodeRegisters(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu, Span<ushort> destination)
    {
        ThrowIfException(unitId, request.Function, pdu);
        CheckByteCount(unitId, request, pdu, 2 * request.Count);
        ModbusBits.ReadRegisters(pdu.Slice(2, 2 * request.Count), destination[..request.Count]);
    }

    /// <summary>Checks the echo of an FC 05/06/0F/10/16 response against <paramref name="request"/>.</summary>
    public static void CheckWriteResponse(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu)
    {
        ThrowIfException(unitId, request.Function, pdu);
        Span<byte> expected = stackalloc byte[7];
        var length = EncodeWriteResponse(expected, request);
        if (!pdu.SequenceEqual(expected[..length]))
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered {request} with {Convert.ToHexString(pdu)}; expected the echo {Convert.ToHexString(expected[..length])}.");
        }
    }

    /// <summary>Decodes an FC 2B/0E response (section 6.21).</summary>
    public static ModbusDeviceIdentification DecodeDeviceIdentification(byte unitId, in ModbusRequest request,
        ReadOnlySpan<byte> pdu)
    {
        ThrowIfException(unitId, request.Function, pdu);
        if (pdu.Length < 7 || pdu[1] != ModbusLimits.MeiReadDeviceIdentification)
        {
            throw new ModbusProtocolException($"Unit {unitId} sent a device identification response of {pdu.Length} bytes without MEI type 0x0E.");
        }

        var count = pdu[6];
        var objects = new List<KeyValuePair<byte, string>>(Math.Min((int)count, 64));
        var offset = 7;
        for (var i = 0; i < count; i++)
        {
            if (offset + 2 > pdu.Length || offset + 2 + pdu[offset + 1] > pdu.Length)
            {
                throw new ModbusProtocolException(
                    $"Unit {unitId} announced {count} device identification objects but the PDU ends inside object {i}.");
            }

            var length = pdu[offset + 1];
            objects.Add(new(pdu[offset], Encoding.Latin1.GetString(pdu.Slice(offset + 2, length))));
            offset += 2 + length;
        }

        if (offset != pdu.Length)
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} sent {pdu.Length - offset} bytes after the last device identification object.");
        }

        return new ModbusDeviceIdentification(pdu[2], pdu[3], pdu[4] == 0xFF, pdu[5], objects);
    }

    /// <summary>
    /// Decodes an FC 11 response (section 6.13). <paramref name="serverIdLength"/> is the device's server id length in
    /// bytes (its manual says; 1 in libmodbus); null for devices that put the run indicator last with no additional
    /// data, everything before it being the server id (pymodbus 3.0's server).
    /// </summary>
    /// <exception cref="ModbusDeviceException">An exception response.</exception>
    /// <exception cref="ModbusProtocolException">Another function; a byte count that disagrees with the PDU's length;
    /// too few bytes for the server id and the run indicator; a run indicator other than 0x00/0xFF.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="serverIdLength"/> is negative.</exception>
    public static ModbusServerIdReport DecodeServerIdReport(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu,
        int? serverIdLength = 1)
    {
        if (serverIdLength < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(serverIdLength), serverIdLength, "A server id has 0 or more bytes.");
        }

        ThrowIfException(unitId, request.Function, pdu);
        if (pdu.Length < 2 || pdu[1] != pdu.Length - 2)
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered {request} with {pdu.Length} bytes (byte count {(pdu.Length > 1 ? pdu[1] : -1)}); the byte count must be the length after it.");
        }

        var data = pdu[2..];
        var idLength = serverIdLength ?? data.Length - 1;
        if (data.Length < idLength + 1 || idLength < 0)
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered {request} with {data.Length} data bytes; a {idLength}-byte server id and the run indicator need {idLength + 1}.");
        }

        var run = data[idLength];
        if (run is not (ModbusServerIdReport.RunIndicatorOff or ModbusServerIdReport.RunIndicatorOn))
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered {request} with run indicator 0x{run:X2} after a {idLength}-byte server id; section 6.13 allows 0x00 or 0xFF (is the server id length right?).");
        }

        return new ModbusServerIdReport(data[..idLength].ToArray(), run, data[(idLength + 1)..].ToArray());
    }

    private static void CheckByteCount(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu, int expected)
    {
        if (pdu.Length < 2 || pdu[1] != expected || pdu.Length != 2 + expected)
        {
            throw new ModbusProtocolException(
                $"Unit {unitId} answered {request} with {pdu.Length} bytes (byte count {(pdu.Length > 1 ? pdu[1] : -1)}); expected byte count {expected}.");
        }
    }
}
