using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Server;

[Trait("Category", "Unit")]
public sealed class DataStoreTests
{
    private static ModbusRequest Decode(ModbusRequest request)
    {
        Assert.Equal(ModbusRequestDecodeStatus.Ok, ModbusRequest.TryDecode(request.ToArray(), out var decoded, out _));
        return decoded;
    }

    [Fact]
    public void Tables_are_independent_and_span_all_65536_addresses()
    {
        var store = new ModbusDataStore();
        store.SetHoldingRegisters(65534, [1, 2]);
        store.SetInputRegisters(65534, [3, 4]);
        store.SetCoils(65535, [true]);
        Assert.Equal(new ushort[] { 1, 2 }, store.GetHoldingRegisters(65534, 2));
        Assert.Equal(new ushort[] { 3, 4 }, store.GetInputRegisters(65534, 2));
        Assert.Equal(new[] { true }, store.GetCoils(65535, 1));
        Assert.Equal(new[] { false }, store.GetDiscreteInputs(65535, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.GetHoldingRegisters(65535, 2));
    }

    [Fact]
    public void A_read_touching_a_non_existent_range_is_refused_with_illegal_data_address()
    {
        var store = new ModbusDataStore();
        store.MarkNonExistent(RegisterKind.InputRegister, 100, 10);
        var response = new byte[253];
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, store.Execute(Decode(ModbusRequest.ReadInputRegisters(95, 6)), response, out _));
        Assert.Null(store.Execute(Decode(ModbusRequest.ReadInputRegisters(95, 5)), response, out _));
        Assert.Null(store.Execute(Decode(ModbusRequest.ReadHoldingRegisters(100, 5)), response, out _)); // other table
        store.MarkExistent(RegisterKind.InputRegister, 100, 10);
        Assert.Null(store.Execute(Decode(ModbusRequest.ReadInputRegisters(95, 6)), response, out _));
    }

    [Fact]
    public void A_write_into_a_non_existent_range_changes_nothing()
    {
        var store = new ModbusDataStore();
        store.MarkNonExistent(RegisterKind.HoldingRegister, 5, 1);
        var response = new byte[253];
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress,
            store.Execute(Decode(ModbusRequest.WriteMultipleRegisters(3, new ushort[] { 1, 2, 3 })), response, out _));
        Assert.Equal(new ushort[3], store.GetHoldingRegisters(3, 3));
    }

    [Fact]
    public void Modbus_writes_raise_written_with_the_range()
    {
        var store = new ModbusDataStore();
        var seen = new List<(RegisterKind, ushort, int)>();
        store.Written += (_, e) => seen.Add((e.Kind, e.Address, e.Count));
        var response = new byte[253];
        store.Execute(Decode(ModbusRequest.WriteMultipleCoils(8, new[] { true, true })), response, out _);
        store.Execute(Decode(ModbusRequest.ReadWriteMultipleRegisters(0, 1, 20, new ushort[] { 7, 8, 9 })), response, out _);
        store.SetHoldingRegisters(0, [1]); // local sets are not Modbus writes
        Assert.Equal([(RegisterKind.Coil, (ushort)8, 2), (RegisterKind.HoldingRegister, (ushort)20, 3)], seen);
    }

    [Fact]
    public async Task Concurrent_fc17_exchanges_never_see_a_torn_block()
    {
        // Two writers each write a block of 50 equal values with FC 17 and read it back in the same request: the
        // specification's "write before read" in one atomic step means every read is uniform.
        var store = new ModbusDataStore();
        var torn = 0;
        var tasks = Enumerable.Range(1, 2).Select(writer => Task.Run(() =>
        {
            var response = new byte[253];
            var values = Enumerable.Repeat((ushort)writer, 50).ToArray();
            var request = Decode(ModbusRequest.ReadWriteMultipleRegisters(0, 50, 0, values.AsMemory(0, 50)));
            for (var i = 0; i < 2000; i++)
            {
                store.Execute(request, response, out var length);
                var read = ModbusResponse.DecodeRegisters(1, request, response.AsSpan(0, length));
                if (read.Distinct().Count() != 1)
                {
                    Interlocked.Increment(ref torn);
                }
            }
        }));
        await Task.WhenAll(tasks);
        Assert.Equal(0, torn);
    }
}
