using System.Diagnostics;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

[Trait(Traits.Category, Traits.Unit)]
public sealed class CommandLineParsingTests
{
    [Fact]
    public void The_documented_example_parses()
    {
        var run = SimulatorCommandLine.Parse(["--profile", "env-station", "--unit", "1", "--tcp", "127.0.0.1:1502",
            "--fault", "unit=1,kind=exception,code=2"]);

        var options = run.Options!;
        Assert.Equal(SimulatorCommand.Run, run.Command);
        Assert.Equal(("env-station", (byte)1), (options.Instruments[0].Profile.Id, options.Instruments[0].UnitId));
        Assert.Equal(1502, options.Tcp!.Port);
        var fault = Assert.Single(options.Faults);
        Assert.Equal((SimulatorFaultKind.Exception, ModbusExceptionCode.IllegalDataAddress), (fault.Kind, fault.ExceptionCode));
    }

    [Fact]
    public void Several_profiles_take_consecutive_unit_ids_and_rtu_settings_apply()
    {
        var options = SimulatorCommandLine.Parse(["--profile", "env-station", "--profile", "water-sonde", "--unit", "7",
            "--profile", "gas-analyser", "--rtu", "/tmp/ttyV0", "--baud", "19200", "--parity", "E",
            "--fault", "unit=7,kind=drift,per-hour=0.5,point=ph", "--seed", "3"]).Options!;

        Assert.Equal([1, 7, 8], options.Instruments.Select(i => (int)i.UnitId));
        Assert.Null(options.Tcp); // serial only when --tcp is not given
        Assert.Equal((19200, System.IO.Ports.Parity.Even, ModbusSerialMode.Rtu),
            (options.Serial!.Line.BaudRate, options.Serial.Line.Parity, options.Serial.Mode));
        Assert.Equal(0.5, options.Faults[0].DriftPerHour);
        Assert.Equal(3, options.Seed);
    }

