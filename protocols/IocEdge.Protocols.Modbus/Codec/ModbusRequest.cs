using System.Buffers.Binary;

namespace IocEdge.Protocols.Modbus;

/// <summary>Outcome of decoding a request PDU on the server side.</summary>
public enum ModbusRequestDecodeStatus
{
    /// <summary>A well-formed request within the specification's limits.</summary>
    Ok,

    /// <summary>A request the server must refuse with an exception response (unknown function, quantity out of range…).</summary>
    Exception,

    /// <summary>Too short, too long or self-contradictory beyond an exception response: count it and drop it.</summary>
    Malformed,
}

/// <summary>
/// One Modbus request PDU (function code and data, no address or checksum): built by the master through the static
/// factories, decoded by the server through <see cref="TryDecode"/>. Pure: no I/O.
/// </summary>
/// <remarks>
/// Layouts and limits follow the Modbus Application Protocol Specification V1.1b3, section 6 (one subsection per
/// function code). Registers and addresses are big-endian on the wire (section 4.2); coils are packed LSB first.
/// </remarks>
public readonly struct ModbusRequest
{
    private ModbusRequest(ModbusFunctionCode function, ushort address, ushort count, ushort value = 0,
        ushort andMask = 0, ushort orMask = 0, ushort writeAddress = 0, ReadOnlyMemory<ushort> registers = default,
        ReadOnlyMemory<bool> coils = default, byte readDeviceIdCode = 0, byte objectId = 0)
    {
        Function = function;
        Address = address;
        Count = count;
        Value = value;
        AndMask = andMask;
        OrMask = orMask;
        WriteAddress = writeAddress;
        Registers = registers;
        Coils = coils;
        ReadDeviceIdCode = readDeviceIdCode;
        ObjectId = objectId;
    }

    /// <summary>The function code.</summary>
    public ModbusFunctionCode Function { get; }

    /// <summary>Starting address (read address for FC 17, reference address for FC 16, output address for FC 05/06).</summary>
    public ushort Address { get; }

    /// <summary>Quantity read (FC 01-04, read part of FC 17) or written (FC 0F, 10); 1 for FC 05/06/16.</summary>
    public ushort Count { get; }

    /// <summary>FC 06: the register value; FC 05: 0xFF00 (on) or 0x0000 (off).</summary>
    public ushort Value { get; }

    /// <summary>FC 16 AND mask.</summary>
    public ushort AndMask { get; }

    /// <summary>FC 16 OR mask.</summary>
    public ushort OrMask { get; }

    /// <summary>FC 17 write starting address.</summary>
    public ushort WriteAddress { get; }

    /// <summary>FC 10 and FC 17 register values to write.</summary>
    public ReadOnlyMemory<ushort> Registers { get; }

    /// <summary>FC 0F coil values to write.</summary>
    public ReadOnlyMemory<bool> Coils { get; }

    /// <summary>FC 2B/0E read device ID code: 1 basic, 2 regular, 3 extended (stream access), 4 one object.</summary>
    public byte ReadDeviceIdCode { get; }

    /// <summary>FC 2B/0E first object id to read.</summary>
    public byte ObjectId { get; }

    /// <summary>FC 05: the coil state.</summary>
    public bool CoilValue => Value == 0xFF00;

    /// <summary>True for functions that change the slave's data (accepted as broadcast on a serial line).</summary>
    public bool IsWrite => Function is ModbusFunctionCode.WriteSingleCoil or ModbusFunctionCode.WriteSingleRegister
        or ModbusFunctionCode.WriteMultipleCoils or ModbusFunctionCode.WriteMultipleRegisters
        or ModbusFunctionCode.MaskWriteRegister;

    /// <summary>FC 01.</summary>
    public static ModbusRequest ReadCoils(ushort address, ushort count) =>
        Read(ModbusFunctionCode.ReadCoils, address, count, ModbusLimits.MaxReadBits);

    /// <summary>FC 02.</summary>
    public static ModbusRequest ReadDiscreteInputs(ushort address, ushort count) =>
        Read(ModbusFunctionCode.ReadDiscreteInputs, address, count, ModbusLimits.MaxReadBits);

    /// <summary>FC 03.</summary>
    public static ModbusRequest ReadHoldingRegisters(ushort address, ushort count) =>
        Read(ModbusFunctionCode.ReadHoldingRegisters, address, count, ModbusLimits.MaxReadRegisters);

    /// <summary>FC 04.</summary>
    public static ModbusRequest ReadInputRegisters(ushort address, ushort count) =>
        Read(ModbusFunctionCode.ReadInputRegisters, address, count, ModbusLimits.MaxReadRegisters);

    /// <summary>FC 05.</summary>
    public static ModbusRequest WriteSingleCoil(ushort address, bool value) =>
        new(ModbusFunctionCode.WriteSingleCoil, address, 1, value ? (ushort)0xFF00 : (ushort)0x0000);

    /// <summary>FC 06.</summary>
    public static ModbusRequest WriteSingleRegister(ushort address, ushort value) =>
        new(ModbusFunctionCode.WriteSingleRegister, address, 1, value);

    /// <summary>FC 0F.</summary>
    public static ModbusRequest WriteMultipleCoils(ushort address, ReadOnlyMemory<bool> values)
    {
        CheckQuantity(values.Length, ModbusLimits.MaxWriteBits, address, nameof(values));
        return new(ModbusFunctionCode.WriteMultipleCoils, address, (ushort)values.Length, coils: values);
    }

    /// <summary>FC 10.</summary>
    public static ModbusRequest WriteMultipleRegisters(ushort address, ReadOnlyMemory<ushort> values)
    {
        CheckQuantity(values.Length, ModbusLimits.MaxWriteRegisters, address, nameof(values));
        return new(ModbusFunctionCode.WriteMultipleRegisters, address, (ushort)values.Length, registers: values);
    }

    /// <summary>FC 16: result = (current AND andMask) OR (orMask AND NOT andMask).</summary>
    public static ModbusRequest MaskWriteRegister(ushort address, ushort andMask, ushort orMask) =>
        new(ModbusFunctionCode.MaskWriteRegister, address, 1, andMask: andMask, orMask: orMask);

    /// <summary>FC 17: writes <paramref name="values"/> at <paramref name="writeAddress"/>, then reads.</summary>
    public static ModbusRequest ReadWriteMultipleRegisters(ushort readAddress, ushort readCount, ushort writeAddress,
        ReadOnlyMemory<ushort> values)
    {
        CheckQuantity(readCount, ModbusLimits.MaxReadWriteReadRegisters, readAddress, nameof(readCount));
        CheckQuantity(values.Length, ModbusLimits.MaxReadWriteWriteRegisters, writeAddress, nameof(values));
        return new(ModbusFunctionCode.ReadWriteMultipleRegisters, readAddress, readCount, writeAddress: writeAddress,
            registers: values);
    }

    /// <summary>FC 11, Report Server ID (section 6.13): the PDU is the function code alone.</summary>
    public static ModbusRequest ReportServerId() => new(ModbusFunctionCode.ReportServerId, 0, 0);

    /// <summary>FC 2B / MEI 0E.</summary>
    public static ModbusRequest ReadDeviceIdentification(byte readDeviceIdCode, byte objectId)
    {
        if (readDeviceIdCode is < 1 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(readDeviceIdCode), readDeviceIdCode,
                "Read device ID code is 1 (basic), 2 (regular), 3 (extended) or 4 (one object) (spec V1.1b3 section 6.21).");
        }

        return new(ModbusFunctionCode.EncapsulatedInterfaceTransport, 0, 0, readDeviceIdCode: readDeviceIdCode,
            objectId: objectId);
    }

    /// <summary>Length of the encoded PDU in bytes.</summary>
    public int EncodedLength => Function switch
    {
        ModbusFunctionCode.WriteMultipleCoils => 6 + ((Count + 7) / 8),
        ModbusFunctionCode.WriteMultipleRegisters => 6 + (2 * Count),
        ModbusFunctionCode.MaskWriteRegister => 7,
        ModbusFunctionCode.ReadWriteMultipleRegisters => 10 + (2 * Registers.Length),
        ModbusFunctionCode.EncapsulatedInterfaceTransport => 4,
        ModbusFunctionCode.ReportServerId => 1,
        _ => 5,
    };

    /// <summary>
    /// Length of the normal (non-exception) response PDU, or -1 when only the response itself tells (FC 11, FC 2B/0E).
    /// A serial master uses it to know when a response is complete.
    /// </summary>
    public int ExpectedResponseLength => Function switch
    {
        ModbusFunctionCode.ReadCoils or ModbusFunctionCode.ReadDiscreteInputs => 2 + ((Count + 7) / 8),
        ModbusFunctionCode.ReadHoldingRegisters or ModbusFunctionCode.ReadInputRegisters
            or ModbusFunctionCode.ReadWriteMultipleRegisters => 2 + (2 * Count),
        ModbusFunctionCode.MaskWriteRegister => 7,
        ModbusFunctionCode.EncapsulatedInterfaceTransport or ModbusFunctionCode.ReportServerId => -1,
        _ => 5,
    };

    /// <summary>Writes the PDU into <paramref name="destination"/> and returns its length.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="EncodedLength"/>.</exception>
    public int Encode(Span<byte> destination)
    {
        var length = EncodedLength;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination needs {length} bytes for this request.", nameof(destination));
        }

        destination[0] = (byte)Function;
        switch (Function)
        {
            case ModbusFunctionCode.WriteSingleCoil:
            case ModbusFunctionCode.WriteSingleRegister:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Value);
                break;
            case ModbusFunctionCode.WriteMultipleCoils:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Count);
                destination[5] = (byte)((Count + 7) / 8);
                ModbusBits.Pack(Coils.Span, destination.Slice(6, destination[5]));
                break;
            case ModbusFunctionCode.WriteMultipleRegisters:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Count);
                destination[5] = (byte)(2 * Count);
                ModbusBits.WriteRegisters(Registers.Span, destination[6..]);
                break;
            case ModbusFunctionCode.MaskWriteRegister:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], AndMask);
                BinaryPrimitives.WriteUInt16BigEndian(destination[5..], OrMask);
                break;
            case ModbusFunctionCode.ReadWriteMultipleRegisters:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Count);
                BinaryPrimitives.WriteUInt16BigEndian(destination[5..], WriteAddress);
                BinaryPrimitives.WriteUInt16BigEndian(destination[7..], (ushort)Registers.Length);
                destination[9] = (byte)(2 * Registers.Length);
                ModbusBits.WriteRegisters(Registers.Span, destination[10..]);
                break;
            case ModbusFunctionCode.EncapsulatedInterfaceTransport:
                destination[1] = ModbusLimits.MeiReadDeviceIdentification;
                destination[2] = ReadDeviceIdCode;
                destination[3] = ObjectId;
                break;
            case ModbusFunctionCode.ReportServerId:
                break;
            default:
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Address);
                BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Count);
                break;
        }

        return length;
    }

    /// <summary>Encodes the PDU into a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[EncodedLength];
        Encode(bytes);
        return bytes;
    }

    /// <summary>
    /// Decodes a request PDU as a server receives it. Never throws: a request the specification says to refuse comes
    /// back as <see cref="ModbusRequestDecodeStatus.Exception"/> with the code to answer (section 6, each function's
    /// state diagram: 01 unknown function, 03 quantity or byte count out of range); one too short or too long to
    /// answer as <see cref="ModbusRequestDecodeStatus.Malformed"/>.
    /// </summary>
    /// <remarks>
    /// <para>Address ranges (exception 02) are the data store's business, not the decoder's.</para>
    /// <para>For <see cref="ModbusRequestDecodeStatus.Malformed"/>, <paramref name="exceptionCode"/> still names the
    /// answer for a server whose transport bounds the frame (an MBAP length, a checksum-valid serial frame), as
    /// libmodbus's server answers: 03 Illegal Data Value when the PDU's length disagrees with its function's fixed
    /// size or its own byte count (spec V1.1b3 section 4.1, and e.g. the FC 10 state diagram of section 6.12), 01
    /// Illegal Function for function code 0 or one with the exception bit set (section 7). An empty PDU has no function
    /// to answer.</para>
    /// </remarks>
    public static ModbusRequestDecodeStatus TryDecode(ReadOnlySpan<byte> pdu, out ModbusRequest request,
        out ModbusExceptionCode exceptionCode)
    {
        var status = TryDecodeCore(pdu, out request, out exceptionCode);
        if (status == ModbusRequestDecodeStatus.Malformed && pdu.Length > 0)
        {
            exceptionCode = pdu[0] == 0 || (pdu[0] & 0x80) != 0
                ? ModbusExceptionCode.IllegalFunction
                : ModbusExceptionCode.IllegalDataValue;
        }

        return status;
    }

    private static ModbusRequestDecodeStatus TryDecodeCore(ReadOnlySpan<byte> pdu, out ModbusRequest request,
        out ModbusExceptionCode exceptionCode)
    {
        request = default;
        exceptionCode = default;
        if (pdu.Length == 0 || pdu.Length > ModbusLimits.MaxPduLength)
        {
            return ModbusRequestDecodeStatus.Malformed;
        }

        var function = (ModbusFunctionCode)pdu[0];
        switch (function)
        {
            case ModbusFunctionCode.ReadCoils:
            case ModbusFunctionCode.ReadDiscreteInputs:
            case ModbusFunctionCode.ReadHoldingRegisters:
            case ModbusFunctionCode.ReadInputRegisters:
            {
                if (pdu.Length != 5)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                var address = U16(pdu, 1);
                var count = U16(pdu, 3);
                var max = function is ModbusFunctionCode.ReadCoils or ModbusFunctionCode.ReadDiscreteInputs
                    ? ModbusLimits.MaxReadBits
                    : ModbusLimits.MaxReadRegisters;
                if (count < 1 || count > max)
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                request = new ModbusRequest(function, address, count);
                return ModbusRequestDecodeStatus.Ok;
            }

            case ModbusFunctionCode.WriteSingleCoil:
            case ModbusFunctionCode.WriteSingleRegister:
            {
                if (pdu.Length != 5)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                var value = U16(pdu, 3);
                if (function == ModbusFunctionCode.WriteSingleCoil && value is not (0x0000 or 0xFF00))
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                request = new ModbusRequest(function, U16(pdu, 1), 1, value);
                return ModbusRequestDecodeStatus.Ok;
            }

            case ModbusFunctionCode.WriteMultipleCoils:
            {
                if (pdu.Length < 6 || pdu.Length != 6 + pdu[5])
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                var count = U16(pdu, 3);
                if (count < 1 || count > ModbusLimits.MaxWriteBits || pdu[5] != (count + 7) / 8)
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                var coils = new bool[count];
                ModbusBits.Unpack(pdu.Slice(6, pdu[5]), coils);
                request = new ModbusRequest(function, U16(pdu, 1), count, coils: coils);
                return ModbusRequestDecodeStatus.Ok;
            }

            case ModbusFunctionCode.WriteMultipleRegisters:
            {
                if (pdu.Length < 6 || pdu.Length != 6 + pdu[5])
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                var count = U16(pdu, 3);
                if (count < 1 || count > ModbusLimits.MaxWriteRegisters || pdu[5] != 2 * count)
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                request = new ModbusRequest(function, U16(pdu, 1), count,
                    registers: ModbusBits.ReadRegisters(pdu.Slice(6, 2 * count)));
                return ModbusRequestDecodeStatus.Ok;
            }

            case ModbusFunctionCode.MaskWriteRegister:
                if (pdu.Length != 7)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                request = new ModbusRequest(function, U16(pdu, 1), 1, andMask: U16(pdu, 3), orMask: U16(pdu, 5));
                return ModbusRequestDecodeStatus.Ok;

            case ModbusFunctionCode.ReadWriteMultipleRegisters:
            {
                if (pdu.Length < 10 || pdu.Length != 10 + pdu[9])
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                var readCount = U16(pdu, 3);
                var writeCount = U16(pdu, 7);
                if (readCount < 1 || readCount > ModbusLimits.MaxReadWriteReadRegisters
                    || writeCount < 1 || writeCount > ModbusLimits.MaxReadWriteWriteRegisters
                    || pdu[9] != 2 * writeCount)
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                request = new ModbusRequest(function, U16(pdu, 1), readCount, writeAddress: U16(pdu, 5),
                    registers: ModbusBits.ReadRegisters(pdu.Slice(10, 2 * writeCount)));
                return ModbusRequestDecodeStatus.Ok;
            }

            case ModbusFunctionCode.EncapsulatedInterfaceTransport:
                if (pdu.Length < 2)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                if (pdu[1] != ModbusLimits.MeiReadDeviceIdentification)
                {
                    return Refuse(ModbusExceptionCode.IllegalFunction, out exceptionCode);
                }

                if (pdu.Length != 4)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                if (pdu[2] is < 1 or > 4)
                {
                    return Refuse(ModbusExceptionCode.IllegalDataValue, out exceptionCode);
                }

                request = new ModbusRequest(function, 0, 0, readDeviceIdCode: pdu[2], objectId: pdu[3]);
                return ModbusRequestDecodeStatus.Ok;

            case ModbusFunctionCode.ReportServerId:
                // Section 6.13: the request is the function code alone; anything after it contradicts its fixed size.
                if (pdu.Length != 1)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                request = ReportServerId();
                return ModbusRequestDecodeStatus.Ok;

            default:
                // Section 7: an unsupported function code is answered with exception 01. A byte with the top bit set
                // cannot be a request at all (that range is for exception responses).
                if ((pdu[0] & 0x80) != 0 || pdu[0] == 0)
                {
                    return ModbusRequestDecodeStatus.Malformed;
                }

                return Refuse(ModbusExceptionCode.IllegalFunction, out exceptionCode);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Function switch
    {
        ModbusFunctionCode.EncapsulatedInterfaceTransport => $"FC 2B/0E code {ReadDeviceIdCode} object {ObjectId}",
        ModbusFunctionCode.ReportServerId => "FC 11 report server id",
        _ => $"FC {(byte)Function:X2} address {Address} count {Count}",
    };

    private static ModbusRequest Read(ModbusFunctionCode function, ushort address, ushort count, int max)
    {
        CheckQuantity(count, max, address, nameof(count));
        return new ModbusRequest(function, address, count);
    }

    private static void CheckQuantity(int count, int max, ushort address, string paramName)
    {
        if (count < 1 || count > max)
        {
            throw new ArgumentOutOfRangeException(paramName, count,
                $"This function moves 1 to {max} items in one request (spec V1.1b3 section 6); split the request.");
        }

        if (address + count > 65536)
        {
            throw new ArgumentOutOfRangeException(paramName, count,
                $"Address {address} + {count} items runs past the end of the 65536-item table.");
        }
    }

    private static ModbusRequestDecodeStatus Refuse(ModbusExceptionCode code, out ModbusExceptionCode exceptionCode)
    {
        exceptionCode = code;
        return ModbusRequestDecodeStatus.Exception;
    }

    private static ushort U16(ReadOnlySpan<byte> pdu, int offset) => BinaryPrimitives.ReadUInt16BigEndian(pdu[offset..]);
}
