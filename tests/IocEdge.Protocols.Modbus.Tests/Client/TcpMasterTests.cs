using System.Net;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Server;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Client;

/// <summary>Our TCP master against our server on loopback: every function, errors, reconnection, options.</summary>
[Trait("Category", "Unit")]
public sealed class TcpMasterTests
{
    [Fact]
    public async Task Every_function_code_reads_and_writes_the_servers_register_file()
    {
        await using var slave = await LoopbackModbus.StartAsync();
        await using var master = slave.CreateMaster();
        slave.Store.SetDiscreteInputs(100, [true, false, true]);
        slave.Store.SetInputRegisters(30, [301, 302]);

        await master.WriteSingleCoilAsync(1, 7, true);
        await master.WriteMultipleCoilsAsync(1, 10, new[] { true, true, false, true });
        Assert.Equal(new[] { true, false, false, true, true, false, true }, await master.ReadCoilsAsync(1, 7, 7));
        Assert.Equal(new[] { true, false, true }, await master.ReadDiscreteInputsAsync(1, 100, 3));

        await master.WriteSingleRegisterAsync(1, 0, 0x1234);
        await master.WriteMultipleRegistersAsync(1, 1, new ushort[] { 11, 12, 13 });
        Assert.Equal(new ushort[] { 0x1234, 11, 12, 13 }, await master.ReadHoldingRegistersAsync(1, 0, 4));
        Assert.Equal(new ushort[] { 301, 302 }, await master.ReadInputRegistersAsync(1, 30, 2));

        slave.Store.SetHoldingRegisters(4, [0x12]);
        await master.MaskWriteRegisterAsync(1, 4, 0x00F2, 0x0025);
        Assert.Equal(new ushort[] { 0x17 }, slave.Store.GetHoldingRegisters(4, 1)); // spec 6.16's example result

        // FC 17 writes first, then reads (spec 6.17): the read sees the written values.
        var read = await master.ReadWriteMultipleRegistersAsync(1, 0, 3, 1, new ushort[] { 21, 22 });
        Assert.Equal(new ushort[] { 0x1234, 21, 22 }, read);

        slave.Store.SetDeviceIdentification(0x00, "Acme Sondes");
        slave.Store.SetDeviceIdentification(0x02, "2.4.1");
        var identity = await master.ReadDeviceIdentificationAsync(1);
        Assert.Equal("Acme Sondes", identity[0x00]);
        Assert.Equal("2.4.1", identity[0x02]);
        Assert.Equal("2.4.1", (await master.ReadDeviceIdentificationAsync(1, 4, 0x02))[0x02]);
        Assert.Equal(0, slave.Server.ExceptionsSent);
    }

    [Fact]
    public async Task Device_identification_longer_than_one_pdu_is_read_in_several_exchanges()
    {
        await using var slave = await LoopbackModbus.StartAsync();
        await using var master = slave.CreateMaster();
        for (byte id = 0x80; id < 0x88; id++)
        {
            slave.Store.SetDeviceIdentification(id, new string((char)('A' + id - 0x80), 60));
        }

        var objects = await master.ReadDeviceIdentificationAsync(1, 3);
        Assert.Equal(11, objects.Count); // 3 basic + 8 extended objects of 60 characters: > 253 bytes
        Assert.Equal(new string('H', 60), objects[0x87]);
    }

