using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>
/// The simulator serves every built-in profile (units 1-4 on one server) to masters we did not write: pymodbus 3.0 and
/// mbpoll, over Modbus TCP and over RTU on a socat pty pair. The test decodes what they read with the profile's type,
/// byte order and scale, and compares with <see cref="StationSimulator.CurrentValue"/> within the quantisation.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "devices")]
public sealed class ServesProfilesToRealClientsTests
{
    private static readonly ProfileCatalog Catalog = ProfileCatalog.LoadBuiltIn();

    private static (InstrumentProfile Profile, byte Unit)[] AllProfiles() =>
        Catalog.Profiles.Select((p, i) => (p, (byte)(i + 1))).ToArray();

    private static StationSimulatorOptions Options(IPEndPoint? tcp = null, string? rtu = null)
    {
        var options = new StationSimulatorOptions { Tcp = tcp, Seed = 11, UpdatePeriod = TimeSpan.FromSeconds(1) };
        if (rtu is not null)
        {
            options.Serial = new SimulatorSerialOptions(rtu);
        }

        foreach (var (profile, unit) in AllProfiles())
        {
            options.Instruments.Add(new SimulatedInstrument(profile, unit));
        }

        return options;
    }

    private static IEnumerable<(InstrumentProfile Profile, byte Unit, ProfilePoint Point)> Points() =>
        AllProfiles().SelectMany(x => x.Profile.Points.Select(p => (x.Profile, x.Unit, p)));

    private static void AssertServed(StationSimulator sim, byte unit, ProfilePoint point, ushort[] registers, string client)
    {
        var label = $"{client}: unit {unit} {point.Name} ({point.Register} {point.Address})";
        Assert.True(registers.Length >= point.RegisterCount, $"{label}: got {registers.Length} registers");
        if (point.Type == ModbusDataType.String)
        {
            Assert.Equal(sim.CurrentText(unit, point.Name), TestProfiles.DecodeText(registers));
            return;
        }

        var expected = sim.CurrentValue(unit, point.Name);
        var decoded = TestProfiles.Decode(point, registers);
        Assert.True(Math.Abs(decoded - expected) <= TestProfiles.Tolerance(point, expected),
            $"{label}: decoded {decoded}, simulator serves {expected}");
        Assert.InRange(decoded, point.Min - TestProfiles.Tolerance(point, expected), point.Max + TestProfiles.Tolerance(point, expected));
    }

