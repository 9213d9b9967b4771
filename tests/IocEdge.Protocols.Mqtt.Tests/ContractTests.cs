using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Protocols.Mqtt.Tests;

[Trait(Traits.Category, Traits.Unit)]
public class ContractTests
{
    [Theory]
    [InlineData("iocedge/v1/gw-demo-01/readings", "gw-demo-01", TopicKind.Readings)]
    [InlineData("iocedge/v1/a/status", "a", TopicKind.Status)]
    [InlineData("iocedge/v1/gw-node-07/readings/bin", "gw-node-07", TopicKind.ReadingsCompact)] // contract §8
    public void Topics_round_trip(string topic, string gateway, TopicKind kind)
    {
        Assert.True(Topics.TryParse(topic, out var g, out var k));
        Assert.Equal((gateway, kind), (g, k));
        Assert.Equal(topic, kind switch
        {
            TopicKind.Readings => Topics.Readings(gateway),
            TopicKind.ReadingsCompact => Topics.ReadingsCompact(gateway),
            _ => Topics.Status(gateway),
        });
    }

    [Theory]
    [InlineData("iocedge/v2/gw/readings")]
    [InlineData("iocedge/v1/GW/readings")]
    [InlineData("iocedge/v1/gw/readings/bin/x")]
    [InlineData("iocedge/v1/gw/readings/json")]
    [InlineData("iocedge/v1//readings")]
    [InlineData("iocedge/v1/+/readings")]
    [InlineData("other/v1/gw/readings")]
    public void Foreign_or_malformed_topics_are_not_parsed(string topic) =>
        Assert.False(Topics.TryParse(topic, out _, out _));

    [Fact]
    public void A_wildcard_cannot_become_a_gateway_id()
    {
        Assert.Throws<ArgumentException>(() => Topics.Readings("#"));
        Assert.Throws<ArgumentException>(() => Topics.Readings("a/b"));
    }

    [Theory]
    [InlineData("env1/pm2_5", true)]
    [InlineData("pole7/door", true)]
    [InlineData("a", true)]
    [InlineData("a/b.c-d_e/f", true)]
    [InlineData("", false)]
    [InlineData("/a", false)]
    [InlineData("a/", false)]
    [InlineData("a//b", false)]
    [InlineData("a/_b", false)]
    [InlineData("A/b", false)]
    [InlineData("a b", false)]
    [InlineData("a/+", false)]
    public void Channel_ids(string id, bool valid) => Assert.Equal(valid, Identifiers.IsValidChannelId(id));

    [Fact]
    public void Golden_status_decodes_and_round_trips()
    {
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", "status-online.json"));

        Assert.True(GatewayStatusJson.TryDecode(bytes, "gw-demo-01", out var status, out var error), error);
        Assert.Equal(GatewayState.Online, status!.State);
        Assert.Equal(12, status.OutboxPending);
        Assert.Equal("0.1.0", status.Software);

        Assert.True(GatewayStatusJson.TryDecode(GatewayStatusJson.Encode(status), "gw-demo-01", out var back, out _));
        Assert.Equal(status, back);
        Assert.False(GatewayStatusJson.TryDecode(bytes, "gw-other", out _, out _));
    }
}