    [Fact]
    public async Task A_refused_address_surfaces_as_a_typed_device_exception()
    {
        await using var slave = await LoopbackModbus.StartAsync();
        slave.Store.MarkNonExistent(RegisterKind.HoldingRegister, 50, 10);
        await using var master = slave.CreateMaster();

        var error = await Assert.ThrowsAsync<ModbusDeviceException>(async () => await master.ReadHoldingRegistersAsync(1, 45, 10));
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, error.Code);
        Assert.Equal(0x03, error.FunctionCode);
        Assert.Equal(new ushort[5], await master.ReadHoldingRegistersAsync(1, 45, 5)); // the link is still fine
        Assert.Equal(1, slave.Server.ExceptionsSent);
    }

    [Fact]
    public async Task An_unknown_unit_on_tcp_is_answered_gateway_target_failed_to_respond()
    {
        await using var slave = await LoopbackModbus.StartAsync();
        await using var master = slave.CreateMaster();
        var error = await Assert.ThrowsAsync<ModbusDeviceException>(async () => await master.ReadHoldingRegistersAsync(42, 0, 1));
        Assert.Equal(ModbusExceptionCode.GatewayTargetDeviceFailedToRespond, error.Code);
    }

    [Fact]
    public async Task A_broken_connection_is_reconnected_by_the_next_call()
    {
        var first = await LoopbackModbus.StartAsync();
        var port = first.Endpoint.Port;
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port });
        first.Store.SetHoldingRegisters(0, [1]);
        Assert.Equal(new ushort[] { 1 }, await master.ReadHoldingRegistersAsync(1, 0, 1));
        await first.DisposeAsync(); // the server goes away and takes the connection with it

        var units = new Dictionary<byte, ModbusDataStore> { [1] = new() };
        units[1].SetHoldingRegisters(0, [2]);
        await using var second = new ModbusServer(units);
        await second.StartTcpAsync(new IPEndPoint(IPAddress.Loopback, port));

        Assert.Equal(new ushort[] { 2 }, await master.ReadHoldingRegistersAsync(1, 0, 1));
    }

    [Fact]
    public async Task Nobody_listening_is_a_connection_error_after_every_retry()
    {
        var port = IocEdge.Testing.FreePort.Next();
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, Retries = 1 });
        var error = await Assert.ThrowsAsync<ModbusConnectionException>(async () => await master.ReadCoilsAsync(1, 0, 1));
        Assert.Contains("2 attempt(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silent_slave_times_out_after_every_retry_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        await using var slave = await LoopbackModbus.StartAsync(faults: ModbusFaultInjector.From(_ => ModbusFault.NoAnswer));
        await using var master = slave.CreateMaster(time, TimeSpan.FromSeconds(1), retries: 2);
        var started = time.GetUtcNow();

        var error = await Assert.ThrowsAsync<ModbusTimeoutException>(() =>
            time.DriveAsync(master.ReadHoldingRegistersAsync(1, 0, 1).AsTask()));

        Assert.Equal(3, error.Attempts);
        Assert.Equal(3, slave.Server.RequestsServed);
        Assert.True(time.GetUtcNow() - started >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_mistaken_for_a_timeout()
    {
        await using var slave = await LoopbackModbus.StartAsync(faults: ModbusFaultInjector.From(_ => ModbusFault.NoAnswer));
        await using var master = slave.CreateMaster(timeout: TimeSpan.FromMinutes(1));
        using var cts = new CancellationTokenSource();
        var call = master.ReadHoldingRegistersAsync(1, 0, 1, cts.Token).AsTask();
        await IocEdge.Testing.Eventually.True(() => slave.Server.RequestsServed == 1, TimeSpan.FromSeconds(10), "the request to arrive");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Theory]
    [InlineData("", 502, "Host")]
    [InlineData("plc", 0, "Port")]
    [InlineData("plc", 70000, "Port")]
    public void Bad_options_are_refused_naming_the_option(string host, int port, string name)
    {
        var error = Assert.Throws<ArgumentException>(() => ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = host, Port = port }));
        Assert.Contains($"ModbusTcpMasterOptions.{name}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_timeout_and_retries_are_refused_naming_the_option()
    {
        Assert.Contains("Timeout", Assert.Throws<ArgumentException>(() =>
            ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "h", Timeout = TimeSpan.Zero })).Message, StringComparison.Ordinal);
        Assert.Contains("Retries", Assert.Throws<ArgumentException>(() =>
            ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "h", Retries = -1 })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_are_port_502_one_second_two_retries()
    {
        var options = new ModbusTcpMasterOptions { Host = "h" };
        Assert.Equal((502, TimeSpan.FromSeconds(1), 2), (options.Port, options.Timeout, options.Retries));
    }
}
