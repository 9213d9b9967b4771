using System.Text;
using IocEdge.Testing;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>Contract §9 (v1.3): the golden configuration payloads decode with the reference codec, and bad ones are refused.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class RemoteConfigContractTests
{
    private static byte[] Golden(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", name));

    [Fact]
    public void The_golden_push_decodes_to_its_version_and_sections()
    {
        Assert.True(ConfigTopics.TryDecodeMessage(Golden("config-push.json"), "gw-01", out var message, out var error), error);
        Assert.Equal(2, message!.Version);
        Assert.Equal(["Modbus", "Mqtt"], message.Config.Select(p => p.Key));
        Assert.All(message.Config.Select(p => p.Key), k => Assert.Contains(k, ConfigTopics.Sections));
    }

    [Theory]
    [InlineData("config-ack-refused.json", "refused", 3)]
    [InlineData("config-ack-rolled-back.json", "rolled_back", 4)]
    public void The_golden_reports_decode(string file, string result, long version)
    {
        Assert.True(ConfigTopics.TryDecodeAck(Golden(file), "gw-01", out var ack, out var error), error);
        Assert.Equal(result, ack!.Result);
        Assert.Equal(version, ack.Version);
        Assert.False(string.IsNullOrEmpty(ack.Reason));
    }

    [Theory]
    [InlineData("""{"v":1,"gateway":"gw-02","version":2,"config":{}}""", "gateway")]   // another gateway's message
    [InlineData("""{"v":1,"gateway":"gw-01","version":0,"config":{}}""", "version")]   // versions start at 1
    [InlineData("""{"v":2,"gateway":"gw-01","version":1,"config":{}}""", "\"v\"")]
    [InlineData("""{"v":1,"gateway":"gw-01","version":1,"config":[]}""", "config")]
    [InlineData("""not json""", "JSON")]
    public void A_bad_push_is_refused_with_the_field_at_fault(string json, string field)
    {
        Assert.False(ConfigTopics.TryDecodeMessage(Encoding.UTF8.GetBytes(json), "gw-01", out _, out var error));
        Assert.Contains(field, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_report_round_trips_and_the_topics_are_under_the_gateway()
    {
        var ack = new ConfigAck("gw-01", 5, ConfigResults.Applied, null, new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
        var bytes = Encoding.UTF8.GetBytes(ConfigTopics.AckMessage(ack).ToJsonString());
        Assert.True(ConfigTopics.TryDecodeAck(bytes, "gw-01", out var back, out _));
        Assert.Equal(ack, back);
        Assert.Equal("iocedge/v1/gw-01/config", ConfigTopics.Config("gw-01"));
        Assert.True(ConfigTopics.IsAck("iocedge/v1/gw-01/config/ack", out var id));
        Assert.Equal("gw-01", id);
        Assert.False(ConfigTopics.IsAck("iocedge/v1/GW/config/ack", out _));
    }
}

/// <summary>Contract §10 (v1.3): the golden output commands and report decode with the reference codec; bad ones are refused.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class OutputCommandContractTests
{
    private static byte[] Golden(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", name));

    [Fact]
    public void The_golden_commands_and_report_decode()
    {
        Assert.True(OutputCommandTopics.TryDecodeCommand(Golden("command-set.json"), "gw-01", out var set, out var error), error);
        Assert.Equal(("camera_power", "set", true), (set!.Output, set.Action, set.Active));
        Assert.True(OutputCommandTopics.TryDecodeCommand(Golden("command-pulse.json"), "gw-01", out var pulse, out error), error);
        Assert.Equal(TimeSpan.FromSeconds(10), pulse!.Duration);
        Assert.True(OutputCommandTopics.TryDecodeAck(Golden("command-ack-refused.json"), "gw-01", out var ack, out error), error);
        Assert.Equal(OutputResults.Refused, ack!.Result);
        Assert.Null(ack.Active);
    }

    [Theory]
    [InlineData("""{"v":1,"gateway":"gw-02","id":"c-1","output":"fan","action":"set","active":true}""", "gateway")] // another gateway's
    [InlineData("""{"v":1,"gateway":"gw-01","id":"c-1","output":"fan","action":"toggle"}""", "action")]
    [InlineData("""{"v":1,"gateway":"gw-01","id":"c-1","output":"fan","action":"set"}""", "active")]
    [InlineData("""{"v":1,"gateway":"gw-01","id":"c-1","output":"fan","action":"pulse","duration_ms":0}""", "duration_ms")]
    [InlineData("""{"v":1,"gateway":"gw-01","id":"","output":"fan","action":"set","active":true}""", "id")]
    public void A_bad_command_is_refused_with_the_field_at_fault(string json, string field)
    {
        Assert.False(OutputCommandTopics.TryDecodeCommand(Encoding.UTF8.GetBytes(json), "gw-01", out _, out var error));
        Assert.Contains(field, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Commands_and_reports_round_trip_and_the_topics_are_under_the_gateway()
    {
        var command = new OutputCommand("gw-01", "c-7", "fan", OutputCommandTopics.Pulse, false, TimeSpan.FromMilliseconds(2500));
        Assert.True(OutputCommandTopics.TryDecodeCommand(Encoding.UTF8.GetBytes(OutputCommandTopics.Message(command).ToJsonString()), "gw-01", out var back, out _));
        Assert.Equal(command, back);
        var ack = new OutputAck("gw-01", "c-7", "fan", OutputResults.Done, null, true, new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
        Assert.True(OutputCommandTopics.TryDecodeAck(Encoding.UTF8.GetBytes(OutputCommandTopics.AckMessage(ack).ToJsonString()), "gw-01", out var ackBack, out _));
        Assert.Equal(ack, ackBack);
        Assert.Equal("iocedge/v1/gw-01/command", OutputCommandTopics.Command("gw-01"));
        Assert.True(OutputCommandTopics.IsAck("iocedge/v1/gw-01/command/ack", out var id));
        Assert.Equal("gw-01", id);
        Assert.False(OutputCommandTopics.IsAck("iocedge/v1/gw-01/config/ack", out _));
    }
}
