using IocEdge.Protocols.Modbus.Tests.Server;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.FieldFaults;

/// <summary>
/// Issue 13, item 3, against a real client: pymodbus 3.0 reading with slave=0xFF (libmodbus's default for TCP) and
/// slave=0 reaches our single-unit TCP server (Implementation Guide V1.0b section 4.4.2.2).
/// </summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "field-faults")]
public sealed class DirectTcpUnitPeerTests
{
    [Fact]
    public async Task Pymodbus_reads_a_single_unit_server_as_unit_ff_and_0()
    {
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.Tcp, null, null, 1);
        slave.Store.SetHoldingRegisters(0x160, [0xBEEF, 0x0102]);

        var results = await PyModbusClient.ReadTcpAsync(slave.Endpoint.Port,
            [new PyModbusRead(0xFF, 3, 0x160, 2), new PyModbusRead(0, 3, 0x160, 2)]);

        Assert.All(results, r => Assert.True(r.Ok, r.Error ?? $"exception {r.ExceptionCode}"));
        Assert.All(results, r => Assert.Equal(new ushort[] { 0xBEEF, 0x0102 }, r.Registers));
    }
}
