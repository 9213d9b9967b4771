using System.Device.Gpio;
using System.Text;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Remote;
using IocEdge.Edge.Sources;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 16, relay outputs commandable the way configuration is (contract §10), on the simulated GPIO chip (levels
/// and their history as the chip would show them): the safe state at start, on loss of link after
/// Gateway:Gpio:OutputLinkLossTimeout (monotonic, on a fake clock), and after a pulse; bad commands refused.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class OutputServiceTests : IAsyncLifetime
{
    private const int CameraPin = 23;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 3, 0, 0, TimeSpan.Zero));
    private readonly SimulatedGpioDriver _chip;
    private readonly OutputService _service;

    public OutputServiceTests()
    {
        _chip = new SimulatedGpioDriver(_time);
        var options = new GatewayOptions
        {
            Id = "gw-relay",
            Gpio = new GpioOptions
            {
                // An active-low relay module (the usual opto-isolated 5 V board): inactive = pin HIGH.
                Outputs = [new GpioOutputOptions { Id = "camera_power", Pin = CameraPin, ActiveLow = true, MaxPulse = TimeSpan.FromMinutes(5) }],
                OutputLinkLossTimeout = TimeSpan.FromSeconds(60),
            },
        };
        _service = new OutputService(Options.Create(options), new Provider(_chip), _time, NullLoggerFactory.Instance);
    }

    private sealed class Provider(SimulatedGpioDriver driver) : IGpioControllerProvider
    {
        public GpioController Open(int chip) => new(driver);
    }

    public Task InitializeAsync() => _service.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _service.StopAsync(CancellationToken.None);
        _service.Dispose();
    }

    private Task<OutputAck?> CommandAsync(string json) => _service.HandleAsync(Encoding.UTF8.GetBytes(json), CancellationToken.None);

    private static string Set(bool active, string output = "camera_power") =>
        $$"""{"v":1,"gateway":"gw-relay","id":"c-1","output":"{{output}}","action":"set","active":{{(active ? "true" : "false")}}}""";

    [Fact]
    public async Task A_held_relay_returns_to_its_safe_state_when_the_link_stays_down_and_not_before()
    {
        Assert.All(_chip.GetOutputHistory(CameraPin), l => Assert.Equal(PinValue.High, l.Value)); // opened safe, no glitch
        _service.LinkUp(null);

        var ack = await CommandAsync(Set(true));
        Assert.Equal(OutputResults.Done, ack!.Result);
        Assert.True(ack.Active);
        Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin)); // energised (active-low)

        // A short outage (reconnected within the timeout) leaves the operator's command in force.
        _service.OnDisconnected();
        _time.Advance(TimeSpan.FromSeconds(59));
        _service.LinkUp(null);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin));

        // A long one: safe exactly at the timeout, counted.
        _service.OnDisconnected();
        _time.Advance(TimeSpan.FromSeconds(59.9));
        Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        await Eventually.True(() => _service.SafeOnLinkLoss == 1, TimeSpan.FromSeconds(5), "the link loss timeout to fire");
        Assert.Equal(PinValue.High, _chip.GetOutput(CameraPin));
        Assert.False(_service.IsActive("camera_power"));
    }

    [Fact]
    public async Task A_pulse_returns_to_safe_by_itself_and_is_cut_short_by_a_lost_link()
    {
        _service.LinkUp(null);
        var ack = await CommandAsync("""{"v":1,"gateway":"gw-relay","id":"c-2","output":"camera_power","action":"pulse","duration_ms":10000}""");
        Assert.Equal(OutputResults.Done, ack!.Result);
        Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin));
        _time.Advance(TimeSpan.FromSeconds(10));
        await Eventually.True(() => _chip.GetOutput(CameraPin) == PinValue.High, TimeSpan.FromSeconds(5), "the pulse to end at the safe level");

        // A 2-minute pulse and the link lost at once: at the 60 s timeout the relay is released, not at 120 s.
        await CommandAsync("""{"v":1,"gateway":"gw-relay","id":"c-3","output":"camera_power","action":"pulse","duration_ms":120000}""");
        _service.OnDisconnected();
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin));
        _time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.True(() => _chip.GetOutput(CameraPin) == PinValue.High, TimeSpan.FromSeconds(5), "the pulse cut short at the link loss timeout");
        Assert.Equal(1, _service.SafeOnLinkLoss);
    }

    [Fact]
    public async Task Commands_the_gateway_cannot_do_are_refused_with_the_reason_and_change_nothing()
    {
        _service.LinkUp(null);
        var unknown = await CommandAsync(Set(true, "siren"));
        Assert.Equal(OutputResults.Refused, unknown!.Result);
        Assert.Contains("camera_power", unknown.Reason, StringComparison.Ordinal); // names the outputs there are

        var tooLong = await CommandAsync("""{"v":1,"gateway":"gw-relay","id":"c-4","output":"camera_power","action":"pulse","duration_ms":600000}""");
        Assert.Equal(OutputResults.Refused, tooLong!.Result);
        Assert.Contains("at most", tooLong.Reason, StringComparison.Ordinal);

        Assert.Null(await CommandAsync("""{"v":1,"gateway":"gw-other","id":"c-5","output":"camera_power","action":"set","active":true}""")); // not ours
        Assert.All(_chip.GetOutputHistory(CameraPin), l => Assert.Equal(PinValue.High, l.Value));
    }

    [Fact]
    public void Output_settings_are_checked_at_start_up_with_one_line_naming_the_key()
    {
        var options = new GatewayOptions
        {
            Id = "gw-a",
            Gpio = new GpioOptions
            {
                // Outputs alone (no inputs): still checked.
                Outputs = [new() { Id = "camera_power", Pin = 23 }, new() { Id = "camera_power", Pin = 23, MaxPulse = TimeSpan.FromHours(2) }],
                OutputLinkLossTimeout = TimeSpan.Zero,
            },
        };

        var failures = new GatewayOptionsValidator(new ProfileSource()).Validate(null, options).Failures!;

        Assert.Contains(failures, f => f.StartsWith("Gateway:Gpio:Outputs:1:Id 'camera_power' is already another output's", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Gpio:Outputs:1:Pin 23 is already used by Gateway:Gpio:Outputs:0", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Gpio:Outputs:1:MaxPulse is 02:00:00", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Gateway:Gpio:OutputLinkLossTimeout is 00:00:00", StringComparison.Ordinal));
        Assert.All(failures, f => Assert.DoesNotContain('\n', f));

        // A misspelt key of an output is found by the file check (the AOT-safe shapes know the new section).
        using var dir = new TempDirectory("outputs-config");
        var path = dir.File("gateway.json");
        File.WriteAllText(path, """{ "Gateway": { "Id": "gw-a", "Gpio": { "Outputs": [ { "Id": "fan", "Pinn": 24 } ] } } }""");
        var ex = Assert.Throws<GatewayConfigurationException>(() => GatewayConfigurationFile.Load(path));
        Assert.Contains(ex.Problems, p => p.Contains("Gateway:Gpio:Outputs:0:Pinn", StringComparison.Ordinal));
    }
}

/// <summary>Issue 16, remote configuration: a pending version that does not start never stops the gateway (contract §9.2).</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class PendingConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new("pending");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_pending_configuration_that_fails_the_start_up_check_is_refused_and_the_one_before_runs()
    {
        static System.Text.Json.Nodes.JsonObject Modbus(string profile) => new()
        {
            ["Modbus"] = new System.Text.Json.Nodes.JsonObject
            {
                ["Links"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["Id"] = "station", ["Transport"] = "Tcp", ["Host"] = "127.0.0.1", ["Port"] = 1502 }),
                ["Devices"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["Id"] = "env1", ["Link"] = "station", ["Profile"] = profile, ["UnitId"] = 1 }),
            },
        };

        var data = Path.Combine(_dir.Path, "data");
        var config = _dir.File("gateway.json");
        File.WriteAllText(config, $$"""{ "Gateway": { "Id": "gw-a", "DataDirectory": "{{data}}" } }""");
        // As a crash between "saved as pending" and the restart would leave it: version 2 (bad) pending over version 1.
        new RemoteConfigFile(data) { Applied = (1, Modbus("env-station")), Pending = (2, Modbus("no-such-profile")), LastVersion = 2 }.Save();

        using var host = GatewayHost.Build(["--config", config]);

        var state = new RemoteConfigFile(data);
        Assert.Null(state.Pending);
        Assert.Equal(1, state.Applied?.Version);
        Assert.Equal((2L, ConfigResults.Refused), (state.Report!.Version, state.Report.Result));
        Assert.Contains("no-such-profile", state.Report.Reason, StringComparison.Ordinal);
        Assert.Equal("env-station", host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Modbus.Devices.Single().Profile);
    }
}
