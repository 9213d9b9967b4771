using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// A real aggregator on a temp folder whose clock is a <see cref="FakeTimeProvider"/> at <see cref="Now"/>, with one
/// MQTTnet client connected to its embedded broker as gateway <c>clientId</c>: the setting the broker-level tests share.
/// </summary>
/// <param name="directoryName">Prefix of the temp folder.</param>
/// <param name="clientId">The client's id (a gateway id).</param>
/// <param name="protocol">MQTT version of the client; null keeps MQTTnet's default.</param>
public abstract class AggregatorClientTests(string directoryName, string clientId, MqttProtocolVersion? protocol = MqttProtocolVersion.V500)
    : IAsyncLifetime
{
    /// <summary>The aggregator's receive time in these tests.</summary>
    protected static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _dir = new(directoryName);

    protected FakeTimeProvider Time { get; } = new(Now);

    protected TestAggregator Aggregator { get; private set; } = null!;

    protected IMqttClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Services.AddSingleton<TimeProvider>(Time));
        Client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", Aggregator.MqttPort).WithClientId(clientId);
        if (protocol is { } version)
        {
            options.WithProtocolVersion(version);
        }

        await Client.ConnectAsync(options.Build());
    }

    /// <summary>
    /// Publishes one readings message of the client's gateway (stream s1, unit degC, quality good) at QoS 1 and asserts
    /// its PUBACK is a success, so that the readings are stored (and in the latest cache) when it returns.
    /// </summary>
    protected async Task PublishAsync(params (string Channel, long Seq, DateTimeOffset Ts, double Value)[] readings)
    {
        var batch = new ReadingBatch(clientId, "s1", readings.Select(r => new SequencedReading(r.Seq,
            new Reading(r.Channel, r.Ts, r.Value, "degC", Quality.Good))).ToArray());
        var result = await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings(clientId))
            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(result.IsSuccess, result.ReasonCode + " " + result.ReasonString);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Aggregator.DisposeAsync();
        _dir.Dispose();
    }
}
