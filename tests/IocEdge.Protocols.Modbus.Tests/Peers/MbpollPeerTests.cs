using System.IO.Ports;
using System.Net;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Peers;

/// <summary>
/// mbpoll (libmodbus), a master we did not write, reading and writing OUR server over Modbus TCP and over RTU on a socat
/// pty pair (our server opens one end with System.IO.Ports, mbpoll the other), in several character formats.
/// </summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "modbus")]
public sealed class MbpollPeerTests
{
    private static Dictionary<byte, ModbusDataStore> Units()
    {
        var store = new ModbusDataStore();
        store.SetHoldingRegisters(0, PeerExercise.Holding);
        store.SetInputRegisters(0, PeerExercise.Input);
        store.SetCoils(0, PeerExercise.Coils);
        store.SetDiscreteInputs(0, PeerExercise.Discrete);
        return new Dictionary<byte, ModbusDataStore> { [1] = store, [2] = new ModbusDataStore() };
    }

    /// <summary>Options go before the device/host, values to write after it (mbpoll's syntax).</summary>
    private static async Task<IReadOnlyDictionary<int, long>> PollAsync(string[] link, string[] options, params string[] values)
    {
        // A 5 s response timeout (mbpoll's default is 1 s): over socat's ptys on a loaded CI machine a write timed out.
        var (exit, output) = await Mbpoll.RunAsync(["-o", "5", .. options, .. link, .. values]);
        Assert.True(exit == 0, $"mbpoll exited with {exit}:\n{output}");
        return Mbpoll.ParseValues(output);
    }

    /// <summary>Reads every table and writes holding registers and coils, single and multiple.</summary>
    private static async Task ReadAndWriteAsync(string[] link, ModbusDataStore store)
    {
        var holding = await PollAsync(link, ["-t", "4", "-r", "0", "-c", "10"]);
        Assert.Equal(PeerExercise.Holding.Select(v => (long)v), Enumerable.Range(0, 10).Select(i => holding[i]));
        var input = await PollAsync(link, ["-t", "3", "-r", "0", "-c", "5"]);
        Assert.Equal(PeerExercise.Input.Select(v => (long)v), Enumerable.Range(0, 5).Select(i => input[i]));
        var coils = await PollAsync(link, ["-t", "0", "-r", "0", "-c", "5"]);
        Assert.Equal(PeerExercise.Coils, Enumerable.Range(0, 5).Select(i => coils[i] == 1));
        var discrete = await PollAsync(link, ["-t", "1", "-r", "0", "-c", "3"]);
        Assert.Equal(PeerExercise.Discrete, Enumerable.Range(0, 3).Select(i => discrete[i] == 1));

        await PollAsync(link, ["-t", "4", "-r", "20"], "4321");                 // one register
        await PollAsync(link, ["-t", "4", "-r", "21"], "7", "8", "9");          // several registers
        await PollAsync(link, ["-t", "0", "-r", "30"], "1");                    // one coil
        await PollAsync(link, ["-t", "0", "-r", "31"], "1", "0", "1");          // several coils
        Assert.Equal(new ushort[] { 4321, 7, 8, 9 }, store.GetHoldingRegisters(20, 4));
        Assert.Equal(new[] { true, true, false, true }, store.GetCoils(30, 4));
    }

    [Fact]
    public async Task Mbpoll_reads_and_writes_our_server_over_tcp()
    {
        var units = Units();
        await using var server = new ModbusServer(units);
        var endpoint = await server.StartTcpAsync(new IPEndPoint(IPAddress.Loopback, 0));

        await ReadAndWriteAsync(Mbpoll.Tcp(endpoint.Port, 1), units[1]);

        // A refused range comes back to mbpoll as an exception (libmodbus prints the error and exits non-zero).
        units[1].MarkNonExistent(RegisterKind.HoldingRegister, 100, 1);
        var (exit, output) = await Mbpoll.RunAsync(["-t", "4", "-r", "100", .. Mbpoll.Tcp(endpoint.Port, 1)]);
        Assert.True(exit != 0 || output.Contains("Illegal data address", StringComparison.OrdinalIgnoreCase), output);
        Assert.Equal(1, server.ExceptionsSent);
    }

    [Theory]
    [InlineData(Parity.Even, StopBits.One, "even", 1)]
    [InlineData(Parity.Odd, StopBits.One, "odd", 1)]
    [InlineData(Parity.None, StopBits.Two, "none", 2)]
    [InlineData(Parity.None, StopBits.One, "none", 1)]
    public async Task Mbpoll_reads_and_writes_our_server_over_rtu_on_a_pty(Parity parity, StopBits stopBits, string mbpollParity, int mbpollStop)
    {
        await using var line = await SocatPtyPair.StartAsync();
        var units = Units();
        await using var server = new ModbusServer(units);
        await server.StartSerialAsync(new ModbusSerialOptions
        {
            PortName = line.PathA,
            Mode = ModbusSerialMode.Rtu,
            BaudRate = 19200,
            Parity = parity,
            StopBits = stopBits,
        });

        await ReadAndWriteAsync(Mbpoll.Rtu(line.PathB, 1, 19200, mbpollParity, mbpollStop), units[1]);
        // Unit 2 on the same line answers for itself; unit 3 is another (absent) slave: no answer at all.
        var other = await PollAsync(Mbpoll.Rtu(line.PathB, 2, 19200, mbpollParity, mbpollStop), ["-t", "4", "-r", "0", "-c", "2"]);
        Assert.Equal(0, other[0]);
        var (exit, output) = await Mbpoll.RunAsync(["-t", "4", "-r", "0", "-o", "0.3", .. Mbpoll.Rtu(line.PathB, 3, 19200, mbpollParity, mbpollStop)]);
        Assert.True(exit != 0 || output.Contains("timed out", StringComparison.OrdinalIgnoreCase), output);
    }
}
