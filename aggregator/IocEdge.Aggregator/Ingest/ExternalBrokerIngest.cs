using System.Threading.Channels;
using IocEdge.Aggregator.Broker;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Ingest;

/// <summary>
/// Ingest from an external MQTT 5 broker (mosquitto here; EMQX or HiveMQ clusters in production) instead of the
/// embedded one: the aggregator subscribes to every gateway's readings and status topics, through a shared
/// subscription (MQTT 5 §4.8.2, <c>$share/{group}/iocedge/v1/+/readings</c>) so that N instances split the load.
/// </summary>
/// <remarks>
/// <para>Exactly once: each message is acknowledged (PUBACK, MQTT 5 §3.4) only after the commit that stored it, in the
/// order the messages were received (§4.6); a message taken but not stored (the instance died, the store failed) stays
/// unacknowledged in the broker's session for this client id (Clean Start 0, Session Expiry Interval
/// <see cref="ExternalBrokerOptions.SessionExpiry"/>, §3.1.2.4) and is delivered again when the instance reconnects;
/// the store's key (gateway, stream, seq) makes a message stored twice (committed, PUBACK lost) count once.</para>
/// <para>Pipelining: the message handler only reads the message and hands it to <see cref="IngestPipeline"/>; it does
/// not wait for the commit, so up to <see cref="ExternalBrokerOptions.ReceiveMaximum"/> messages (of one gateway or
/// many) share one group commit. A separate loop awaits each message's commit in receive order and acknowledges it.</para>
/// <para>Refusals (contract §6) cannot reach the gateway here (the broker already acknowledged its PUBLISH): a refused
/// message is counted by reason and logged (rate-limited), then acknowledged so the broker does not redeliver it forever.
/// When the store fails, the connection is dropped instead, so that every unacknowledged message comes back.</para>
/// </remarks>
public sealed partial class ExternalBrokerIngest : BackgroundService
{
    private static readonly string[] Filters = ["iocedge/v1/+/readings", "iocedge/v1/+/readings/bin", "iocedge/v1/+/status"];
    private static readonly TimeSpan ReconnectMinDelay = TimeSpan.FromMilliseconds(500);

    private readonly ExternalBrokerOptions _options;
    private readonly IngestPipeline _ingest;
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ExternalBrokerIngest> _logger;
    private readonly LogLimiter _logLimiter;
    private readonly Channel<Pending> _acks = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private IMqttClient? _client;
    private TaskCompletionSource _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connection;
    private volatile bool _subscribed;
    private long _acknowledged;
    private long _storeFailures;

    public ExternalBrokerIngest(IOptions<AggregatorOptions> options, IngestPipeline ingest, IngestMetrics metrics, TimeProvider time,
        ILogger<ExternalBrokerIngest> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.ExternalBroker;
        _ingest = ingest;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _logLimiter = new LogLimiter(time);
    }

    /// <summary>
    /// True while connected and subscribed: from the SUBACK that granted every filter until the connection is lost. Not
    /// from the CONNACK: until the SUBACK, a fresh session (its first start, or after its session expired) has no
    /// subscription, and mosquitto answers a gateway's QoS 1 PUBLISH with "No matching subscribers" and drops it.
    /// </summary>
    public bool IsConnected => _subscribed && _client?.IsConnected == true;

    /// <summary>Messages acknowledged to the broker after their commit (or refusal) since start.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Times a commit failed and the connection was dropped so the broker redelivers.</summary>
    public long StoreFailures => Interlocked.Read(ref _storeFailures);

