using System.Text;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// The register file of one Modbus unit: coils, discrete inputs, input registers and holding registers, 65536 of each,
/// all zero at first. Thread-safe (one lock; every Modbus request is applied atomically, so FC 16 and FC 17 see no
/// torn state). Address ranges can be marked non-existent: a request touching them is refused with exception 02,
/// Illegal Data Address (spec V1.1b3 section 7), as real devices do around gaps in their maps.
/// </summary>
public sealed class ModbusDataStore
{
    private const int TableSize = 65536;
    private readonly Lock _lock = new();
    private readonly bool[] _coils = new bool[TableSize];
    private readonly bool[] _discreteInputs = new bool[TableSize];
    private readonly ushort[] _inputRegisters = new ushort[TableSize];
    private readonly ushort[] _holdingRegisters = new ushort[TableSize];
    private readonly bool[]?[] _missing = new bool[]?[4];
    private readonly SortedDictionary<byte, string> _identification = new()
    {
        [0x00] = "IocEdge",
        [0x01] = "IocEdge.Protocols.Modbus",
        [0x02] = "1.0",
    };

    private byte[]? _serverId;
    private byte _runIndicatorStatus = ModbusServerIdReport.RunIndicatorOn;
    private byte[]? _serverIdAdditionalData;

    /// <summary>Raised after a Modbus request (not a Set* call) changed coils or holding registers, outside the lock.</summary>
    public event EventHandler<ModbusWriteEventArgs>? Written;

    /// <summary>Sets coils from <paramref name="address"/> on.</summary>
    public void SetCoils(ushort address, ReadOnlySpan<bool> values) => Set(_coils, address, values);

    /// <summary>Reads <paramref name="count"/> coils from <paramref name="address"/> on.</summary>
    public bool[] GetCoils(ushort address, int count) => Get(_coils, address, count);

    /// <summary>Sets discrete inputs from <paramref name="address"/> on.</summary>
    public void SetDiscreteInputs(ushort address, ReadOnlySpan<bool> values) => Set(_discreteInputs, address, values);

    /// <summary>Reads <paramref name="count"/> discrete inputs from <paramref name="address"/> on.</summary>
    public bool[] GetDiscreteInputs(ushort address, int count) => Get(_discreteInputs, address, count);

    /// <summary>Sets input registers from <paramref name="address"/> on.</summary>
    public void SetInputRegisters(ushort address, ReadOnlySpan<ushort> values) => Set(_inputRegisters, address, values);

    /// <summary>Reads <paramref name="count"/> input registers from <paramref name="address"/> on.</summary>
    public ushort[] GetInputRegisters(ushort address, int count) => Get(_inputRegisters, address, count);

    /// <summary>Sets holding registers from <paramref name="address"/> on.</summary>
    public void SetHoldingRegisters(ushort address, ReadOnlySpan<ushort> values) => Set(_holdingRegisters, address, values);

    /// <summary>Reads <paramref name="count"/> holding registers from <paramref name="address"/> on.</summary>
    public ushort[] GetHoldingRegisters(ushort address, int count) => Get(_holdingRegisters, address, count);

    /// <summary>Makes <paramref name="count"/> addresses of one table from <paramref name="address"/> on answer exception 02.</summary>
    public void MarkNonExistent(RegisterKind kind, ushort address, int count) => SetMissing(kind, address, count, true);

    /// <summary>Undoes <see cref="MarkNonExistent"/> for a range.</summary>
    public void MarkExistent(RegisterKind kind, ushort address, int count) => SetMissing(kind, address, count, false);

    /// <summary>True when every address of the range exists (is inside the table and not marked non-existent).</summary>
    public bool Exists(RegisterKind kind, ushort address, int count)
    {
        if (count < 0 || address + count > TableSize)
        {
            return false;
        }

        lock (_lock)
        {
            return ExistsLocked(kind, address, count);
        }
    }

    /// <summary>Sets one Read Device Identification object (FC 2B/0E; 0x00 vendor, 0x01 product code, 0x02 revision…).</summary>
    public void SetDeviceIdentification(byte objectId, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > 245)
        {
            throw new ArgumentException("A device identification object holds at most 245 characters (one PDU).", nameof(value));
        }

