using IocEdge.Aggregator.Security;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Security": a will is a message the broker publishes for the client later, so it is held to the publish
/// rules at CONNECT (contract §1, §5): a gateway's will may only be its own retained status; a reader has none. A will
/// that breaks them is refused with the CONNACK (0x87 not authorized, 0x99 payload format invalid), counted as
/// iocedge.mqtt.refusals{stage=connect,reason=will}; a valid will is accepted and, on an unclean end, delivered as the
/// gateway's offline status.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class WillTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator-will");
    private TestAggregator _aggregator = null!;
    private MetricRecorder _metrics = null!;
    private string _passA = null!;
    private string _passReader = null!;

    public async Task InitializeAsync()
    {
        using (var store = new CredentialStore(Path.Combine(_dir.Path, "credentials.json"), iterations: 1000))
        {
            _passA = store.AddGateway("gw-a");
            store.AddGateway("gw-b");
            _passReader = store.AddReader("ioc");
        }

        _aggregator = await TestAggregator.StartAsync(_dir.Path);
        _metrics = new MetricRecorder(_aggregator.Services.GetRequiredService<SecurityMetrics>().Meter);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private static byte[] Offline(string gateway) =>
        GatewayStatusJson.Encode(new GatewayStatus(gateway, GatewayState.Offline, DateTimeOffset.UtcNow));

    private async Task<(MqttClientConnectResultCode Code, IMqttClient Client)> ConnectAsync(string clientId, string user, string password,
        string willTopic, byte[] willPayload, bool willRetain)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCleanSession().WithCredentials(user, password)
            .WithWillTopic(willTopic).WithWillPayload(willPayload).WithWillRetain(willRetain)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        try
        {
            var result = await client.ConnectAsync(options);
            return (result.ResultCode, client);
        }
        catch (MqttConnectingFailedException ex)
        {
            // MQTTnet 5 throws with the CONNACK's reason in the message ("... (NotAuthorized).").
            return (Enum.GetValues<MqttClientConnectResultCode>().Single(c => ex.Message.Contains("(" + c + ")", StringComparison.Ordinal)), client);
        }
    }

    [Fact]
    public async Task A_will_on_another_gateways_status_or_not_retained_or_not_a_status_or_from_a_reader_is_refused_at_connect()
    {
        // Issue 15: a rogue will would announce gw-b offline (retained) whenever gw-a drops.
        var (foreign, c1) = await ConnectAsync("gw-a", "gw-a", _passA, "iocedge/v1/gw-b/status", Offline("gw-b"), true);
        var (notRetained, c2) = await ConnectAsync("gw-a", "gw-a", _passA, "iocedge/v1/gw-a/status", Offline("gw-a"), false);
        var (readings, c3) = await ConnectAsync("gw-a", "gw-a", _passA, "iocedge/v1/gw-a/readings", Offline("gw-a"), false);
        var (garbage, c4) = await ConnectAsync("gw-a", "gw-a", _passA, "iocedge/v1/gw-a/status", "not json"u8.ToArray(), true);
        var (reader, c5) = await ConnectAsync("ioc", "ioc", _passReader, "iocedge/v1/gw-a/status", Offline("gw-a"), true);
        foreach (var c in new[] { c1, c2, c3, c4, c5 })
        {
            Assert.False(c.IsConnected);
            c.Dispose();
        }

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, foreign); // 0x87
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, notRetained);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, readings);
        Assert.Equal(MqttClientConnectResultCode.PayloadFormatInvalid, garbage); // 0x99
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, reader);
        Assert.Equal(5, _metrics.Sum("iocedge.mqtt.refusals", "reason=will,stage=connect"));
        Assert.Empty(_aggregator.Store.Gateways());
    }

    [Fact]
    public async Task A_gateways_own_retained_status_will_is_accepted_and_it_shows_offline_after_an_unclean_end()
    {
        var (code, client) = await ConnectAsync("gw-a", "gw-a", _passA, "iocedge/v1/gw-a/status", Offline("gw-a"), true);
        Assert.Equal(MqttClientConnectResultCode.Success, code);
        var online = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-a/status")
            .WithPayload(GatewayStatusJson.Encode(new GatewayStatus("gw-a", GatewayState.Online, DateTimeOffset.UtcNow)))
            .WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True((int)online.ReasonCode < 0x80, online.ReasonCode.ToString());
        Assert.Equal(0, _metrics.Sum("iocedge.mqtt.refusals", "reason=will,stage=connect"));
        client.Dispose(); // no DISCONNECT: an unclean end
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && _aggregator.Store.Gateways().SingleOrDefault(g => g.Gateway == "gw-a")?.State != "offline")
        {
            await Task.Delay(50);
        }

        Assert.Equal("offline", _aggregator.Store.Gateways().Single(g => g.Gateway == "gw-a").State);
    }
}
