using System.Globalization;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Server;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.FieldFaults;

/// <summary>
/// Issue 13, item 4: FC 11 Report Server ID (spec V1.1b3 section 6.13) against pymodbus 3.0, both ways.
/// pymodbus 3.0's server answers byte count, its identity text (vendor-product-revision joined by '-') as the server
/// id, and the run indicator 0xFF last, with no additional data; its client has no report_slave_id helper (only the
/// REPL client does) but <c>client.execute(ReportSlaveIdRequest(unit=N))</c> sends FC 11 and decodes the answer
/// (its "identifier" is every byte after the byte count, its status the last byte).
/// </summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "field-faults")]
public sealed class ReportServerIdPeerTests
{
    [Fact]
    public async Task Our_tcp_and_rtu_masters_read_pymodbus_servers_report()
    {
        var options = new PyModbusServerOptions { VendorName = "Hanoi-IOC", ProductCode = "AQ", Revision = "3.0" };
        await using (var peer = await PyModbusServer.StartTcpAsync(options))
        {
            await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = peer.Port });
            var report = await master.ReportServerIdAsync(1, serverIdLength: null);
            ReportServerIdTests.AssertReport(report, "Hanoi-IOC-AQ-3.0"u8.ToArray(), true, string.Empty);

            // With the default 1-byte server id the run indicator would be 'a' (0x61): a protocol error, not a report.
            await Assert.ThrowsAsync<ModbusProtocolException>(async () => await master.ReportServerIdAsync(1));
        }

        await using var line = await SocatPtyPair.StartAsync();
        await using var rtuPeer = await PyModbusServer.StartRtuAsync(line.PathA, options);
        await using var rtu = ModbusMaster.CreateSerial(new ModbusSerialOptions
        {
            PortName = line.PathB, BaudRate = 9600, Timeout = TimeSpan.FromSeconds(1), Retries = 1,
        });
        var overRtu = await rtu.ReportServerIdAsync(1, serverIdLength: null);
        ReportServerIdTests.AssertReport(overRtu, "Hanoi-IOC-AQ-3.0"u8.ToArray(), true, string.Empty);
    }

    [Fact]
    public async Task Pymodbus_client_reads_our_servers_report_over_tcp_and_rtu()
    {
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.Tcp, null, null, 1);
        slave.Store.SetServerId([0x2A], running: false, "AQ"u8);
        // pymodbus's identifier = server id + run indicator + additional data; its status = the last byte ('Q').
        Assert.Equal("2A004151 False", await RunPyModbusAsync("tcp", slave.Endpoint.Port.ToString(CultureInfo.InvariantCulture), 1));

        await using var line = await SocatPtyPair.StartAsync();
        var units = new Dictionary<byte, ModbusDataStore> { [9] = new() };
        units[9].SetServerId([0x09], running: true, default);
        await using var server = new ModbusServer(units);
        await server.StartSerialAsync(new ModbusSerialOptions { PortName = line.PathA, BaudRate = 9600 });
        Assert.Equal("09FF True", await RunPyModbusAsync("rtu", line.PathB, 9));
    }

    private static async Task<string> RunPyModbusAsync(string mode, string target, byte unit)
    {
        const string Script = """
            import sys, logging
            logging.disable(logging.CRITICAL)
            from pymodbus.client import ModbusTcpClient, ModbusSerialClient
            from pymodbus.other_message import ReportSlaveIdRequest
            from pymodbus.transaction import ModbusRtuFramer
            mode, target, unit = sys.argv[1], sys.argv[2], int(sys.argv[3])
            if mode == "tcp":
                client = ModbusTcpClient("127.0.0.1", port=int(target), timeout=3, retries=0)
            else:
                client = ModbusSerialClient(target, framer=ModbusRtuFramer, baudrate=9600, timeout=3, retries=0)
            client.connect()
            rr = client.execute(ReportSlaveIdRequest(unit=unit))
            if rr is None or rr.isError():
                print("ERROR", rr)
            else:
                print("RESULT", rr.identifier.hex().upper(), rr.status)
            client.close()
            """;
        using var dir = new TempDirectory("pymodbus-fc11");
        var script = dir.File("fc11.py");
        await File.WriteAllTextAsync(script, Script);
        var (exit, output) = await PeerProcess.RunAsync(Tools.Require(Tools.Python, "python3-pymodbus"),
            [script, mode, target, unit.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, output);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        Assert.True(line is not null, output);
        return line["RESULT ".Length..].Trim();
    }
}