        lock (_lock)
        {
            _identification[objectId] = value;
        }
    }

    /// <summary>
    /// Sets what this unit answers to Report Server ID (FC 11, spec V1.1b3 section 6.13). Until it is called the answer
    /// is: server id one byte, the unit id the request reached; run indicator ON (0xFF); additional data the device
    /// identification's vendor name, product code and revision (objects 0x00-0x02) joined by spaces, in Latin-1, cut
    /// to fit the PDU.
    /// </summary>
    /// <param name="serverId">Device specific; most devices and masters expect 1 byte.</param>
    /// <param name="running">Run indicator status: true 0xFF (ON), false 0x00 (OFF).</param>
    /// <param name="additionalData">Device specific (often a name or version in ASCII); may be empty.</param>
    /// <exception cref="ArgumentException">Server id + 1 + additional data exceed 251 bytes (one PDU, section 4.1).</exception>
    public void SetServerId(ReadOnlySpan<byte> serverId, bool running, ReadOnlySpan<byte> additionalData)
    {
        var run = running ? ModbusServerIdReport.RunIndicatorOn : ModbusServerIdReport.RunIndicatorOff;
        ModbusResponse.CheckServerIdReport(serverId.Length, run, additionalData.Length);
        lock (_lock)
        {
            _serverId = serverId.ToArray();
            _runIndicatorStatus = run;
            _serverIdAdditionalData = additionalData.ToArray();
        }
    }

    /// <summary>Sets only the run indicator status of the Report Server ID answer (true ON 0xFF, false OFF 0x00).</summary>
    public void SetRunIndicator(bool running)
    {
        lock (_lock)
        {
            _runIndicatorStatus = running ? ModbusServerIdReport.RunIndicatorOn : ModbusServerIdReport.RunIndicatorOff;
        }
    }

    /// <summary>The device identification objects, by id.</summary>
    public IReadOnlyDictionary<byte, string> GetDeviceIdentification()
    {
        lock (_lock)
        {
            return new Dictionary<byte, string>(_identification);
        }
    }

    /// <summary>
    /// Applies one decoded request and writes the response PDU. Returns the exception code to answer instead, or null.
    /// </summary>
    /// <remarks><paramref name="unitId"/> is the unit id this store is hosted under (the default FC 11 server id).</remarks>
    internal ModbusExceptionCode? Execute(in ModbusRequest request, Span<byte> response, out int responseLength,
        byte unitId = 0)
    {
        responseLength = 0;
        ModbusWriteEventArgs? written = null;
        lock (_lock)
        {
            switch (request.Function)
            {
                case ModbusFunctionCode.ReadCoils:
                case ModbusFunctionCode.ReadDiscreteInputs:
                {
                    var kind = request.Function == ModbusFunctionCode.ReadCoils ? RegisterKind.Coil : RegisterKind.DiscreteInput;
                    if (!ExistsLocked(kind, request.Address, request.Count))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    var table = kind == RegisterKind.Coil ? _coils : _discreteInputs;
                    responseLength = ModbusResponse.EncodeBits(response, request.Function, table.AsSpan(request.Address, request.Count));
                    return null;
                }

                case ModbusFunctionCode.ReadHoldingRegisters:
                case ModbusFunctionCode.ReadInputRegisters:
                {
                    var kind = request.Function == ModbusFunctionCode.ReadHoldingRegisters ? RegisterKind.HoldingRegister : RegisterKind.InputRegister;
                    if (!ExistsLocked(kind, request.Address, request.Count))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    var table = kind == RegisterKind.HoldingRegister ? _holdingRegisters : _inputRegisters;
                    responseLength = ModbusResponse.EncodeRegisters(response, request.Function, table.AsSpan(request.Address, request.Count));
                    return null;
                }

                case ModbusFunctionCode.WriteSingleCoil:
                    if (!ExistsLocked(RegisterKind.Coil, request.Address, 1))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    _coils[request.Address] = request.CoilValue;
                    written = new(RegisterKind.Coil, request.Address, 1);
                    break;

                case ModbusFunctionCode.WriteSingleRegister:
                    if (!ExistsLocked(RegisterKind.HoldingRegister, request.Address, 1))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    _holdingRegisters[request.Address] = request.Value;
                    written = new(RegisterKind.HoldingRegister, request.Address, 1);
                    break;

                case ModbusFunctionCode.WriteMultipleCoils:
                    if (!ExistsLocked(RegisterKind.Coil, request.Address, request.Count))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    request.Coils.Span.CopyTo(_coils.AsSpan(request.Address));
                    written = new(RegisterKind.Coil, request.Address, request.Count);
                    break;

                case ModbusFunctionCode.WriteMultipleRegisters:
                    if (!ExistsLocked(RegisterKind.HoldingRegister, request.Address, request.Count))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    request.Registers.Span.CopyTo(_holdingRegisters.AsSpan(request.Address));
                    written = new(RegisterKind.HoldingRegister, request.Address, request.Count);
                    break;

                case ModbusFunctionCode.MaskWriteRegister:
                {
                    if (!ExistsLocked(RegisterKind.HoldingRegister, request.Address, 1))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    // Section 6.16: Result = (Current Contents AND And_Mask) OR (Or_Mask AND (NOT And_Mask)).
                    var current = _holdingRegisters[request.Address];
                    _holdingRegisters[request.Address] = (ushort)((current & request.AndMask) | (request.OrMask & ~request.AndMask));
                    written = new(RegisterKind.HoldingRegister, request.Address, 1);
                    break;
                }

                case ModbusFunctionCode.ReadWriteMultipleRegisters:
                {
                    if (!ExistsLocked(RegisterKind.HoldingRegister, request.WriteAddress, request.Registers.Length)
                        || !ExistsLocked(RegisterKind.HoldingRegister, request.Address, request.Count))
                    {
                        return ModbusExceptionCode.IllegalDataAddress;
                    }

                    // Section 6.17: the write is performed before the read.
                    request.Registers.Span.CopyTo(_holdingRegisters.AsSpan(request.WriteAddress));
                    responseLength = ModbusResponse.EncodeRegisters(response, request.Function,
                        _holdingRegisters.AsSpan(request.Address, request.Count));
                    written = new(RegisterKind.HoldingRegister, request.WriteAddress, request.Registers.Length);
                    break;
                }

                case ModbusFunctionCode.ReportServerId:
                    responseLength = ServerIdReport(response, unitId);
                    break;

                case ModbusFunctionCode.EncapsulatedInterfaceTransport:
                {
                    var code = DeviceIdentification(request, response, out responseLength);
                    if (code is not null)
                    {
                        return code;
                    }

                    break;
                }

                default:
                    return ModbusExceptionCode.IllegalFunction;
            }

            if (responseLength == 0)
            {
                responseLength = ModbusResponse.EncodeWriteResponse(response, request);
            }
        }

        if (written is not null)
        {
            Written?.Invoke(this, written);
        }

        return null;
    }

    private int ServerIdReport(Span<byte> response, byte unitId)
    {
        if (_serverId is not null)
        {
            return ModbusResponse.EncodeServerIdReport(response, _serverId, _runIndicatorStatus, _serverIdAdditionalData);
        }

        // Default: the unit id as a 1-byte server id, then the identification text (cut to the PDU's 251 data bytes).
        var text = string.Join(' ', _identification.Where(o => o.Key <= 0x02).Select(o => o.Value));
        Span<byte> additional = stackalloc byte[ModbusLimits.MaxServerIdReportDataLength - 2];
        var length = Encoding.Latin1.GetBytes(text.AsSpan(0, Math.Min(text.Length, additional.Length)), additional);
        return ModbusResponse.EncodeServerIdReport(response, [unitId], _runIndicatorStatus, additional[..length]);
    }

    private ModbusExceptionCode? DeviceIdentification(in ModbusRequest request, Span<byte> response, out int responseLength)
    {
        responseLength = 0;
        // Section 6.21: code 1 basic (0x00-0x02), 2 regular (up to 0x7F), 3 extended (up to 0xFF), 4 one object.
        var last = request.ReadDeviceIdCode switch { 1 => 0x02, 2 => 0x7F, _ => 0xFF };
        var conformity = (byte)(0x80 | (_identification.Keys.Any(k => k > 0x7F) ? 3 : _identification.Keys.Any(k => k > 0x02) ? 2 : 1));
        List<KeyValuePair<byte, string>> objects;
        if (request.ReadDeviceIdCode == 4)
        {
            if (!_identification.TryGetValue(request.ObjectId, out var value))
            {
                return ModbusExceptionCode.IllegalDataAddress;
            }

            objects = [new(request.ObjectId, value)];
        }
        else
        {
            // An object id the device does not have restarts the stream at object 0 (section 6.21).
            var first = _identification.ContainsKey(request.ObjectId) && request.ObjectId <= last ? request.ObjectId : 0;
            objects = _identification.Where(o => o.Key >= first && o.Key <= last).ToList();
        }

        responseLength = ModbusResponse.EncodeDeviceIdentification(response, request.ReadDeviceIdCode, conformity, objects);
        return null;
    }

    private bool ExistsLocked(RegisterKind kind, int address, int count)
    {
        if (count < 0 || address + count > TableSize)
        {
            return false;
        }

        var missing = _missing[(int)kind];
        return missing is null || missing.AsSpan(address, count).IndexOf(true) < 0;
    }

    private void SetMissing(RegisterKind kind, ushort address, int count, bool value)
    {
        CheckRange(address, count);
        lock (_lock)
        {
            var missing = _missing[(int)kind] ??= new bool[TableSize];
            missing.AsSpan(address, count).Fill(value);
        }
    }

    private void Set<T>(T[] table, ushort address, ReadOnlySpan<T> values)
    {
        CheckRange(address, values.Length);
        lock (_lock)
        {
            values.CopyTo(table.AsSpan(address));
        }
    }

    private T[] Get<T>(T[] table, ushort address, int count)
    {
        CheckRange(address, count);
        lock (_lock)
        {
            return table.AsSpan(address, count).ToArray();
        }
    }

    private static void CheckRange(ushort address, int count)
    {
        if (count < 0 || address + count > TableSize)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"Address {address} + {count} items runs past the end of the 65536-item table.");
        }
    }
}

/// <summary>Which items a Modbus write request changed.</summary>
public sealed class ModbusWriteEventArgs : EventArgs
{
    public ModbusWriteEventArgs(RegisterKind kind, ushort address, int count)
    {
        Kind = kind;
        Address = address;
        Count = count;
    }

    /// <summary>Coils or holding registers.</summary>
    public RegisterKind Kind { get; }

    /// <summary>First address written.</summary>
    public ushort Address { get; }

    /// <summary>Number of items written.</summary>
    public int Count { get; }
}
