using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Peers;

/// <summary>One register map for every peer test, and the walk through every function code against it.</summary>
internal static class PeerExercise
{
    public static readonly ushort[] Holding = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109];
    public static readonly ushort[] Input = [200, 201, 202, 203, 204];
    public static readonly bool[] Coils = [true, false, true, true, false];
    public static readonly bool[] Discrete = [false, true, true];

    public static PyModbusServerOptions PyModbusOptions(params byte[] units) => new()
    {
        Units = (units.Length == 0 ? [1] : units).ToDictionary(u => u, u => new PyModbusUnit
        {
            HoldingRegisters = Holding.Select(v => (ushort)(v + (1000 * (u - 1)))).ToArray(),
            InputRegisters = Input,
            Coils = Coils,
            DiscreteInputs = Discrete,
        }),
        TableSize = 200,
        VendorName = "Peer Vendor",
        ProductCode = "PV-1",
        Revision = "3.0.0",
    };

    /// <summary>
    /// Every function code of issue 3 against a slave seeded with <see cref="PyModbusOptions"/> for unit
    /// <paramref name="unit"/>; each write is read back through another function.
    /// </summary>
    public static async Task EveryFunctionAsync(IModbusMaster master, byte unit)
    {
        var offset = (ushort)(1000 * (unit - 1));
        // 01, 02, 03, 04
        Assert.Equal(Coils, await master.ReadCoilsAsync(unit, 0, 5));
        Assert.Equal(Discrete, await master.ReadDiscreteInputsAsync(unit, 0, 3));
        Assert.Equal(Holding.Select(v => (ushort)(v + offset)), await master.ReadHoldingRegistersAsync(unit, 0, 10));
        Assert.Equal(Input, await master.ReadInputRegistersAsync(unit, 0, 5));

        // 05, 0F, read back with 01
        await master.WriteSingleCoilAsync(unit, 1, true);
        await master.WriteMultipleCoilsAsync(unit, 10, new[] { true, true, false, true, false, false, false, false, true });
        Assert.Equal(new[] { true, true, true, true, false }, await master.ReadCoilsAsync(unit, 0, 5));
        Assert.Equal(new[] { true, true, false, true, false, false, false, false, true }, await master.ReadCoilsAsync(unit, 10, 9));

        // 06, 10, read back with 03
        await master.WriteSingleRegisterAsync(unit, 20, 0xBEEF);
        await master.WriteMultipleRegistersAsync(unit, 21, new ushort[] { 1, 2, 3, 65535 });
        Assert.Equal(new ushort[] { 0xBEEF, 1, 2, 3, 65535 }, await master.ReadHoldingRegistersAsync(unit, 20, 5));

        // 16: spec 6.16's example, 0x12 AND 0xF2 OR (0x25 AND NOT 0xF2) = 0x17
        await master.WriteSingleRegisterAsync(unit, 30, 0x12);
        await master.MaskWriteRegisterAsync(unit, 30, 0x00F2, 0x0025);
        Assert.Equal(new ushort[] { 0x17 }, await master.ReadHoldingRegistersAsync(unit, 30, 1));

        // 17: write 40-41, read 39-42 in the same request; the write comes first.
        await master.WriteSingleRegisterAsync(unit, 39, 7);
        var read = await master.ReadWriteMultipleRegistersAsync(unit, 39, 4, 40, new ushort[] { 8, 9 });
        Assert.Equal(new ushort[] { 7, 8, 9, 0 }, read);

        // Exception response: past the end of the 200-item table.
        var error = await Assert.ThrowsAsync<ModbusDeviceException>(async () => await master.ReadHoldingRegistersAsync(unit, 195, 10));
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, error.Code);
    }
}
