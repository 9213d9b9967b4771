using System.Net;
using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Aggregator.Broker;

/// <summary>
/// The embedded MQTT broker (MQTTnet.Server). It is also the ingest point: a readings message is decoded and committed
/// inside the broker's publish interceptor, so the PUBACK the gateway waits for leaves only after the commit
/// (contract §1). A malformed payload is answered with reason 0x99 (payload format invalid), a store failure with 0x80;
/// MQTT 3.1.1 has no reason codes, so there a store failure closes the connection instead of acknowledging.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IAsyncDisposable
{
    private readonly AggregatorOptions _options;
    private readonly IngestPipeline _ingest;
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<EmbeddedBroker> _logger;
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
    }

    /// <summary>The port the broker listens on (the configured one, or the one picked when configured as 0).</summary>
    public int Port { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var port = _options.Mqtt.Port == 0 ? PickFreePort() : _options.Mqtt.Port;
        var bind = IPAddress.Parse(_options.Mqtt.BindAddress);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(bind)
            .WithDefaultEndpointPort(port)
            .WithMaxPendingMessagesPerClient(_options.Mqtt.MaxPendingMessagesPerClient)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.ClientConnectedAsync += e =>
        {
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
        await _server.StartAsync().ConfigureAwait(false);
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
        var topic = e.ApplicationMessage.Topic;
        if (!Topics.TryParse(topic, out var gatewayId, out var kind))
        {
            // Not ours (a technician's test message, a future topic): the broker passes it on, nothing is stored.
            return;
        }

        var payload = e.ApplicationMessage.Payload;
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        if (kind == TopicKind.Status)
        {
            if (GatewayStatusJson.TryDecode(bytes, gatewayId, out var status, out var statusError))
            {
                await _ingest.SubmitStatusAsync(status!, e.CancellationToken).ConfigureAwait(false);
            }
            else
            {
                Reject(e, gatewayId, topic, statusError!);
            }

            return;
        }

        _metrics.Message();
        if (!ReadingBatchJson.TryDecode(bytes, gatewayId, out var batch, out var error))
        {
            Reject(e, e.ClientId, topic, error!);
            return;
        }

        try
        {
            await _ingest.SubmitAsync(batch!, e.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !e.CancellationToken.IsCancellationRequested)
        {
            // Not stored: the gateway must keep the readings. MQTT 5 says so with the reason code; an MQTT 3.1.1 PUBACK
            // cannot carry one, so the connection is closed and the gateway resends after reconnecting.
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = "not stored: " + ex.Message;
            e.CloseConnection = true;
        }
    }

    private void Reject(InterceptingPublishEventArgs e, string clientId, string topic, string reason)
    {
        _metrics.Reject();
        _logger.MessageRejected(clientId, topic, reason);
        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
        e.Response.ReasonString = reason;
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

    private static int PickFreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
