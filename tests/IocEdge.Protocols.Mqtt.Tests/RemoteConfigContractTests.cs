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
