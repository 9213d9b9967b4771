using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// The embedded broker's pipelining (issue 15: "many messages of one gateway can share one commit, not one fsync per
/// message"): a gateway's messages in flight are committed together, and still no PUBACK leaves before its own commit;
/// a commit that fails is told (MQTT 5: PUBACK 0x80; MQTT 3.1.1: no PUBACK, the connection closes) and nothing is lost.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait("Acceptance", "aggregator")]
public sealed class PipelinedPubAckTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("pipelined");
    private FaultyStore _store = null!;
    private TestAggregator _aggregator = null!;

    private Task StartAsync(int failures = 0)
    {
        _store = new FaultyStore(Path.Combine(_dir.Path, "aggregator.db"), failures);
        return StartWithAsync(_store);
    }

    private async Task StartWithAsync(FaultyStore store) =>
        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Services.AddSingleton<IReadingStore>(store));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_aggregator is not null)
        {
            _store.Gate.Set();
            await _aggregator.DisposeAsync();
        }

        _dir.Dispose();
    }

    private static readonly DateTimeOffset T0 = DateTimeOffset.UtcNow.AddMinutes(-30);

    private static byte[] Batch(string gateway, long firstSeq, int count) =>
        ReadingBatchJson.Encode(new ReadingBatch(gateway, "s1", Enumerable.Range(0, count)
            .Select(i => new SequencedReading(firstSeq + i, new Reading("env1/pm2_5", T0.AddSeconds(firstSeq + i), firstSeq + i, "ug/m3", Quality.Good)))
            .ToArray()));

    private async Task<IMqttClient> ConnectAsync(string clientId, MqttProtocolVersion version)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _aggregator.MqttPort)
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build());
        return client;
    }

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string gateway, long firstSeq, int count) =>
        client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Readings(gateway))
            .WithPayload(Batch(gateway, firstSeq, count))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

    private void AssertStoredOnce(string gateway, int count)
    {
        var seqs = _aggregator.Store.History(gateway, "env1/pm2_5").Select(h => h.Sequence).ToArray();
        Assert.Equal(count, seqs.Length);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), seqs.Order());
    }

    [Fact]
    public async Task A_gateways_messages_in_flight_share_commits_and_none_is_acknowledged_before_its_commit()
    {
        await StartAsync();
        using var client = await ConnectAsync("gw-pipe", MqttProtocolVersion.V500);

        // A slow card: the first commit waits while the gateway's 8 messages arrive behind it.
        _store.Gate.Reset();
        var publishes = Enumerable.Range(0, 8).Select(i => PublishAsync(client, "gw-pipe", 1 + i * 50, 50)).ToArray();
        await Eventually.True(() => _aggregator.Metrics.Messages == 8, TimeSpan.FromSeconds(20),
            "the broker reads all 8 messages while the first commit is still running (MQTTnet's receive loop is not held)");
        await Task.Delay(300);
        Assert.DoesNotContain(publishes, p => p.IsCompleted);
        Assert.Equal(0, _aggregator.Metrics.Stored);

        _store.Gate.Set();
        var results = await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.True(r.IsSuccess, $"PUBACK {r.ReasonCode} {r.ReasonString}"));
        AssertStoredOnce("gw-pipe", 400);
        var commits = _store.BatchesPerCommit;
        Assert.Equal(8, commits.Sum());
        Assert.True(commits.Count <= 3, $"8 messages in {commits.Count} commits ({string.Join(", ", commits)}): the 7 that waited share a commit");
    }

    [Fact]
    public async Task A_failed_commit_answers_an_mqtt5_gateway_with_puback_0x80_and_the_resent_message_is_stored_once()
    {
        await StartAsync(failures: 1);
        using var client = await ConnectAsync("gw-full5", MqttProtocolVersion.V500);

        var refused = await PublishAsync(client, "gw-full5", 1, 20);
        Assert.Equal(MqttClientPublishReasonCode.UnspecifiedError, refused.ReasonCode);
        Assert.Contains("not stored", refused.ReasonString, StringComparison.Ordinal);
        Assert.Equal(0, _aggregator.Metrics.Stored);
        Assert.Equal(1, _aggregator.Metrics.StoreFailures);

        // The connection stays up and the gateway, which kept the readings, sends them again.
        Assert.True(client.IsConnected);
        var stored = await PublishAsync(client, "gw-full5", 1, 20);
        Assert.True(stored.IsSuccess, stored.ReasonCode.ToString());
        AssertStoredOnce("gw-full5", 20);
    }

    [Fact]
    public async Task A_failed_commit_closes_an_mqtt311_connection_without_a_puback_and_the_resent_message_is_stored_once()
    {
        await StartAsync(failures: 1);
        var client = await ConnectAsync("gw-full3", MqttProtocolVersion.V311);

        // MQTT 3.1.1's PUBACK can only mean "stored": the broker closes the connection instead of sending it.
        await Assert.ThrowsAnyAsync<Exception>(() => PublishAsync(client, "gw-full3", 1, 20));
        await Eventually.True(() => !client.IsConnected, TimeSpan.FromSeconds(10), "the connection is closed");
        Assert.Equal(0, _aggregator.Metrics.Stored);
        client.Dispose();

        using var again = await ConnectAsync("gw-full3", MqttProtocolVersion.V311);
        var stored = await PublishAsync(again, "gw-full3", 1, 20);
        Assert.True(stored.IsSuccess, stored.ReasonCode.ToString());
        AssertStoredOnce("gw-full3", 20);
    }
}