    [Fact]
    public void Uart_sensors_can_be_served_alone_or_beside_the_modbus_units()
    {
        var alone = SimulatorCommandLine.Parse(["--pms5003", "/tmp/pmsA", "--sds011", "/tmp/sdsA"]).Options!;
        Assert.Empty(alone.Instruments);
        Assert.Null(alone.Tcp);
        Assert.Equal([SimulatedUartDeviceKind.Pms5003, SimulatedUartDeviceKind.Sds011], alone.UartDevices.Select(d => d.Kind));

        var shared = Assert.Throws<SimulatorUsageException>(() =>
            SimulatorCommandLine.Parse(["--profile", "env-station", "--rtu", "/tmp/x", "--pms5003", "/tmp/x"]));
        Assert.Contains("used twice", shared.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_transport_it_listens_on_loopback_port_1502()
    {
        Assert.Equal("127.0.0.1:1502", SimulatorCommandLine.Parse(["--profile", "env-station"]).Options!.Tcp!.ToString());
    }

    [Theory]
    [InlineData(new[] { "--profile", "nope" }, "Known: env-station")]
    [InlineData(new[] { "--unit", "1" }, "must follow the --profile")]
    [InlineData(new[] { "--profile", "env-station", "--unit", "300" }, "0 to 255")]
    [InlineData(new[] { "--profile", "env-station", "--unit", "250" }, "248-254 are reserved")]
    [InlineData(new[] { "--profile", "env-station", "--unit", "0", "--rtu", "/tmp/ttyV0" }, "broadcast address")]
    [InlineData(new[] { "--profile", "env-station", "--tcp", "localhost" }, "127.0.0.1:1502")]
    [InlineData(new[] { "--profile", "env-station", "--fault", "unit=1,kind=explode" }, "no-answer, bad-crc")]
    [InlineData(new[] { "--profile", "env-station", "--fault", "unit=1,kind=delay" }, "ms=N")]
    [InlineData(new[] { "--profile", "env-station", "--fault", "unit=2,kind=no-answer" }, "does not serve")]
    [InlineData(new[] { "--profile", "env-station", "--fault", "unit=1,kind=stuck,point=pm25" }, "pm2_5")]
    [InlineData(new[] { "--profile", "env-station", "--parity", "X" }, "E (even)")]
    [InlineData(new[] { "--profile", "env-station", "--frobnicate" }, "Unknown argument '--frobnicate'")]
    [InlineData(new[] { "--profile" }, "--profile needs a value")]
    [InlineData(new string[0], "No --profile given")]
    public void Bad_arguments_are_refused_with_a_fix(string[] args, string expected)
    {
        var ex = Assert.Throws<SimulatorUsageException>(() => SimulatorCommandLine.Parse(args));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("Acceptance", "field-faults")]
    [InlineData("255")]
    [InlineData("0")]
    public void A_device_reached_directly_over_tcp_may_be_unit_255_or_0(string unit)
    {
        // Issue 13 item 3; Modbus TCP Implementation Guide V1.0b section 4.4.2.2 (0xFF, or 0, for a direct server).
        var options = SimulatorCommandLine.Parse(["--profile", "env-station", "--unit", unit, "--tcp", "127.0.0.1:1502"]).Options!;
        Assert.Equal(byte.Parse(unit, System.Globalization.CultureInfo.InvariantCulture), options.Instruments[0].UnitId);
    }

    [Fact]
    public void Help_and_list_need_no_profile()
    {
        Assert.Equal(SimulatorCommand.Help, SimulatorCommandLine.Parse(["--help"]).Command);
        var list = SimulatorCommandLine.Parse(["--list-profiles"]);
        var text = SimulatorCommandLine.ListProfiles(list.Catalog!);
        Assert.Contains("weather-station", text, StringComparison.Ordinal);
        Assert.Contains("pm2_5", text, StringComparison.Ordinal);
    }
}

/// <summary>The real iocedge-sim executable: it prints a line when listening, serves mbpoll, and stops on SIGTERM.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "devices")]
public sealed class CommandLineProcessTests
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-sim.dll");

    [Fact]
    public async Task The_cli_serves_mbpoll_with_a_scripted_fault_and_stops_cleanly_on_sigterm()
    {
        var port = FreePort.Next();
        await using var sim = PeerProcess.Start("dotnet", [Dll, "--profile", "env-station", "--unit", "1",
            "--profile", "gas-analyser", "--unit", "2", "--tcp", $"127.0.0.1:{port}", "--fault", "unit=2,kind=exception,code=2"]);
        await Eventually.True(() => sim.Output.Contains($"listening on tcp 127.0.0.1:{port}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "iocedge-sim to print its listening line");

        var ok = await SimMbpoll.ReadTcpAsync(port, 1, input: false, 0, 4);
        Assert.True(ok.ExitCode == 0, ok.Output);
        var pm25 = ok.Registers[0] * 0.1;
        Assert.InRange(pm25, 0, 1000);
        var refused = await SimMbpoll.ReadTcpAsync(port, 2, input: false, 0, 3);
        Assert.Contains("Illegal data address", refused.Output, StringComparison.OrdinalIgnoreCase);

        using (var kill = Process.Start("kill", ["-TERM", sim.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await sim.WaitForExitAsync(cts.Token);
        Assert.Equal(0, sim.ExitCode);
        Assert.Contains("iocedge-sim: stopped", sim.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_arguments_exit_with_2_and_say_what_to_fix()
    {
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--profile", "env-station", "--fault", "unit=1,kind=explode"],
            TimeSpan.FromSeconds(30));

        Assert.Equal(2, exit);
        Assert.Contains("unknown kind 'explode'", output, StringComparison.Ordinal);
        Assert.Contains("--help", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_profiles_prints_every_built_in_profile()
    {
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--list-profiles"], TimeSpan.FromSeconds(30));

        Assert.Equal(0, exit);
        foreach (var profile in ProfileCatalog.LoadBuiltIn().Profiles)
        {
            Assert.Contains(profile.Id, output, StringComparison.Ordinal);
        }
    }
}
