using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>Scripted faults as a real master sees them: exception codes, silence, late answers, bad checksums.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "devices")]
public sealed class FaultsSeenByClientsTests
{
    private static readonly InstrumentProfile Station = ProfileCatalog.LoadBuiltIn().Get("env-station");
    private static readonly InstrumentProfile Gas = ProfileCatalog.LoadBuiltIn().Get("gas-analyser");

    private static Task<StationSimulator> StartAsync(IPEndPoint? tcp, string? rtu, params SimulatorFault[] faults)
    {
        var options = new StationSimulatorOptions
        {
            Tcp = tcp,
            Serial = rtu is null ? null : new SimulatorSerialOptions(rtu),
            Instruments = { new SimulatedInstrument(Station, 1), new SimulatedInstrument(Gas, 2) },
        };
        foreach (var f in faults)
        {
            options.Faults.Add(f);
        }

        return StationSimulator.StartAsync(options, new FakeTimeProvider(TestProfiles.Afternoon));
    }

    [Fact]
    public async Task An_exception_fault_is_seen_by_mbpoll_and_pymodbus_and_the_other_unit_keeps_answering()
    {
        await using var sim = await StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null,
            SimulatorFault.Exception(1, ModbusExceptionCode.IllegalDataAddress));
        var port = sim.TcpEndPoint!.Port;

        var mbpoll = await SimMbpoll.ReadTcpAsync(port, 1, input: false, 0, 4);
        Assert.NotEqual(0, mbpoll.ExitCode);
        Assert.Empty(mbpoll.Registers);
        Assert.Contains("Illegal data address", mbpoll.Output, StringComparison.OrdinalIgnoreCase);

        var results = await PyModbusClient.ReadTcpAsync(port, [new(1, 3, 0, 4), new(2, 3, 0, 3)]);
        Assert.Equal(2, results[0].ExceptionCode);
        Assert.True(results[1].Ok, PyModbusClient.Describe(results[1]));

        sim.SetFault(SimulatorFault.Exception(1, ModbusExceptionCode.ServerDeviceBusy));
        Assert.Equal(6, (await PyModbusClient.ReadTcpAsync(port, [new(1, 3, 0, 1)]))[0].ExceptionCode);

        sim.ClearFaults(1);
        Assert.True((await PyModbusClient.ReadTcpAsync(port, [new(1, 3, 0, 4)]))[0].Ok);
    }

    [Fact]
    public async Task A_unit_that_does_not_answer_makes_the_client_time_out()
    {
        await using var sim = await StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, SimulatorFault.NoAnswer(2));
        var port = sim.TcpEndPoint!.Port;

        var results = await PyModbusClient.ReadTcpAsync(port, [new(2, 3, 0, 1), new(1, 3, 0, 1)], timeoutSeconds: 1);
        Assert.False(results[0].Ok);
        Assert.Null(results[0].ExceptionCode);
        Assert.Contains("No response", results[0].Error, StringComparison.Ordinal);
        Assert.True(results[0].ElapsedMs >= 950, $"gave up after {results[0].ElapsedMs} ms, before its timeout");

        Assert.True(results[1].Ok, PyModbusClient.Describe(results[1])); // the other unit still answers

        var mbpoll = await SimMbpoll.ReadTcpAsync(port, 2, input: false, 0, 1);
        Assert.NotEqual(0, mbpoll.ExitCode);
        Assert.Contains("timed out", mbpoll.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_delayed_unit_answers_late_but_correctly()
    {
        await using var sim = await StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null,
            SimulatorFault.Delayed(1, TimeSpan.FromMilliseconds(400)));

        var results = await PyModbusClient.ReadTcpAsync(sim.TcpEndPoint!.Port, [new(1, 3, 0, 1), new(2, 3, 0, 1)]);

        Assert.True(results[0].Ok, PyModbusClient.Describe(results[0]));
        Assert.True(results[0].ElapsedMs >= 390, $"answered after {results[0].ElapsedMs} ms");
        Assert.Equal(sim.CurrentValue(1, "pm2_5"), results[0].Registers![0] * 0.1, 6);
        Assert.True(results[1].Ok);
    }

    [Fact]
    public async Task A_bad_crc_on_the_rtu_line_is_rejected_by_mbpoll_and_pymodbus()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using var sim = await StartAsync(null, line.PathA, SimulatorFault.BadCrc(1));

        var bad = await SimMbpoll.ReadRtuAsync(line.PathB, 1, input: false, 0, 4);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Empty(bad.Registers);

        var good = await SimMbpoll.ReadRtuAsync(line.PathB, 2, input: false, 0, 3);
        Assert.True(good.ExitCode == 0, good.Output);
        Assert.Equal(sim.CurrentValue(2, "co"), (short)good.Registers[2], 6);

        var results = await PyModbusClient.ReadRtuAsync(line.PathB, [new(1, 3, 0, 4)], timeoutSeconds: 1);
        Assert.False(results[0].Ok);
    }
}
