using System.Collections.Concurrent;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Tests.Forwarding;

/// <summary>
/// MQTT 5 §3.3.4: a client MUST NOT have more QoS 1 messages awaiting PUBACK than the Receive Maximum of the server's
/// CONNACK (§3.2.2.3.3). The gateway's own window (Gateway:Mqtt:MaxInFlight, 32 by default) is larger than what many
/// brokers allow (mosquitto's max_inflight_messages defaults to 20), so each connection lowers it to the broker's.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class ReceiveMaximumTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("recvmax");
    private readonly ConcurrentBag<long> _received = [];
    private Mosquitto _broker = null!;
    private IMqttClient _subscriber = null!;

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync(maxInflightMessages: 4);
        _subscriber = new MqttClientFactory().CreateMqttClient();
        _subscriber.ApplicationMessageReceivedAsync += e =>
        {
            Assert.True(ReadingBatchJson.TryDecode(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), "gw-window",
                out var batch, out var error), error);
            foreach (var r in batch!.Readings)
            {
                _received.Add(r.Sequence);
            }

            return Task.CompletedTask;
        };
        await _subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _broker.Port)
            .WithClientId("ioc-ingest").WithProtocolVersion(MqttProtocolVersion.V311).Build());
        await _subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.AllReadings, MqttQualityOfServiceLevel.AtLeastOnce).Build());
    }

    public async Task DisposeAsync()
    {
        _subscriber.Dispose();
        await _broker.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task The_window_is_lowered_to_the_brokers_receive_maximum_and_everything_arrives()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        outbox.Append(Enumerable.Range(0, 400).Select(i => new Reading("aq/pm25", T0.AddSeconds(i), i, "ug/m3", Quality.Good)).ToArray());
        using var forwarder = new MqttForwarder(Options.Create(new GatewayOptions
        {
            Id = "gw-window",
            DataDirectory = _dir.Path,
            Mqtt = new GatewayMqttOptions
            {
                Host = "127.0.0.1",
                Port = _broker.Port,
                BatchSize = 10,
                Timeout = TimeSpan.FromSeconds(30),
            },
        }), outbox, TimeProvider.System, NullLogger<MqttForwarder>.Instance);
        Assert.Equal(32, new GatewayMqttOptions().MaxInFlight);

        // The broker is paused as the forwarder connects: every PUBLISH it sends waits for a PUBACK, so the window fills.
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => forwarder.Window == 4, TimeSpan.FromSeconds(20), "the CONNACK's Receive Maximum 4 to be taken");
        await _broker.PauseAsync();
        try
        {
            await Task.Delay(1500);
        }
        finally
        {
            await _broker.ResumeAsync();
        }

        await Eventually.True(() => outbox.Count == 0, TimeSpan.FromSeconds(30), "the outbox to drain");
        await forwarder.StopAsync(CancellationToken.None);

        Assert.Equal(4, forwarder.MaxInFlightSeen);
        Assert.Equal(0, forwarder.Failures);
        await Eventually.True(() => _received.Count >= 400, TimeSpan.FromSeconds(10), "the subscriber to have every reading");
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), _received.Distinct().Order());
        Assert.DoesNotContain("exceeded", _broker.Log, StringComparison.OrdinalIgnoreCase);
    }
}
