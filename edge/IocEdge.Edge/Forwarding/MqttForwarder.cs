using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Forwarding;

/// <summary>
/// Sends the outbox to the aggregator over MQTT: oldest first, one QoS 1 message of up to
/// <see cref="GatewayMqttOptions.BatchSize"/> readings at a time, and removes readings only after a successful PUBACK
/// (which the aggregator sends after its commit). Reconnects by itself with exponential backoff on the
/// <see cref="TimeProvider"/>; a broker outage only makes the outbox grow.
/// </summary>
public sealed class MqttForwarder : BackgroundService
{
    private readonly GatewayOptions _options;
    private readonly SqliteOutbox _outbox;
    private readonly TimeProvider _time;
    private readonly ILogger<MqttForwarder> _logger;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly IMqttClient _client;
    private long _forwarded;
    private long _failures;

    public MqttForwarder(IOptions<GatewayOptions> options, SqliteOutbox outbox, TimeProvider time, ILogger<MqttForwarder> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _outbox = outbox;
        _time = time;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient();
        _outbox.Appended += Wake;
    }

    /// <summary>Readings acknowledged by the aggregator since start.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    public bool IsConnected => _client.IsConnected;

    /// <summary>Connection or publish attempts that failed since start (each one is followed by a backoff).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var mqtt = _options.Mqtt;
        var delay = mqtt.ReconnectDelayMin;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    await ConnectAsync(stoppingToken).ConfigureAwait(false);
                    delay = mqtt.ReconnectDelayMin;
                }

                await DrainAsync(stoppingToken).ConfigureAwait(false);
                // Nothing waiting: sleep until a reading is appended, or at most a keep-alive period.
                await WaitForWorkAsync(mqtt.KeepAlive, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Supervision: a broker outage is expected and logged briefly; anything else is a defect, logged with
                // its stack trace. Either way count it, back off and go on: the readings wait in the outbox.
                var failures = Interlocked.Increment(ref _failures);
                if (ex is MQTTnet.Exceptions.MqttCommunicationException or MqttPublishRefusedException
                    or OperationCanceledException or IOException)
                {
                    _logger.ConnectFailed(mqtt.Host, mqtt.Port, ex.Message, delay);
                }
                else
                {
                    _logger.ForwarderFailed(ex, failures, delay);
                }

                try
                {
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, mqtt.ReconnectDelayMax.Ticks));
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                await PublishStatusAsync(GatewayState.Offline, cancellationToken).ConfigureAwait(false);
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException
                                           or InvalidOperationException or IOException)
            {
                // Stopping anyway; the will tells the aggregator.
            }
        }
    }

    public override void Dispose()
    {
        _outbox.Appended -= Wake;
        _client.Dispose();
        _wake.Dispose();
        base.Dispose();
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task WaitForWorkAsync(TimeSpan max, CancellationToken ct)
    {
        using var timeout = new CancellationTokenSource(max, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            await _wake.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The period ran out: loop round, check the connection.
        }
    }

    private async Task ConnectAsync(CancellationToken ct)
    {
        var mqtt = _options.Mqtt;
        var will = GatewayStatusJson.Encode(new GatewayStatus(_options.Id, GatewayState.Offline, _time.GetUtcNow()));
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(mqtt.Host, mqtt.Port)
            .WithClientId(_options.Id)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(mqtt.KeepAlive)
            .WithTimeout(mqtt.Timeout)
            .WithWillTopic(Topics.Status(_options.Id))
            .WithWillPayload(will)
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (!string.IsNullOrEmpty(mqtt.Username))
        {
            builder.WithCredentials(mqtt.Username, mqtt.Password);
        }

        await _client.ConnectAsync(builder.Build(), ct).ConfigureAwait(false);
        _logger.Connected(mqtt.Host, mqtt.Port, _options.Id, _outbox.Count);
        await PublishStatusAsync(GatewayState.Online, ct).ConfigureAwait(false);
    }

    private async Task PublishStatusAsync(GatewayState state, CancellationToken ct)
    {
        var status = new GatewayStatus(_options.Id, state, _time.GetUtcNow(), GatewayInfo.Version, _outbox.Count);
        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Status(_options.Id))
            .WithPayload(GatewayStatusJson.Encode(status))
            .WithRetainFlag()
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), ct).ConfigureAwait(false);
    }

    private async Task DrainAsync(CancellationToken ct)
    {
        var topic = Topics.Readings(_options.Id);
        while (!ct.IsCancellationRequested)
        {
            var batch = _outbox.Peek(_options.Mqtt.BatchSize);
            if (batch.Count == 0)
            {
                return;
            }

            // Peek has already set aside every row that breaks the contract; a reading the encoder still refuses is
            // dead-lettered on its own rather than blocking the queue behind it.
            if (!TryEncode(batch, out var payload))
            {
                continue;
            }

            var result = await _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), ct).ConfigureAwait(false);

            if (result.IsSuccess)
            {
                _outbox.Acknowledge(batch);
                Interlocked.Add(ref _forwarded, batch.Count);
                _logger.Forwarded(batch[0].Sequence, batch[^1].Sequence, batch.Count);
            }
            else if (result.ReasonCode == MqttClientPublishReasonCode.PayloadFormatInvalid)
            {
                // Sending it again cannot help (contract §6): set it aside so the rest keeps flowing.
                _logger.DeadLettered(batch.Count, result.ReasonString ?? "no reason given");
                _outbox.DeadLetter(batch, result.ReasonString ?? "payload format invalid");
            }
            else
            {
                _logger.PublishFailed(batch.Count, $"{result.ReasonCode} {result.ReasonString}");
                throw new MqttPublishRefusedException(result.ReasonCode, result.ReasonString);
            }
        }
    }

    private bool TryEncode(IReadOnlyList<SequencedReading> batch, out byte[] payload)
    {
        try
        {
            payload = ReadingBatchJson.Encode(new ReadingBatch(_options.Id, _outbox.StreamId, batch));
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            var set = 0;
            foreach (var one in batch)
            {
                try
                {
                    _ = ReadingBatchJson.Encode(new ReadingBatch(_options.Id, _outbox.StreamId, [one]));
                }
                catch (Exception single) when (single is ArgumentException or InvalidOperationException)
                {
                    _logger.RowDeadLettered(one.Sequence, single.Message);
                    _outbox.DeadLetter([one], "could not be encoded: " + single.Message);
                    set++;
                }
            }

            if (set == 0)
            {
                throw; // not one reading's fault (the batch as a whole): back off and retry, never drop good rows
            }

            payload = [];
            return false;
        }
    }
}

/// <summary>The aggregator did not store a batch (reason ≥ 0x80 other than 0x99): back off and send it again.</summary>
public sealed class MqttPublishRefusedException(MqttClientPublishReasonCode code, string? reason)
    : Exception($"The broker refused the batch: {code} {reason}")
{
    public MqttClientPublishReasonCode Code { get; } = code;
}
