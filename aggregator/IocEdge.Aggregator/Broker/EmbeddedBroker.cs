using System.Net;
using System.Net.Sockets;
using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Aggregator.Broker;

/// <summary>
/// The embedded MQTT broker (MQTTnet.Server). It is also the ingest point: a readings message is decoded and committed
/// (JSON on <c>…/readings</c>, §4; compact bytes on <c>…/readings/bin</c>, §8) and committed
/// inside the broker's publish interceptor, so the PUBACK the gateway waits for leaves only after the commit
/// (contract §1). Every other message is refused by <see cref="IngestRules"/> with the reason code of contract §6
/// (0x90 topic, 0x99 payload, 0x83 retained readings), counted per reason and logged (rate-limited by
/// <see cref="LogLimiter"/>); an MQTT 3.1.1 client, whose PUBACK cannot carry a reason, has its connection closed
/// instead, and so has every client when the store fails. Nothing is acknowledged as a success without being stored.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IAsyncDisposable
{
    private readonly AggregatorOptions _options;
    private readonly IngestPipeline _ingest;
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<EmbeddedBroker> _logger;
    private const string ProtocolKey = "iocedge.protocol";
    private readonly LogLimiter _logLimiter;
    private MqttServer? _server;

    public EmbeddedBroker(IOptions<AggregatorOptions> options, IngestPipeline ingest, IngestMetrics metrics, TimeProvider time,
        ILogger<EmbeddedBroker> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _ingest = ingest;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _logLimiter = new LogLimiter(time);
    }

    /// <summary>The port the broker listens on (the configured one, or the one picked when configured as 0).</summary>
    public int Port { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var port = _options.Mqtt.Port == 0 ? PickFreePort() : _options.Mqtt.Port;
        var bind = IPAddress.Parse(_options.Mqtt.BindAddress);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            // Bind exactly the configured address: MQTTnet also opens [::] unless the other family is set to None.
            .WithDefaultEndpointBoundIPAddress(bind.AddressFamily == AddressFamily.InterNetwork ? bind : IPAddress.None)
            .WithDefaultEndpointBoundIPV6Address(bind.AddressFamily == AddressFamily.InterNetworkV6 ? bind : IPAddress.None)
            .WithDefaultEndpointPort(port)
            .WithMaxPendingMessagesPerClient(_options.Mqtt.MaxPendingMessagesPerClient)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.ClientConnectedAsync += e =>
        {
            // Remembered for the session: a refusal is told to an MQTT 5 client by reason code, to an older one by
            // closing its connection (contract §6).
            e.SessionItems[ProtocolKey] = e.ProtocolVersion;
            _logger.GatewayConnected(e.ClientId, e.RemoteEndPoint?.ToString());
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += OnDisconnectedAsync;
        _server.ApplicationMessageEnqueuedOrDroppedAsync += e =>
        {
            if (e.IsDropped)
            {
                _metrics.Dropped();
                _logger.BrokerDropped(e.ReceiverClientId);
            }

            return Task.CompletedTask;
        };
        try
        {
            await _server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (FindAddressInUse(ex))
        {
            throw new PortInUseException($"MQTT: port {port} on {bind} is already in use (another broker such as mosquitto?): " +
                "stop it or set Aggregator:Mqtt:Port to a free port (such as --Aggregator:Mqtt:Port=1884).", ex);
        }
        Port = port;
        _logger.BrokerListening(bind.ToString(), port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync(new MqttServerStopOptionsBuilder().Build()).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            _server.Dispose();
            _server = null;
        }
    }

    private async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        var topic = message.Topic ?? string.Empty;
        if (IngestRules.CheckTopic(topic, out var gatewayId, out var kind) is { } topicRefusal)
        {
            Refuse(e, topic, topicRefusal);
            return;
        }

        var isReadings = kind is TopicKind.Readings or TopicKind.ReadingsCompact;
        var payloadKind = kind == TopicKind.ReadingsCompact ? PayloadKind.Compact : PayloadKind.Json;
        if (isReadings)
        {
            _metrics.Message();
        }

        var payload = message.Payload;
        if (payload.IsEmpty)
        {
            if (kind == TopicKind.Status && message.Retain)
            {
                // MQTT's way of deleting a retained message (a technician clearing a gateway's old status): the broker
                // does it, and nothing was meant to be stored.
                return;
            }

            RefuseReadings(e, topic, IngestRules.EmptyPayload, isReadings, payloadKind);
            return;
        }

        if (isReadings && message.Retain)
        {
            RefuseReadings(e, topic, IngestRules.RetainedReadings, isReadings, payloadKind);
            return;
        }

        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        try
        {
            if (kind == TopicKind.Status)
            {
                if (!GatewayStatusJson.TryDecode(bytes, gatewayId, out var status, out var statusError))
                {
                    Refuse(e, topic, IngestRules.BadPayload(statusError!));
                    return;
                }

                // Contract §5: the optional periodic health object, kept as received and served as the gateway's current health.
                await _ingest.SubmitStatusAsync(status!, e.CancellationToken, StatusHealth.Extract(bytes)).ConfigureAwait(false);
                return;
            }

            ReadingBatch? batch;
            if (kind == TopicKind.ReadingsCompact)
            {
                // Contract §8: the same readings in compact bytes; a boot epoch maps to the identity stream (§8.2), so
                // the exactly-once key (gateway, stream, seq) is the same one JSON batches use.
                if (!CompactCodec.TryDecode(bytes, out var compact, out var compactError))
                {
                    RefuseReadings(e, topic, IngestRules.BadPayload("compact " + compactError), isReadings, payloadKind);
                    return;
                }

                batch = ReadingBatchCompact.ToReadingBatch(gatewayId, compact);
            }
            else if (!ReadingBatchJson.TryDecode(bytes, gatewayId, out batch, out var error))
            {
                RefuseReadings(e, topic, IngestRules.BadPayload(error!), isReadings, payloadKind);
                return;
            }

            await _ingest.SubmitAsync(batch!, e.CancellationToken).ConfigureAwait(false);
            _metrics.Accepted(payloadKind);
            if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
            {
                // Stored, but QoS 0 has no PUBACK: the sender cannot know (contract §1 asks QoS 1). Counted and logged.
                _metrics.UnacknowledgedMessage();
                if (_logLimiter.TryEnter(e.ClientId, "qos0", out var suppressed))
                {
                    _logger.UnacknowledgedReadings(e.ClientId, topic, suppressed);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !e.CancellationToken.IsCancellationRequested)
        {
            // Not stored (the store is failing; IngestPipeline counted and logged it): the sender must keep the message.
            // MQTTnet sends no PUBACK when it closes the connection, so every sender (MQTT 5: DISCONNECT 0x80; 3.1.1:
            // the socket closes) keeps the message and resends it after reconnecting.
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = "not stored: " + ex.Message;
            e.CloseConnection = true;
        }
    }

    private void RefuseReadings(InterceptingPublishEventArgs e, string topic, Refusal refusal, bool isReadings, PayloadKind payloadKind)
    {
        if (isReadings)
        {
            _metrics.Refused(payloadKind);
        }

        Refuse(e, topic, refusal);
    }

    private void Refuse(InterceptingPublishEventArgs e, string topic, Refusal refusal)
    {
        _metrics.Reject(refusal.Reason);
        if (_logLimiter.TryEnter(e.ClientId, refusal.Reason, out var suppressed))
        {
            _logger.MessageRefused(e.ClientId, topic.Length > 200 ? topic[..200] + "..." : topic, refusal.Reason, (int)refusal.Code,
                refusal.Detail, suppressed);
        }

        e.ProcessPublish = false;
        e.Response.ReasonCode = refusal.Code;
        e.Response.ReasonString = refusal.Detail;
        if (e.ApplicationMessage.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce &&
            (!e.SessionItems.Contains(ProtocolKey) || e.SessionItems[ProtocolKey] is not MqttProtocolVersion.V500))
        {
            // An MQTT 3.1.1 PUBACK has no reason code: it can only say "stored". Closing the connection instead (no
            // PUBACK) makes the sender keep the message and resend it, which is visible, rather than delete it.
            if (_logLimiter.TryEnter(e.ClientId, "old_protocol", out _))
            {
                _logger.ClosingOldProtocolClient(e.ClientId, e.SessionItems[ProtocolKey]?.ToString() ?? "unknown");
            }

            e.CloseConnection = true;
        }
    }

    private async Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (!Identifiers.IsValidGatewayId(e.ClientId))
        {
            return;
        }

        _logger.GatewayDisconnected(e.ClientId, e.DisconnectType.ToString());
        if (e.DisconnectType != MqttClientDisconnectType.Clean)
        {
            // An unclean end is what the gateway's will announces; record it even if the will is not delivered to us.
            try
            {
                await _ingest.SubmitStatusAsync(new GatewayStatus(e.ClientId, GatewayState.Offline, _time.GetUtcNow()),
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Shutting down.
            }
        }
    }

    private static bool FindAddressInUse(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    private static int PickFreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
