using System.Text;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>The aggregator as a gateway sees it: a real MQTT client publishing to the embedded broker.</summary>
[Trait(Traits.Category, Traits.Integration)]
public sealed class IngestTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator");
    private TestAggregator _aggregator = null!;

    // The aggregator's clock an hour after T0, so the readings below are always plausible (contract §4.3).
    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(_dir.Path,
        b => b.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(T0.AddHours(1))));

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    private static ReadingBatch Batch(string gateway, string stream, long firstSeq, int count, string channel = "env1/pm2_5") =>
        new(gateway, stream, Enumerable.Range(0, count)
            .Select(i => new SequencedReading(firstSeq + i, new Reading(channel, T0.AddSeconds(firstSeq + i), 10 + firstSeq + i, "ug/m3", Quality.Good)))
            .ToArray());

    private async Task<IMqttClient> ConnectAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _aggregator.MqttPort)
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .Build());
        return client;
    }

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

    [Fact]
    public async Task A_reading_is_committed_before_its_puback_and_shows_in_latest()
    {
        using var client = await ConnectAsync("gw-a");

        var result = await PublishAsync(client, Topics.Readings("gw-a"), ReadingBatchJson.Encode(Batch("gw-a", "s1", 1, 3)));

        Assert.True(result.IsSuccess, result.ReasonString);
        // No waiting: the PUBACK came after the commit, so the store has them now.
        Assert.Equal([1L, 2, 3], _aggregator.Store.History("gw-a", "env1/pm2_5").Select(h => h.Sequence));
        var latest = await _aggregator.LatestAsync("gw-a");
        Assert.Equal((13.0, "good", "ug/m3"), latest["env1/pm2_5"]);
    }

    [Fact]
    public async Task Redelivered_and_overlapping_batches_are_stored_exactly_once()
    {
        using var client = await ConnectAsync("gw-b");
        var topic = Topics.Readings("gw-b");

        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-b", "s1", 1, 100)));
        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-b", "s1", 1, 100))); // lost PUBACK: sent again
        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-b", "s1", 51, 100))); // overlaps 51..100
        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-b", "s2", 1, 10))); // new outbox: new stream

        var history = _aggregator.Store.History("gw-b", "env1/pm2_5");
        Assert.Equal(160, history.Count);
        Assert.Equal(Enumerable.Range(1, 150).Select(i => (long)i).Concat(Enumerable.Range(1, 10).Select(i => (long)i)).Order(),
            history.Select(h => h.Sequence).Order());
        Assert.Equal(150, _aggregator.Metrics.Duplicates);
        var gw = (await _aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways")[0];
        Assert.Equal(160, gw.GetProperty("readings").GetInt64());
        Assert.Equal(150, gw.GetProperty("duplicates").GetInt64());
    }

    [Fact]
    public async Task A_malformed_payload_is_counted_and_refused_while_good_ones_keep_flowing()
    {
        using var client = await ConnectAsync("gw-c");
        var topic = Topics.Readings("gw-c");

        var bad = await PublishAsync(client, topic, Encoding.UTF8.GetBytes("""{"v":1,"gateway":"gw-c","stream":"s1","readings":[{"seq":1}]}"""));
        var good = await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-c", "s1", 7, 1)));
        var spoofed = await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-other", "s1", 1, 1)));

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, bad.ReasonCode);
        Assert.StartsWith("readings[0].channel", bad.ReasonString, StringComparison.Ordinal);
        Assert.True(good.IsSuccess);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, spoofed.ReasonCode);
        Assert.Equal(2, _aggregator.Metrics.Rejected);
        Assert.Equal(1, _aggregator.Metrics.Stored);
        Assert.True(client.IsConnected);
        var metrics = await _aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_invalid"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_gateway"));
    }

    [Fact]
    public async Task Latest_keeps_the_newest_reading_even_when_a_backlog_arrives_after_it()
    {
        using var client = await ConnectAsync("gw-d");
        var topic = Topics.Readings("gw-d");

        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-d", "s1", 500, 1))); // live reading first
        await PublishAsync(client, topic, ReadingBatchJson.Encode(Batch("gw-d", "s1", 1, 50)));  // older backlog behind it

        var latest = await _aggregator.LatestAsync("gw-d");
        Assert.Equal(510.0, latest["env1/pm2_5"].Value);
        Assert.Equal(51, _aggregator.Store.History("gw-d", "env1/pm2_5").Count);
    }

    [Fact]
    public async Task Readings_survive_an_aggregator_restart()
    {
        using (var client = await ConnectAsync("gw-e"))
        {
            await PublishAsync(client, Topics.Readings("gw-e"), ReadingBatchJson.Encode(Batch("gw-e", "s1", 1, 20)));
        }

        await _aggregator.StopAsync();
        await _aggregator.StartAgainAsync();
        using var again = await ConnectAsync("gw-e");
        await PublishAsync(again, Topics.Readings("gw-e"), ReadingBatchJson.Encode(Batch("gw-e", "s1", 11, 20)));

        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), _aggregator.Store.History("gw-e", "env1/pm2_5").Select(h => h.Sequence));
    }

    [Fact]
    public async Task Status_and_an_unclean_disconnect_show_in_gateway_health()
    {
        var client = await ConnectAsync("gw-f");
        await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Status("gw-f"))
            .WithPayload(GatewayStatusJson.Encode(new GatewayStatus("gw-f", GatewayState.Online, T0, "0.1.0", 5)))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .Build());
        var gw = (await _aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways")[0];
        Assert.Equal(("online", 5L), (gw.GetProperty("state").GetString(), gw.GetProperty("outbox_pending").GetInt64()));

        client.Dispose(); // the socket goes away without a DISCONNECT packet

        await Eventually.True(async () =>
            (await _aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways")[0].GetProperty("state").GetString() == "offline",
            TimeSpan.FromSeconds(20), "the broker to notice the gateway is gone");
    }

    [Fact]
    public async Task An_unknown_gateway_filter_is_a_400_with_the_reason()
    {
        var response = await _aggregator.Http.GetAsync(new Uri("/api/v1/latest?gateway=NOT%20VALID", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not a gateway id", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