    /// <summary>The subscription filters, shared (<c>$share/{group}/…</c>) unless <paramref name="group"/> is empty.</summary>
    public static IReadOnlyList<string> SubscriptionFilters(string group) =>
        group.Length == 0 ? Filters : Filters.Select(f => $"$share/{group}/{f}").ToArray();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        _client = client;
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += e =>
        {
            // A failed connect attempt raises this too, possibly late, on another thread, once the next attempt is up:
            // taken for a lost connection, it would mark the live connection's acknowledgements as old (never sent,
            // so the broker stops delivering at its in-flight limit). The connect loop handles a failed attempt itself.
            if (!e.ClientWasConnected)
            {
                return Task.CompletedTask;
            }

            // Acknowledgements still waiting belong to the session's old connection: drop them (the broker redelivers).
            _subscribed = false;
            Interlocked.Increment(ref _connection);
            _disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        var ackLoop = AcknowledgeLoopAsync(stoppingToken);
        var attempt = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    _disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _subscribed = false;
                    await ConnectAndSubscribeAsync(client, stoppingToken).ConfigureAwait(false);
                    attempt = 0;
                    await _disconnected.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
                    LogDisconnected(_options.Host, _options.Port);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // Supervised: an unreachable broker, a refused CONNECT or SUBSCRIBE, a failed socket: back off, retry.
                    LogConnectFailed(_options.Host, _options.Port, ex.Message);
                }

