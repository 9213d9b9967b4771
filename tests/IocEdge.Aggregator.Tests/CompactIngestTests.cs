using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 14: the aggregator accepts the compact payload on <c>iocedge/v1/{gateway}/readings/bin</c> (contract §8) with
/// the PUBACK, 0x99 and exactly-once rules of JSON (§4.1, §6); a boot epoch maps to the identity stream (§8.2). A real
/// MQTTnet v5 client against the real embedded broker and SQLite store.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class CompactIngestTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("aggregator-bin");
    private readonly FakeTimeProvider _time = new(Now);
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(_dir.Path, b =>
        b.Services.AddSingleton<TimeProvider>(_time));

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<IMqttClient> ConnectAsync(string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort)
            .WithClientId(clientId).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        return client;
    }

    private static byte[] Compact(string stream, uint epoch, long firstSeq, int count, double firstValue = 35.5) =>
        CompactCodec.Encode(new CompactBatch(stream, epoch, Enumerable.Range(0, count)
            .Select(i => new CompactReading(firstSeq + i, "env1/pm2_5", Now.AddSeconds(-60 + i).ToUnixTimeMilliseconds(),
                firstValue + i, "ug/m3", CompactQuality.Good)).ToArray()));

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private async Task<string> MetricsAsync() => await _aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    [Fact]
    public async Task A_compact_batch_is_stored_acknowledged_and_shown_as_latest()
    {
        // Used to be refused with 0x90 topic_reserved: the compact payload had no way in.
        using var client = await ConnectAsync("gw-node-07");

        var result = await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), Compact("s1", 0, 1, 3));

        Assert.True(result.IsSuccess, result.ReasonCode.ToString()); // 0x00 or 0x10: both say "stored" (§6)
        Assert.Equal(3, _aggregator.Store.Count());
        var latest = await _aggregator.LatestAsync("gw-node-07");
        Assert.Equal((37.5, "good", "ug/m3"), latest["env1/pm2_5"]);
        Assert.Equal(1, _aggregator.Metrics.AcceptedOf(PayloadKind.Compact));
        Assert.Equal(1, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_payload_messages_total", "payload", "compact", "outcome", "accepted"));
    }

    [Fact]
    public async Task The_same_stream_and_seq_is_stored_once_whichever_payload_carries_it()
    {
        // Contract §4.1/§8: one exactly-once key (gateway, stream, seq) for both encodings.
        using var client = await ConnectAsync("gw-node-07");
        await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), Compact("s1", 0, 1, 3));

        var again = await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), Compact("s1", 0, 1, 3));
        var json = ReadingBatchCompact.ToReadingBatch("gw-node-07", CompactCodec.Decode(Compact("s1", 0, 2, 2)));
        var asJson = await PublishAsync(client, Topics.Readings("gw-node-07"), ReadingBatchJson.Encode(json));

        Assert.True(again.IsSuccess, again.ReasonCode.ToString());
        Assert.True(asJson.IsSuccess, asJson.ReasonCode.ToString());
        Assert.Equal(3, _aggregator.Store.Count());
        Assert.Equal(5, _aggregator.Metrics.Duplicates);
    }

    [Fact]
    public async Task A_new_boot_epoch_is_a_new_identity_stream_so_a_restarted_sequence_is_not_a_duplicate()
    {
        // §8.2: stream "node7" at epoch 42 is stored as "node7e42"; after a reboot (epoch 43) seq 1 is new.
        using var client = await ConnectAsync("gw-node-07");
        await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), Compact("node7", 42, 1, 3));

        await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), Compact("node7", 43, 1, 2, firstValue: 50));
        // The JSON form of the epoch-42 batch names the identity stream: the same key, so nothing new.
        var json = new ReadingBatch("gw-node-07", "node7e42",
            [new SequencedReading(1, new Reading("env1/pm2_5", Now.AddSeconds(-60), 35.2, "ug/m3", Quality.Good))]);
        await PublishAsync(client, Topics.Readings("gw-node-07"), ReadingBatchJson.Encode(json));

        Assert.Equal(5, _aggregator.Store.Count());
        Assert.Equal(1, _aggregator.Metrics.Duplicates);
        var history = _aggregator.Store.History("gw-node-07", "env1/pm2_5");
        Assert.Equal([1L, 1, 2, 2, 3], history.Select(r => r.Sequence).Order());
        Assert.Equal([35.5, 36.5, 37.5, 50, 51], history.Select(r => r.Value!.Value).Order());
    }

    [Theory]
    [InlineData(new byte[] { 0x02, 0x02, (byte)'s', (byte)'1' }, "header.format")] // §8.1: format byte must be 1
    [InlineData(new byte[] { 0x01, 0x02, (byte)'s' }, "header.stream")] // a string cut short
    public async Task A_compact_payload_that_breaks_section_8_is_refused_with_0x99_and_counted(byte[] payload, string field)
    {
        using var client = await ConnectAsync("gw-node-07");

        var result = await PublishAsync(client, Topics.ReadingsCompact("gw-node-07"), payload);

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, result.ReasonCode);
        Assert.Contains(field, result.ReasonString, StringComparison.Ordinal);
        Assert.Equal(0, _aggregator.Store.Count());
        var metrics = await MetricsAsync();
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_payload_messages_total", "payload", "compact", "outcome", "refused"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_invalid"));
    }
}