    [Fact]
    public async Task Every_profile_is_served_to_pymodbus_over_tcp()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon.AddMinutes(17));
        await using var sim = await StationSimulator.StartAsync(Options(new IPEndPoint(IPAddress.Loopback, 0)), time);
        var points = Points().ToList();

        var results = await PyModbusClient.ReadTcpAsync(sim.TcpEndPoint!.Port,
            points.Select(x => new PyModbusRead(x.Unit, x.Point.Register == RegisterKind.InputRegister ? 4 : 3, x.Point.Address, x.Point.RegisterCount)));

        Assert.Equal(points.Count, results.Count);
        foreach (var ((_, unit, point), result) in points.Zip(results))
        {
            Assert.True(result.Ok, $"pymodbus: unit {unit} {point.Name}: {PyModbusClient.Describe(result)}");
            AssertServed(sim, unit, point, result.Registers!, "pymodbus");
        }

        // The values are the Vietnamese urban levels the foundation promised, at 14:17 local time.
        Assert.InRange(sim.CurrentValue(1, "pm2_5"), 15, 85);
        Assert.InRange(sim.CurrentValue(1, "temperature"), 24, 35);
        Assert.InRange(sim.CurrentValue(1, "humidity"), 55, 95);
    }

    [Fact]
    [Trait("Acceptance", "field-faults")]
    public async Task Report_server_id_names_each_units_instrument_profile()
    {
        // Issue 13 item 4: FC 11 (spec V1.1b3 section 6.13) answers server id = unit id, run indicator ON (0xFF),
        // additional data = "profile-id: Name (Manufacturer Model)".
        await using var sim = await StationSimulator.StartAsync(Options(new IPEndPoint(IPAddress.Loopback, 0)),
            new FakeTimeProvider(TestProfiles.Afternoon));
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = sim.TcpEndPoint!.Port });
        foreach (var (profile, unit) in AllProfiles())
        {
            var report = await master.ReportServerIdAsync(unit);
            Assert.Equal([unit], report.ServerId);
            Assert.True(report.IsRunning);
            Assert.StartsWith($"{profile.Id}: {profile.Name}", report.AdditionalText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_profile_is_served_to_mbpoll_over_tcp()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon.AddHours(9));
        await using var sim = await StationSimulator.StartAsync(Options(new IPEndPoint(IPAddress.Loopback, 0)), time);

        foreach (var (_, unit, point) in Points())
        {
            var read = await SimMbpoll.ReadTcpAsync(sim.TcpEndPoint!.Port, unit, point.Register == RegisterKind.InputRegister,
                point.Address, point.RegisterCount);
            Assert.True(read.ExitCode == 0, $"mbpoll unit {unit} {point.Name} exited {read.ExitCode}:\n{read.Output}");
            AssertServed(sim, unit, point, read.Registers, "mbpoll");
        }
    }

    [Fact]
    public async Task Every_profile_is_served_over_rtu_on_a_pty_to_mbpoll_and_pymodbus()
    {
        await using var line = await SocatPtyPair.StartAsync();
        var time = new FakeTimeProvider(TestProfiles.Afternoon.AddHours(15));
        await using var sim = await StationSimulator.StartAsync(Options(rtu: line.PathA), time);
        var points = Points().ToList();

        foreach (var (_, unit, point) in points)
        {
            var read = await SimMbpoll.ReadRtuAsync(line.PathB, unit, point.Register == RegisterKind.InputRegister,
                point.Address, point.RegisterCount);
            Assert.True(read.ExitCode == 0, $"mbpoll RTU unit {unit} {point.Name} exited {read.ExitCode}:\n{read.Output}");
            AssertServed(sim, unit, point, read.Registers, "mbpoll RTU");
        }

        var results = await PyModbusClient.ReadRtuAsync(line.PathB,
            points.Select(x => new PyModbusRead(x.Unit, x.Point.Register == RegisterKind.InputRegister ? 4 : 3, x.Point.Address, x.Point.RegisterCount)));
        foreach (var ((_, unit, point), result) in points.Zip(results))
        {
            Assert.True(result.Ok, $"pymodbus RTU: unit {unit} {point.Name}: {PyModbusClient.Describe(result)}");
            AssertServed(sim, unit, point, result.Registers!, "pymodbus RTU");
        }
    }

    [Fact]
    public async Task The_env_station_is_served_in_modbus_ascii_to_pymodbus()
    {
        await using var line = await SocatPtyPair.StartAsync();
        var options = Options();
        options.Serial = new SimulatorSerialOptions(line.PathA) { Mode = ModbusSerialMode.Ascii };
        await using var sim = await StationSimulator.StartAsync(options, new FakeTimeProvider(TestProfiles.Afternoon));
        var station = Catalog.Get("env-station");

        var result = (await PyModbusClient.ReadAsciiAsync(line.PathB, [new PyModbusRead(1, 3, 0, 4)]))[0];

        Assert.True(result.Ok, PyModbusClient.Describe(result));
        foreach (var point in station.Points)
        {
            AssertServed(sim, 1, point, result.Registers![point.Address..], "pymodbus ASCII");
        }
    }

    [Fact]
    public async Task With_refuse_unmapped_a_read_across_a_gap_gets_exception_02_like_a_real_device()
    {
        var options = Options(new IPEndPoint(IPAddress.Loopback, 0));
        options.RefuseUnmappedAddresses = true;
        await using var sim = await StationSimulator.StartAsync(options, new FakeTimeProvider(TestProfiles.Afternoon));
        var port = sim.TcpEndPoint!.Port;

        // gas-analyser (unit 2) maps 0-2 and 5: 3-4 are a gap, as in the AQT530's table.
        var results = await PyModbusClient.ReadTcpAsync(port, [new(2, 3, 0, 3), new(2, 3, 0, 6), new(1, 3, 4, 1)]);

        Assert.True(results[0].Ok, PyModbusClient.Describe(results[0]));
        Assert.Equal(2, results[1].ExceptionCode);
        Assert.Equal(2, results[2].ExceptionCode);
        var mbpoll = await SimMbpoll.ReadTcpAsync(port, 2, input: false, 3, 1);
        Assert.Contains("Illegal data address", mbpoll.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_client_sees_values_move_only_as_simulated_time_moves_and_a_stuck_point_stay()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await StationSimulator.StartAsync(Options(new IPEndPoint(IPAddress.Loopback, 0)), time);
        var port = sim.TcpEndPoint!.Port;
        PyModbusRead[] reads = [new(1, 3, 0, 4)];

        var before = (await PyModbusClient.ReadTcpAsync(port, reads))[0].Registers!;
        sim.SetFault(SimulatorFault.Stuck(1, "temperature"));
        time.Advance(TimeSpan.FromHours(5)); // 19:00 local: PM and humidity move, temperature is stuck
        var after = (await PyModbusClient.ReadTcpAsync(port, reads))[0].Registers!;

        Assert.Equal(before[2], after[2]);
        Assert.NotEqual(before[3], after[3]);
        Assert.Equal(sim.CurrentValue(1, "humidity"), after[3] * 0.1, 6);
    }
}