                // Exponential backoff with full jitter: N instances restarting together do not reconnect in step.
                var ceiling = Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds,
                    ReconnectMinDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt++, 16)));
                var delay = TimeSpan.FromMilliseconds(ReconnectMinDelay.TotalMilliseconds + Random.Shared.NextDouble() * ceiling);
                try
                {
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            _acks.Writer.TryComplete();
            if (client.IsConnected)
            {
                // A normal disconnect keeps the session (its expiry was set at CONNECT): what was not acknowledged is
                // kept by the broker for this client id.
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cts.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    LogConnectFailed(_options.Host, _options.Port, "disconnect: " + ex.Message);
                }
            }

            await ackLoop.ConfigureAwait(false);
            _client = null;
        }
    }

    private async Task ConnectAndSubscribeAsync(IMqttClient client, CancellationToken ct)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Host, _options.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(_options.EffectiveClientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)_options.SessionExpiry.TotalSeconds)
            .WithReceiveMaximum((ushort)_options.ReceiveMaximum)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_options.Username.Length > 0)
        {
            builder.WithCredentials(_options.Username, _options.Password);
        }

        if (_options.Tls == "on")
        {
            builder.WithTlsOptions(o => o.UseTls());
        }

        var connected = await client.ConnectAsync(builder.Build(), ct).ConfigureAwait(false);
        if (connected.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"CONNECT refused: {connected.ResultCode} {connected.ReasonString}");
        }

        // Subscribing again on a resumed session is harmless (§3.8.4: the subscription is replaced, queued messages kept).
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in SubscriptionFilters(_options.SharedGroup))
        {
            subscribe.WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var subscribed = await client.SubscribeAsync(subscribe.Build(), ct).ConfigureAwait(false);
        foreach (var item in subscribed.Items)
        {
            if (item.ResultCode != MqttClientSubscribeResultCode.GrantedQoS1)
            {
                // QoS 0 would lose readings silently; a refusal is an ACL or a broker without shared subscriptions.
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), ct).ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"SUBSCRIBE {item.TopicFilter.Topic} answered {item.ResultCode} (QoS 1 needed): check the broker's ACL for user '{_options.Username}' and that it supports MQTT 5 shared subscriptions");
            }
        }

        _subscribed = true;
        LogConnected(_options.Host, _options.Port, _options.EffectiveClientId, connected.IsSessionPresent, _options.SharedGroup);
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        e.AutoAcknowledge = false;
        var connection = Volatile.Read(ref _connection);
        var message = e.ApplicationMessage;
        var topic = message.Topic ?? string.Empty;
        var payload = message.Payload;
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        var intake = MessageIntake.Read(topic, bytes, message.Retain);
        if (intake.IsReadings)
        {
            _metrics.Message();
        }

        Task<bool> work;
        switch (intake.Kind)
        {
            case IntakeKind.Readings:
                work = StoreAsync(intake);
                break;
            case IntakeKind.Status:
                work = RecordStatusAsync(intake);
                break;
            case IntakeKind.Refused:
                Refuse(intake, topic);
                work = Task.FromResult(true);
                break;
            default:
                work = Task.FromResult(true);
                break;
        }

        _acks.Writer.TryWrite(new Pending(e, work, connection));
        return Task.CompletedTask;
    }

    private async Task<bool> StoreAsync(Intake intake)
    {
        try
        {
            await _ingest.SubmitAsync(intake.Batch!, CancellationToken.None).ConfigureAwait(false);
            _metrics.Accepted(intake.PayloadKind);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // IngestPipeline counted and logged the store failure.
            return false;
        }
    }

    private async Task<bool> RecordStatusAsync(Intake intake)
    {
        try
        {
            await _ingest.SubmitStatusAsync(intake.Status!, CancellationToken.None, intake.HealthJson).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }

    private void Refuse(Intake intake, string topic)
    {
        if (intake.IsReadings)
        {
            _metrics.Refused(intake.PayloadKind);
        }

        var refusal = intake.Refusal;
        _metrics.Reject(refusal.Reason);
        var source = intake.GatewayId.Length > 0 ? intake.GatewayId : "unknown";
        if (_logLimiter.TryEnter(source, refusal.Reason, out var suppressed))
        {
            _logger.MessageRefused(source, topic.Length > 200 ? topic[..200] + "..." : topic, refusal.Reason, (int)refusal.Code,
                refusal.Detail.Length > 300 ? refusal.Detail[..300] + "..." : refusal.Detail, suppressed);
        }
    }

    private async Task AcknowledgeLoopAsync(CancellationToken stoppingToken)
    {
        await foreach (var p in _acks.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var stored = await p.Work.ConfigureAwait(false);
            if (p.Connection != Volatile.Read(ref _connection) || stoppingToken.IsCancellationRequested)
            {
                // Received on a connection that is gone, or shutting down: not acknowledged, the broker redelivers it.
                continue;
            }

            if (!stored)
            {
                Interlocked.Increment(ref _storeFailures);
                Interlocked.Increment(ref _connection);
                LogStoreFailedReconnecting();
                try
                {
                    await _client!.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None)
                        .ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    LogConnectFailed(_options.Host, _options.Port, "disconnect: " + ex.Message);
                }

                continue;
            }

            try
            {
                await p.Args.AcknowledgeAsync(CancellationToken.None).ConfigureAwait(false);
                Interlocked.Increment(ref _acknowledged);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The connection broke under the PUBACK: the broker redelivers; the store's key absorbs the repeat.
                LogConnectFailed(_options.Host, _options.Port, "PUBACK: " + ex.Message);
            }
        }
    }

    private readonly record struct Pending(MqttApplicationMessageReceivedEventArgs Args, Task<bool> Work, int Connection);

    [LoggerMessage(1101, LogLevel.Information,
        "Ingesting from external MQTT broker {Host}:{Port} as {ClientId} (session resumed: {SessionPresent}; shared group '{Group}')")]
    private partial void LogConnected(string host, int port, string clientId, bool sessionPresent, string group);

    [LoggerMessage(1102, LogLevel.Warning, "External MQTT broker {Host}:{Port}: {Problem}; retrying with backoff")]
    private partial void LogConnectFailed(string host, int port, string problem);

    [LoggerMessage(1103, LogLevel.Warning, "Lost the external MQTT broker {Host}:{Port}; reconnecting (unacknowledged messages will be redelivered)")]
    private partial void LogDisconnected(string host, int port);

    [LoggerMessage(1104, LogLevel.Error,
        "A commit failed: dropping the connection to the external broker so that every unacknowledged message is redelivered")]
    private partial void LogStoreFailedReconnecting();
}
