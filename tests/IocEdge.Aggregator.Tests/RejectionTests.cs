using System.Text;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 13, item 2: nothing on the broker is acknowledged as a success unless it was stored (contract §6). MQTTnet
/// clients (v5 and v3.1.1) against the real embedded broker; reason codes, /metrics and the log are what is asserted.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class RejectionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("aggregator-rej");
    private readonly FakeTimeProvider _time = new(Now);
    private readonly LogSink _log = new();
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(_dir.Path, b =>
    {
        b.Services.AddSingleton<TimeProvider>(_time);
        b.Logging.AddProvider(_log);
        b.Logging.AddFilter<LogSink>("IocEdge", LogLevel.Information); // the sink sees what the journal would
    });

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<IMqttClient> ConnectAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort)
            .WithClientId(clientId).WithProtocolVersion(version).Build());
        return client;
    }

    private static byte[] Readings(string gateway, long seq = 1) => ReadingBatchJson.Encode(new ReadingBatch(gateway, "s1",
        [new SequencedReading(seq, new Reading("env1/pm2_5", Now.AddSeconds(-1), 35.2, "ug/m3", Quality.Good))]));

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(qos).WithRetainFlag(retain).Build());

    private async Task<string> MetricsAsync() => await _aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    [Fact]
    public async Task A_gateway_that_disconnects_itself_is_logged_as_information_and_one_that_vanishes_as_a_warning()
    {
        using var clean = await ConnectAsync("gw-clean");
        Assert.True((await PublishAsync(clean, Topics.Readings("gw-clean"), Readings("gw-clean"))).IsSuccess); // a gateway now
        await clean.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
        using var lost = await ConnectAsync("gw-lost");
        Assert.True((await PublishAsync(lost, Topics.Readings("gw-lost"), Readings("gw-lost"))).IsSuccess); // a gateway now
        lost.Dispose(); // the socket closes without DISCONNECT

        await Eventually.True(() => Task.FromResult(new[] { "gw-clean", "gw-lost" }.All(g =>
            _log.Lines.Any(l => l.Message.StartsWith($"Gateway {g} disconnected", StringComparison.Ordinal)))), TimeSpan.FromSeconds(10), "both disconnects logged");
        var cleanLine = Assert.Single(_log.Lines, l => l.Message.StartsWith("Gateway gw-clean disconnected", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, cleanLine.Level);
        var lostLine = Assert.Single(_log.Lines, l => l.Message.StartsWith("Gateway gw-lost disconnected", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, lostLine.Level);
    }

    [Fact]
    public async Task A_valid_payload_on_a_topic_outside_the_id_alphabet_is_refused_counted_and_logged()
    {
        // The example: GW-01 is not a gateway id (contract §2, lower case only). It used to get a success PUBACK,
        // with nothing stored, counted or logged, so the sender deleted readings that were never stored.
        using var client = await ConnectAsync("GW-01");

        var result = await PublishAsync(client, "iocedge/v1/GW-01/readings", Readings("gw-01"));

        Assert.Equal(MqttClientPublishReasonCode.TopicNameInvalid, result.ReasonCode); // 0x90
        Assert.Contains("not a gateway id", result.ReasonString, StringComparison.Ordinal);
        Assert.Equal(0, _aggregator.Store.Count());
        Assert.Equal(1, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_rejected_total", "reason", "topic_gateway"));
        Assert.Contains(_log.Messages(1004), m => m.Contains("GW-01", StringComparison.Ordinal) && m.Contains("topic_gateway", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("iocedge/v1/gw-a/readings/extra", MqttClientPublishReasonCode.TopicNameInvalid, "topic_shape")]
    [InlineData("iocedge/v1/gw-a/foo", MqttClientPublishReasonCode.TopicNameInvalid, "topic_shape")]
    [InlineData("iocedge/v1/gw-a", MqttClientPublishReasonCode.TopicNameInvalid, "topic_shape")]
    [InlineData("iocedge/v2/gw-a/readings", MqttClientPublishReasonCode.TopicNameInvalid, "topic_version")]
    [InlineData("iocedge/v1//readings", MqttClientPublishReasonCode.TopicNameInvalid, "topic_gateway")]
    [InlineData("iocedge/v1/gw-a/config", MqttClientPublishReasonCode.TopicNameInvalid, "topic_reserved")]
    [InlineData("IocEdge/v1/gw-a/readings", MqttClientPublishReasonCode.TopicNameInvalid, "topic_not_served")]
    [InlineData("test/hello", MqttClientPublishReasonCode.TopicNameInvalid, "topic_not_served")]
    public async Task Every_topic_that_is_not_stored_gets_a_failure_reason_code(string topic, MqttClientPublishReasonCode code, string reason)
    {
        using var client = await ConnectAsync("gw-a");

        var result = await PublishAsync(client, topic, Readings("gw-a"));

        Assert.Equal(code, result.ReasonCode);
        Assert.Equal(0, _aggregator.Store.Count());
        Assert.Equal(1, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_rejected_total", "reason", reason));
        Assert.True(client.IsConnected); // an MQTT 5 client was told; it stays connected
    }

    [Fact]
    public async Task Payloads_that_are_not_stored_get_0x99_or_0x83_and_are_counted_per_reason()
    {
        using var client = await ConnectAsync("gw-b");
        var status = GatewayStatusJson.Encode(new GatewayStatus("gw-b", GatewayState.Online, Now, "0.1.0", 0));

        var statusOnReadings = await PublishAsync(client, Topics.Readings("gw-b"), status);
        var readingsOnStatus = await PublishAsync(client, Topics.Status("gw-b"), Readings("gw-b"));
        var empty = await PublishAsync(client, Topics.Readings("gw-b"), []);
        var otherGateway = await PublishAsync(client, Topics.Readings("gw-b"), Readings("gw-c"));
        var retained = await PublishAsync(client, Topics.Readings("gw-b"), Readings("gw-b"), retain: true);
        var good = await PublishAsync(client, Topics.Readings("gw-b"), Readings("gw-b", 2));

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, statusOnReadings.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, readingsOnStatus.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, empty.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, otherGateway.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.ImplementationSpecificError, retained.ReasonCode);
        Assert.True(good.IsSuccess);
        Assert.Equal([2L], _aggregator.Store.History("gw-b", "env1/pm2_5").Select(h => h.Sequence));
        var metrics = await MetricsAsync();
        Assert.Equal(2, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_invalid"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_empty"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "payload_gateway"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_rejected_total", "reason", "retained_readings"));
    }

    [Fact]
    public async Task QoS_0_readings_are_stored_but_counted_and_logged_as_unacknowledged()
    {
        using var client = await ConnectAsync("gw-q");

        await PublishAsync(client, Topics.Readings("gw-q"), Readings("gw-q"), MqttQualityOfServiceLevel.AtMostOnce);

        await Eventually.True(() => _aggregator.Store.Count() == 1, TimeSpan.FromSeconds(10), "the QoS 0 reading to be stored");
        Assert.Equal(1, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_unacknowledged_total"));
        Assert.Contains(_log.Messages(1008), m => m.Contains("gw-q", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_MQTT_3_1_1_client_whose_readings_are_refused_is_disconnected_rather_than_acknowledged()
    {
        using var client = await ConnectAsync("GW-01", MqttProtocolVersion.V311);

        // A 3.1.1 PUBACK cannot carry a reason; the broker closes the connection instead, so no PUBACK arrives.
        var publish = PublishAsync(client, "iocedge/v1/GW-01/readings", Readings("gw-01"));
        var outcome = await Record.ExceptionAsync(() => publish.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(outcome is not null && outcome is not TimeoutException, $"expected the connection to close, got {outcome}");
        await Eventually.True(() => !client.IsConnected, TimeSpan.FromSeconds(10), "the 3.1.1 client to be disconnected");
        Assert.Equal(0, _aggregator.Store.Count());
        Assert.Equal(1, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_rejected_total", "reason", "topic_gateway"));
        Assert.Contains(_log.Messages(1007), m => m.Contains("GW-01", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refusals_are_logged_at_most_once_a_minute_per_client_and_reason_with_the_count_held_back()
    {
        using var client = await ConnectAsync("gw-r");
        for (var i = 0; i < 5; i++)
        {
            await PublishAsync(client, "iocedge/v1/gw-r/foo", Readings("gw-r"));
        }

        Assert.Single(_log.Messages(1004));
        _time.Advance(TimeSpan.FromSeconds(61)); // the monotonic clock: FakeTimeProvider moves GetTimestamp too
        await PublishAsync(client, "iocedge/v1/gw-r/foo", Readings("gw-r"));

        var lines = _log.Messages(1004);
        Assert.Equal(2, lines.Count);
        Assert.Contains("4 more like it", lines[1], StringComparison.Ordinal);
        Assert.Equal(6, PrometheusText.Value(await MetricsAsync(), "iocedge_ingest_rejected_total", "reason", "topic_shape"));
    }
}
