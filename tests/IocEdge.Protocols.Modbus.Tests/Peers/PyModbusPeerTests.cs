using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Peers;

/// <summary>
/// Our masters against pymodbus 3.0, a Modbus server we did not write: as a TCP server, and as an RTU server on one end
/// of a socat pty pair with our serial master (System.IO.Ports) on the other. pymodbus 3.0 implements every function
/// code of issue 3 (01-06, 0F, 10, 16, 17, 2B/0E).
/// </summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "modbus")]
public sealed class PyModbusPeerTests
{
    [Fact]
    public async Task Every_function_code_against_pymodbus_tcp()
    {
        await using var peer = await PyModbusServer.StartTcpAsync(PeerExercise.PyModbusOptions());
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions
        {
            Host = "127.0.0.1",
            Port = peer.Port,
            Timeout = TimeSpan.FromSeconds(3),
        });

        await PeerExercise.EveryFunctionAsync(master, 1);
        var identity = await master.ReadDeviceIdentificationAsync(1);
        Assert.Equal("Peer Vendor", identity[0x00]);
        Assert.Equal("PV-1", identity[0x01]);
        Assert.Equal("3.0.0", identity[0x02]);
    }

    [Fact]
    public async Task Every_function_code_against_pymodbus_rtu_on_a_pty()
    {
        // 8N1: pymodbus 3.0's serial transport cannot open a pty with even parity here (EINVAL); other character
        // formats are proven against mbpoll (MbpollPeerTests).
        await using var line = await SocatPtyPair.StartAsync();
        await using var peer = await PyModbusServer.StartRtuAsync(line.PathA, PeerExercise.PyModbusOptions(1, 2));
        await using var master = ModbusMaster.CreateSerial(new ModbusSerialOptions
        {
            PortName = line.PathB,
            BaudRate = 9600,
            Timeout = TimeSpan.FromSeconds(3),
        });

        await WaitUntilAnsweringAsync(master, 1);
        await PeerExercise.EveryFunctionAsync(master, 1);
        // A second slave on the same line, through the same master.
        await PeerExercise.EveryFunctionAsync(master, 2);
        var identity = await master.ReadDeviceIdentificationAsync(2);
        Assert.Equal("Peer Vendor", identity[0x00]);
    }

    /// <summary>pymodbus reports the port open slightly before it reads it: wait for a first answer (another process).</summary>
    internal static Task WaitUntilAnsweringAsync(IModbusMaster master, byte unit) =>
        Eventually.True(async () =>
        {
            try
            {
                await master.ReadHoldingRegistersAsync(unit, 0, 1);
                return true;
            }
            catch (ModbusException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), "the RTU peer to answer");
}
