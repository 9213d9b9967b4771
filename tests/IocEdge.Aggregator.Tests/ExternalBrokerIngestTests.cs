using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Ingest ... from an external MQTT broker through shared subscriptions with manual acknowledgement after
/// commit, so N aggregator instances split the load. Exactly once across redelivery, outage resends and two instances
/// racing." A real mosquitto sits between the gateways (MQTTnet clients publishing contract v1 messages) and one or two
/// aggregators in external-broker mode sharing one store.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ExternalBrokerIngestTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("external-ingest");
    private readonly List<TestAggregator> _aggregators = [];
    private readonly FakeTimeProvider _clock = new(T0.AddHours(1));
    private Mosquitto _broker = null!;

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var a in _aggregators)
        {
            await a.DisposeAsync();
        }

        await _broker.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<TestAggregator> StartAggregatorAsync(string clientId, string group = "iocedge", Action<WebApplicationBuilder>? more = null)
    {
        var a = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "store"), b =>
        {
            Configure(b, clientId, group);
            more?.Invoke(b);
        });
        _aggregators.Add(a);
        await Eventually.True(() => Ingest(a).IsConnected, TimeSpan.FromSeconds(10), "the aggregator subscribes to mosquitto");
        return a;
    }

    private void Configure(WebApplicationBuilder b, string clientId, string group)
    {
        b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:ExternalBroker:Host"] = "127.0.0.1",
            ["Aggregator:ExternalBroker:Port"] = _broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:ExternalBroker:ClientId"] = clientId,
            ["Aggregator:ExternalBroker:SharedGroup"] = group,
        });
        b.Services.AddSingleton<TimeProvider>(_clock);
    }

    private static ExternalBrokerIngest Ingest(TestAggregator a) => a.Services.GetRequiredService<ExternalBrokerIngest>();

    private static ReadingBatch Batch(string gateway, long firstSeq, int count) =>
        new(gateway, "s1", Enumerable.Range(0, count)
            .Select(i => new SequencedReading(firstSeq + i,
                new Reading("env1/pm2_5", T0.AddSeconds(firstSeq + i), 10 + ((firstSeq + i) % 50), "ug/m3", Quality.Good)))
            .ToArray());

    private async Task<IMqttClient> GatewayAsync(string gatewayId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _broker.Port)
            .WithClientId(gatewayId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .Build());
        return client;
    }

    private static async Task PublishAsync(IMqttClient client, string topic, byte[] payload)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.True(result.IsSuccess, $"mosquitto refused the publish: {result.ReasonCode}");
    }

    /// <summary>Publishes <paramref name="messages"/> messages of <paramref name="perMessage"/> readings, seqs from 1.</summary>
    private static async Task PublishReadingsAsync(IMqttClient client, string gateway, int messages, int perMessage, int firstMessage = 0)
    {
        for (var m = firstMessage; m < firstMessage + messages; m++)
        {
            await PublishAsync(client, Topics.Readings(gateway), ReadingBatchJson.Encode(Batch(gateway, 1 + (m * perMessage), perMessage)));
        }
    }

    private static void AssertExactlyOnce(TestAggregator a, string gateway, int expected)
    {
        var seqs = a.Store.History(gateway, "env1/pm2_5").Select(h => h.Sequence).ToList();
        Assert.Equal(expected, seqs.Count);
        Assert.Equal(Enumerable.Range(1, expected).Select(i => (long)i), seqs.Order());
    }

    // The aggregator's clock moves one second per look, so that its reconnection backoff (on TimeProvider) runs out.
    // On a time-out the message says what each instance did, and what the broker said about the aggregators' sessions.
    private Task WaitStoredAsync(TestAggregator a, string gateway, int expected) =>
        Eventually.True(() =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            return a.Store.History(gateway, "env1/pm2_5").Count >= expected;
        }, TimeSpan.FromSeconds(20), () => $"{expected} readings of {gateway} are stored (found {a.Store.History(gateway, "env1/pm2_5").Count}; " +
            string.Join("; ", _aggregators.Select((x, i) => $"instance {i + 1}: {State(x)}")) + "). mosquitto: " +
            string.Join(" | ", _broker.Log.Split('\n').Where(l => l.Contains("agg-", StringComparison.Ordinal)).TakeLast(20)));

    private static string State(TestAggregator a)
    {
        try
        {
            var i = Ingest(a);
            return $"subscribed {i.IsConnected}, {a.Metrics.Messages} messages, {a.Metrics.Stored} readings stored, " +
                $"{a.Metrics.Duplicates} duplicates, {i.Acknowledged} acknowledged, {i.StoreFailures} store failures";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return "stopped (" + ex.GetType().Name + ")";
        }
    }

    [Fact]
    public async Task Readings_through_mosquitto_are_stored_once_and_a_bad_payload_is_refused_while_good_ones_flow()
    {
        var a = await StartAggregatorAsync("agg-1");
        using var gw = await GatewayAsync("gw-ext-1");

        await PublishReadingsAsync(gw, "gw-ext-1", 20, 50);
        await PublishAsync(gw, Topics.Readings("gw-ext-1"), "{\"v\":1,\"stream\":\"s1\",\"readings\":[{\"seq\":\"x\"}]}"u8.ToArray());
        await PublishReadingsAsync(gw, "gw-ext-1", 20, 50, firstMessage: 20);

        await WaitStoredAsync(a, "gw-ext-1", 2_000);
        AssertExactlyOnce(a, "gw-ext-1", 2_000);
        await Eventually.True(() => a.Metrics.RejectedFor("payload_invalid") == 1, TimeSpan.FromSeconds(5), "the bad payload is counted");
        // Every message, the refused one included, is acknowledged to mosquitto (else it would be redelivered forever).
        await Eventually.True(() => Ingest(a).Acknowledged == 41, TimeSpan.FromSeconds(5), "41 messages acknowledged");
    }

    [Fact]
    public async Task Messages_published_while_the_aggregator_is_down_are_stored_when_it_returns()
    {
        var a = await StartAggregatorAsync("agg-1");
        using var gw = await GatewayAsync("gw-ext-2");
        await PublishReadingsAsync(gw, "gw-ext-2", 5, 20);
        await WaitStoredAsync(a, "gw-ext-2", 100);

        await a.StopAsync();
        // mosquitto keeps the stopped instance's session (Clean Start 0, Session Expiry) and queues for it.
        await PublishReadingsAsync(gw, "gw-ext-2", 15, 20, firstMessage: 5);
        await a.StartAgainAsync();

        await WaitStoredAsync(a, "gw-ext-2", 400);
        AssertExactlyOnce(a, "gw-ext-2", 400);
    }

    [Fact]
    public async Task A_message_whose_commit_failed_is_not_acknowledged_and_comes_back_until_it_is_stored()
    {
        // The store's first two commits fail (a full disk, an I/O error): the instance must not PUBACK those messages.
        var failing = new FaultyStore(Path.Combine(_dir.Path, "store", "aggregator.db"), failures: 2);
        var a = await StartAggregatorAsync("agg-1", more: b => b.Services.AddSingleton<Aggregator.Storage.IReadingStore>(failing));
        using var gw = await GatewayAsync("gw-ext-f");

        await PublishReadingsAsync(gw, "gw-ext-f", 10, 30);

        await WaitStoredAsync(a, "gw-ext-f", 300);
        AssertExactlyOnce(a, "gw-ext-f", 300);
        Assert.True(failing.FailuresLeft < 0, "both injected failures happened, then commits succeeded");
        Assert.True(Ingest(a).StoreFailures >= 1);
    }

    [Fact]
    public async Task The_instance_reports_connected_only_once_the_broker_granted_its_subscription()
    {
        // A real broker (MQTTnet's; it refuses $share, so a plain subscription) that holds the SUBSCRIBE until the test
        // lets it through. Between the CONNACK and the SUBACK a fresh session has no subscription: mosquitto answers a
        // gateway's QoS 1 PUBLISH then with "No matching subscribers" and drops it, so "connected" must wait for the SUBACK.
        var port = FreePort.Next();
        var subscribing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(System.Net.IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        server.InterceptingSubscriptionAsync += async _ =>
        {
            subscribing.TrySetResult();
            await release.Task;
        };
        await server.StartAsync();
        try
        {
            var a = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "store"), b =>
            {
                Configure(b, "agg-1", group: string.Empty);
                b.Configuration["Aggregator:ExternalBroker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            });
            _aggregators.Add(a);

            // The aggregator sends SUBSCRIBE only after its CONNACK: it is connected now, its subscription not yet granted.
            await subscribing.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(Ingest(a).IsConnected, "connected is reported before the broker granted the subscription");

            release.TrySetResult();
            await Eventually.True(() => Ingest(a).IsConnected, TimeSpan.FromSeconds(10), "connected once the SUBACK came");
        }
        finally
        {
            release.TrySetResult();
            await server.StopAsync();
        }
    }

    [Fact]
    public async Task Two_instances_in_one_shared_group_split_the_load_and_store_every_reading_exactly_once_through_a_restart()
    {
        var a = await StartAggregatorAsync("agg-1");
        var b = await StartAggregatorAsync("agg-2");
        var gateways = new[] { "gw-ext-a", "gw-ext-b", "gw-ext-c", "gw-ext-d" };
        var clients = await Task.WhenAll(gateways.Select(GatewayAsync));
        try
        {
            await Task.WhenAll(gateways.Select((g, i) => PublishReadingsAsync(clients[i], g, 25, 40)));
            // Instance 1 stops while the second half is published; what it took but did not acknowledge comes back to it.
            var second = Task.WhenAll(gateways.Select((g, i) => PublishReadingsAsync(clients[i], g, 25, 40, firstMessage: 25)));
            await a.StopAsync();
            await second;
            await a.StartAgainAsync();
            await Eventually.True(() => Ingest(a).IsConnected, TimeSpan.FromSeconds(10), "instance 1 is back");

            foreach (var g in gateways)
            {
                await WaitStoredAsync(b, g, 2_000);
                AssertExactlyOnce(b, g, 2_000);
            }

            // Both instances took a share (mosquitto's shared subscriptions deliver round-robin by default): instance 2
            // acknowledged some of the 200 messages, not all.
            Assert.InRange(Ingest(b).Acknowledged, 1, 199);
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }
}
