using System.Text.Json;
using IocEdge.Testing;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16, `iocedge read CHANNEL` (one live reading through the gateway's own profile and poller) and `iocedge doctor`
/// (pass/fail table, each failure with its fix, exit 1 when any fails), against pymodbus over TCP and a real MQTT
/// broker (MQTTnet's server, as the aggregator embeds it) that checks credentials.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ReadAndDoctorTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli-doctor");

    public void Dispose() => _dir.Dispose();

    private static async Task<MqttServer> BrokerAsync(int port)
    {
        var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(System.Net.IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        server.ValidatingConnectionAsync += e =>
        {
            if (e.UserName != "gw-test-01" || e.Password != "right")
            {
                e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            }

            return Task.CompletedTask;
        };
        await server.StartAsync();
        return server;
    }

    [Fact]
    public async Task Read_gives_value_unit_and_quality_through_the_profile()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(new() { Units = new Dictionary<byte, PyModbusUnit> { [1] = GatewayFixture.Sonde() } });
        var config = GatewayFixture.Write(_dir, slave.Port, FreePort.Next());

        var r = await Cli.RunAsync("read", "wq1/ph", "--config", config, "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(7.25, doc.RootElement.GetProperty("value").GetDouble());
        Assert.Equal("pH", doc.RootElement.GetProperty("unit").GetString());
        Assert.Equal("good", doc.RootElement.GetProperty("quality").GetString());

        var text = await Cli.RunAsync("read", "wq1/ph", "--config", config);
        Assert.StartsWith("wq1/ph = 7.25 pH (good) at ", text.Out, StringComparison.Ordinal);

        var unknown = await Cli.RunAsync("read", "wq1/nope", "--config", config);
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("'wq1/nope' is not a configured channel. Channels: wq1/ph", unknown.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_of_a_device_that_does_not_answer_is_comm_failure_exit_69()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(new() { Units = new Dictionary<byte, PyModbusUnit> { [1] = GatewayFixture.Sonde() } });
        var config = GatewayFixture.Write(_dir, slave.Port, FreePort.Next(), units: [9]);
        var r = await Cli.RunAsync("read", "wq9/ph", "--config", config);
        Assert.True(r.Exit == 69, r.ToString());
        Assert.Contains("(comm_failure)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_passes_when_everything_answers_and_names_each_failure_with_its_fix()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(new() { Units = new Dictionary<byte, PyModbusUnit> { [1] = GatewayFixture.Sonde() } });
        var mqttPort = FreePort.Next();
        using var broker = await BrokerAsync(mqttPort);
        var flag = _dir.File("synchronized");
        File.WriteAllText(flag, string.Empty);
        var synced = new Cli.Options { TimesyncFlag = flag };

        var good = GatewayFixture.Write(_dir, slave.Port, mqttPort, "gw-test-01", "right");
        var ok = await Cli.RunAsync(synced, "doctor", "--config", good, "--json");
        Assert.True(ok.Exit == 0, ok.ToString());
        using (var doc = JsonDocument.Parse(ok.Out))
        {
            var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
            Assert.Equal(["config", "clock", "disk", "outbox", "modbus wq1", "broker"], checks.Keys);
            Assert.All(checks.Values, c => Assert.Equal("pass", c.GetProperty("status").GetString()));
            Assert.Contains("CONNACK Success (0x00)", checks["broker"].GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Wrong password and a slave that does not answer: two failing rows, each with its fix; exit 1.
        var bad = GatewayFixture.Write(_dir, slave.Port, mqttPort, "gw-test-01", "wrong", units: [1, 9]);
        var r = await Cli.RunAsync(synced, "doctor", "--config", bad, "--json");
        Assert.True(r.Exit == 1, r.ToString());
        using (var doc = JsonDocument.Parse(r.Out))
        {
            var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
            Assert.Equal("pass", checks["modbus wq1"].GetProperty("status").GetString());
            Assert.Equal("fail", checks["modbus wq9"].GetProperty("status").GetString());
            Assert.Contains("iocedge modbus scan --tcp", checks["modbus wq9"].GetProperty("fix").GetString(), StringComparison.Ordinal);
            Assert.Equal("fail", checks["broker"].GetProperty("status").GetString());
            Assert.Contains("BadUserNameOrPassword (0x86)", checks["broker"].GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("Gateway:Mqtt:Username and Password", checks["broker"].GetProperty("fix").GetString(), StringComparison.Ordinal);
        }

        // On a phone (40 columns), no table: one line per check, the fix under each failure; no colour when NO_COLOR.
        var phone = await Cli.RunAsync(new Cli.Options { Width = 40, Tty = true, NoColor = true, TimesyncFlag = flag }, "doctor", "--config", bad);
        Assert.Equal(1, phone.Exit);
        Assert.Contains("FAIL broker: 127.0.0.1:", phone.Out, StringComparison.Ordinal);
        Assert.Contains("  fix: check Gateway:Mqtt:Username", phone.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", phone.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("│", phone.Out, StringComparison.Ordinal);
        Assert.Contains("2 check(s) failed", phone.Out, StringComparison.Ordinal);

        // A wide terminal gets the table, still without colour under NO_COLOR.
        var wide = await Cli.RunAsync(new Cli.Options { Width = 160, Tty = true, NoColor = true, TimesyncFlag = flag }, "doctor", "--config", bad);
        Assert.Contains("| check", wide.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", wide.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_with_an_unreachable_broker_and_an_unknown_clock()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(new() { Units = new Dictionary<byte, PyModbusUnit> { [1] = GatewayFixture.Sonde() } });
        var config = GatewayFixture.Write(_dir, slave.Port, FreePort.Next());
        var r = await Cli.RunAsync("doctor", "--config", config, "--json");
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.Equal("unknown", checks["clock"].GetProperty("status").GetString()); // said honestly, not a failure
        Assert.Equal("fail", checks["broker"].GetProperty("status").GetString());
        Assert.Contains("unreachable", checks["broker"].GetProperty("detail").GetString(), StringComparison.Ordinal);

        var invalid = await Cli.RunAsync("doctor", "--config", _dir.File("missing.json"));
        Assert.Equal(1, invalid.Exit);
        Assert.Contains("FAIL", invalid.Out.ToUpperInvariant(), StringComparison.Ordinal);
    }
}
