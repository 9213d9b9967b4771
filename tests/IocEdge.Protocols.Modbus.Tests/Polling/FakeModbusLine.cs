using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

/// <summary>
/// An in-memory RS-485 line with slaves that behave like devices (MODBUS Application Protocol V1.1b3, sections
/// 6.1-6.4 and 7): each answers from its register file, refuses a quantity outside 1-125 registers / 1-2000 bits with
/// exception 03, and an address outside its map or on a hole of its map with exception 02. A slave can be dead (the
/// master times out), slow, or forced to answer with an exception. Line time passes on the FakeTimeProvider: every
/// exchange advances it by the slave's response time, or by the master's timeout when nobody answers.
/// </summary>
internal sealed class FakeModbusLine(FakeTimeProvider time) : IModbusMaster
{
    private readonly Dictionary<byte, FakeSlave> _slaves = [];

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    public List<(byte Unit, byte Function, ushort Address, ushort Count)> Requests { get; } = [];

    public FakeSlave Add(byte unitId) => _slaves[unitId] = new FakeSlave();

    public FakeSlave this[byte unitId] => _slaves[unitId];

    public int RequestsTo(byte unitId) => Requests.Count(r => r.Unit == unitId);

    public ValueTask<bool[]> ReadCoilsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Exchange(unitId, 0x01, address, count, s => s.Coils);

    public ValueTask<bool[]> ReadDiscreteInputsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Exchange(unitId, 0x02, address, count, s => s.DiscreteInputs);

    public ValueTask<ushort[]> ReadHoldingRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Exchange(unitId, 0x03, address, count, s => s.HoldingRegisters);

    public ValueTask<ushort[]> ReadInputRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Exchange(unitId, 0x04, address, count, s => s.InputRegisters);

    public ValueTask WriteSingleCoilAsync(byte unitId, ushort address, bool value, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask WriteSingleRegisterAsync(byte unitId, ushort address, ushort value, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask WriteMultipleCoilsAsync(byte unitId, ushort address, ReadOnlyMemory<bool> values, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask WriteMultipleRegistersAsync(byte unitId, ushort address, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask MaskWriteRegisterAsync(byte unitId, ushort address, ushort andMask, ushort orMask, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask<ushort[]> ReadWriteMultipleRegistersAsync(byte unitId, ushort readAddress, ushort readCount, ushort writeAddress,
        ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask<IReadOnlyDictionary<byte, string>> ReadDeviceIdentificationAsync(byte unitId, byte readDeviceIdCode = 1, byte objectId = 0,
        CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The poller only reads.");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private ValueTask<T[]> Exchange<T>(byte unitId, byte function, ushort address, ushort count, Func<FakeSlave, T[]> table)
    {
        Requests.Add((unitId, function, address, count));
        if (!_slaves.TryGetValue(unitId, out var slave) || slave.Dead || slave.ResponseTime > Timeout)
        {
            time.Advance(Timeout);
            return ValueTask.FromException<T[]>(new ModbusTimeoutException(unitId, function, Timeout, 1));
        }

        time.Advance(slave.ResponseTime);
        var kind = function switch
        {
            0x01 => RegisterKind.Coil,
            0x02 => RegisterKind.DiscreteInput,
            0x03 => RegisterKind.HoldingRegister,
            _ => RegisterKind.InputRegister,
        };
        var limit = function <= 0x02 ? 2000 : 125;
        ModbusExceptionCode? refusal = slave.ForcedException;
        if (refusal is null && (count < 1 || count > limit))
        {
            refusal = ModbusExceptionCode.IllegalDataValue;
        }

        var values = table(slave);
        if (refusal is null && (address + count > values.Length
                                || Enumerable.Range(address, count).Any(a => slave.Refused.Contains((kind, a)))))
        {
            refusal = ModbusExceptionCode.IllegalDataAddress;
        }

        return refusal is { } code
            ? ValueTask.FromException<T[]>(new ModbusDeviceException(unitId, function, code))
            : ValueTask.FromResult(values.AsSpan(address, count).ToArray());
    }
}

internal sealed class FakeSlave
{
    public ushort[] HoldingRegisters { get; } = new ushort[1000];

    public ushort[] InputRegisters { get; } = new ushort[1000];

    public bool[] Coils { get; } = new bool[1000];

    public bool[] DiscreteInputs { get; } = new bool[1000];

    /// <summary>Addresses inside the map that the device answers with exception 02 (holes in its register map).</summary>
    public HashSet<(RegisterKind Kind, int Address)> Refused { get; } = [];

    public bool Dead { get; set; }

    /// <summary>Line time of one exchange (request + turnaround + response); beyond the master's timeout = no answer.</summary>
    public TimeSpan ResponseTime { get; set; } = TimeSpan.FromMilliseconds(30);

    public ModbusExceptionCode? ForcedException { get; set; }

    public void Set(ushort address, double value, ModbusDataType type, ModbusByteOrder order = ModbusByteOrder.ABCD,
        double scale = 1, double offset = 0) =>
        ModbusValueCodec.Encode(value, type, order, HoldingRegisters.AsSpan(address), scale, offset);
}
