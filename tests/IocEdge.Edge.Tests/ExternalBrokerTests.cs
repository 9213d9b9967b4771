using System.Collections.Concurrent;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Tests;

/// <summary>
/// The gateway against a broker we did not write (mosquitto, the external broker of the scale-out deployment), with a
/// persistent subscriber standing in for the aggregator. A broker restart in the middle loses nothing.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
public sealed class ExternalBrokerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("extbroker");
    // Its own folder directly under /tmp: mosquitto runs as user 'mosquitto' and must be able to reach it.
    private readonly TempDirectory _persist = new("mqpersist");
    private readonly ConcurrentBag<(string Stream, long Seq)> _received = [];
    private readonly int _port = FreePort.Next();
    private Mosquitto _broker = null!;
    private IMqttClient _subscriber = null!;

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync(_port, _persist.Path);
        _subscriber = new MqttClientFactory().CreateMqttClient();
        _subscriber.ApplicationMessageReceivedAsync += e =>
        {
            Assert.True(Topics.TryParse(e.ApplicationMessage.Topic, out var gw, out _));
            Assert.True(ReadingBatchJson.TryDecode(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), gw, out var batch, out var error), error);
            foreach (var r in batch!.Readings)
            {
                _received.Add((batch.StreamId, r.Sequence));
            }

            return Task.CompletedTask;
        };
        await ConnectSubscriberAsync();
        await _subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.AllReadings, MqttQualityOfServiceLevel.AtLeastOnce).Build());
    }

    public async Task DisposeAsync()
    {
        _subscriber.Dispose();
        await _broker.DisposeAsync();
        _dir.Dispose();
        _persist.Dispose();
    }

    private Task<MqttClientConnectResult> ConnectSubscriberAsync() => _subscriber.ConnectAsync(new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _port)
        .WithClientId("ioc-ingest")
        .WithProtocolVersion(MqttProtocolVersion.V311)
        .WithCleanSession(false)
        .Build());

    private static Reading[] Readings(int from, int count) => Enumerable.Range(from, count)
        .Select(i => new Reading("test/value", T0.AddSeconds(i), i, "V", Quality.Good)).ToArray();

    [Fact]
    public async Task A_broker_restart_in_the_middle_loses_nothing_and_the_outbox_drains()
    {
        var source = new ChannelReadingSource();
        var config = _dir.File("gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "Id": "gw-ext", "DataDirectory": "{{_dir.File("gw")}}",
              "Mqtt": { "Host": "127.0.0.1", "Port": {{_port}}, "BatchSize": 40, "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:01" } } }
            """);
        using var host = GatewayHost.Build(["--config", config, "--Logging:LogLevel:Default=Warning"],
            b => b.Services.AddReadingSource(_ => source));
        await host.StartAsync();
        var outbox = host.Services.GetRequiredService<SqliteOutbox>();
        var forwarder = host.Services.GetRequiredService<MqttForwarder>();

        source.Push(Readings(0, 100));
        await Eventually.True(() => _received.Select(r => r.Seq).Distinct().Count() == 100, TimeSpan.FromSeconds(20),
            "the first 100 readings to reach the subscriber");

        await _broker.StopGracefullyAsync();
        source.Push(Readings(100, 60));
        source.Push(Readings(160, 40));
        await Eventually.True(() => outbox.Count == 100 && !forwarder.IsConnected, TimeSpan.FromSeconds(20),
            "the outbox to hold the readings taken while the broker is down");

        await using var restarted = await Mosquitto.StartAsync(_port, _persist.Path);
        await Eventually.True(async () =>
        {
            if (!_subscriber.IsConnected)
            {
                await ConnectSubscriberAsync();
            }

            return true;
        }, TimeSpan.FromSeconds(20), "the subscriber to reconnect to its persistent session");

        try
        {
            await Eventually.True(() => outbox.Count == 0 && _received.Select(r => r.Seq).Distinct().Count() == 200,
                TimeSpan.FromSeconds(30), "the outbox to drain into the restarted broker");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} outbox={outbox.Count} received={_received.Select(r => r.Seq).Distinct().Count()} " +
                $"gateway connected={forwarder.IsConnected} subscriber connected={_subscriber.IsConnected}\nFIRST:\n{_broker.Log}\nRESTARTED:\n{restarted.Log}", ex);
        }
        var seqs = _received.Select(r => r.Seq).Distinct().Order().ToArray();
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), seqs);
        Assert.Single(_received.Select(r => r.Stream).Distinct());
        await host.StopAsync();
    }
}
