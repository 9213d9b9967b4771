using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Security;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Formatter;
using MQTTnet.Packets;
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
/// <para>Security (issue 15): each CONNECT is authenticated against <see cref="CredentialStore"/> (or a client
/// certificate on the mutual-TLS listener) and held to <see cref="MqttAccess"/>: client id = gateway id, publish and
/// subscribe only under <c>iocedge/v1/{id}/</c>, readers subscribe only. Bounds: CONNECT timeout, maximum packet size,
/// readings and new series per message and per gateway (<see cref="SeriesBudget"/>), a bounded queue per subscriber
/// (oldest dropped, counted). Refusals are counted in <see cref="SecurityMetrics"/>.</para>
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IAsyncDisposable, Provisioning.IGatewayBrokerControl, Provisioning.IBrokerPorts
{
    private readonly AggregatorOptions _options;
    private readonly IngestPipeline _ingest;
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<EmbeddedBroker> _logger;
    private const string ProtocolKey = "iocedge.protocol";
    private const string AccountKey = "iocedge.account";
    private const string GatewayKey = "iocedge.gateway";
    private const string ChannelKey = "iocedge.channel";
    private readonly LogLimiter _logLimiter;
    private readonly CredentialStore _credentials;
    private readonly SecurityMetrics _security;
    private readonly SeriesBudget _series;
    private readonly MqttAuthMode _authMode;
    private readonly Provisioning.GatewayRegistry? _registry;
    // Marks messages the aggregator itself injects (configuration push, contract §9.1): no client can forge this object.
    private static readonly object ServerOrigin = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _drops = new(StringComparer.Ordinal);
    private X509Certificate2Collection? _clientCa;
    private X509Certificate2? _serverCertificate;
    private GuardedServerAdapter? _adapter;
    private MqttServer? _server;

    public EmbeddedBroker(IOptions<AggregatorOptions> options, IngestPipeline ingest, IngestMetrics metrics, TimeProvider time,
        ILogger<EmbeddedBroker> logger, CredentialStore credentials, SecurityMetrics security, IReadingStore store,
        Provisioning.GatewayRegistry? registry = null)
    {
        _registry = registry;
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _ingest = ingest;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _logLimiter = new LogLimiter(time);
        _credentials = credentials;
        _security = security;
        _series = new SeriesBudget(store, _options.Bounds);
        _authMode = MqttAuthModes.TryParse(_options.Mqtt.Authentication, out var mode) ? mode : MqttAuthMode.Password;
    }

    /// <summary>The port the broker listens on (the configured one, or the one picked when configured as 0).</summary>
    public int Port { get; private set; }

    /// <summary>The TLS port (0 when there is no TLS listener).</summary>
    public int TlsPort { get; private set; }

    /// <summary>
    /// True when CONNECTs must authenticate now: <c>password</c>, or <c>auto</c> once an account exists or mutual TLS is
    /// configured. Re-evaluated on every CONNECT, so the first provisioned gateway closes the broker to anonymous clients.
    /// </summary>
    public bool AuthenticationRequired => _authMode switch
    {
        MqttAuthMode.None => false,
        MqttAuthMode.Password => true,
        _ => _clientCa is not null || _credentials.HasAccounts,
    };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var bind = IPAddress.Parse(_options.Mqtt.BindAddress);
        var endpoints = new List<BrokerEndpoint> { new(bind, _options.Mqtt.Port) };
        var tls = _options.Mqtt.Tls;
        if (!string.IsNullOrEmpty(tls.CertificatePath))
        {
            // Through PKCS#12 once, so SslStream on Linux can use a key that came from a PEM file.
            using var loaded = TlsCertificates.LoadServerCertificate(tls.CertificatePath, tls.KeyPath, tls.CertificatePassword);
            _serverCertificate = X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pfx), null);
            _clientCa = string.IsNullOrEmpty(tls.ClientCaPath) ? null : TlsCertificates.LoadCaBundle(tls.ClientCaPath);
            endpoints.Add(new BrokerEndpoint(bind, tls.Port, _serverCertificate, _clientCa));
        }

        var builder = new MqttServerOptionsBuilder()
            // Our own listener (GuardedServerAdapter) serves the endpoints; MQTTnet's is off.
            .WithoutDefaultEndpoint()
            .WithoutEncryptedEndpoint()
            .WithMaxPendingMessagesPerClient(_options.Mqtt.MaxPendingMessagesPerClient)
            // Telegraf's lesson: a bounded queue drops the oldest and counts it (iocedge.mqtt.dropped), never silently.
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropOldestQueuedMessage)
            // A socket that never sends CONNECT is closed after this (MQTTnet's default is 100 s).
            .WithDefaultCommunicationTimeout(_options.Mqtt.ConnectTimeout);
        _adapter = new GuardedServerAdapter(endpoints, _options.Mqtt.MaxPacketSize, _options.Mqtt.ConnectTimeout, _time)
        {
            PacketTooLarge = OnPacketTooLarge,
            ConnectionFailed = OnConnectionFailed,
        };
        _server = new MqttServerFactory().CreateMqttServer(builder.Build(), [_adapter], new MqttNetLogBridge(_logger, _logLimiter));
        _server.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        _server.InterceptingSubscriptionAsync += OnSubscribingAsync;
        _server.InterceptingOutboundPacketAsync += e =>
        {
            // MQTT 5 §3.2.2.3.6: tell the client the largest packet we accept, so a compliant client never sends more.
            if (e.Packet is MqttConnAckPacket ack)
            {
                ack.MaximumPacketSize = (uint)_options.Mqtt.MaxPacketSize;
            }

            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.ClientConnectedAsync += e =>
        {
            // Remembered for the session: a refusal is told to an MQTT 5 client by reason code, to an older one by
            // closing its connection (contract §6).
            e.SessionItems[ProtocolKey] = e.ProtocolVersion;
            _logger.GatewayConnected(Bounded.Text(e.ClientId), e.RemoteEndPoint?.ToString());
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += OnDisconnectedAsync;
        _server.ApplicationMessageEnqueuedOrDroppedAsync += e =>
        {
            // Only the DropNewMessage strategy reports a drop here; DropOldestQueuedMessage (ours) reports it below.
            if (e.IsDropped)
            {
                OnDropped(e.ReceiverClientId);
            }

            return Task.CompletedTask;
        };
        // MQTTnet 5.2 reports a drop of the oldest queued message only through this event (its enqueue result says
        // "enqueued"), so this is where the slow-subscriber bound is counted.
        _server.QueuedApplicationMessageOverwrittenAsync += e =>
        {
            OnDropped(e.ReceiverClientId);
            return Task.CompletedTask;
        };
        try
        {
            await _server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (FindAddressInUse(ex))
        {
            var ports = endpoints.Count > 1 ? $"{_options.Mqtt.Port} or TLS port {tls.Port}" : _options.Mqtt.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new PortInUseException($"MQTT: port {ports} on {bind} is already in use (another broker such as mosquitto?): " +
                "stop it or set Aggregator:Mqtt:Port to a free port (such as --Aggregator:Mqtt:Port=1884).", ex);
        }

        Port = _adapter.BoundPort(0);
        TlsPort = endpoints.Count > 1 ? _adapter.BoundPort(1) : 0;
        _logger.BrokerListening(bind.ToString(), Port);
        if (!AuthenticationRequired)
        {
            _logger.BrokerAnonymous(_options.CredentialsPath);
        }
    }

    private void OnPacketTooLarge(EndPoint? remote, long size)
    {
        _security.MqttRefused("packet", SecurityMetrics.Reasons.TooLarge);
        var who = remote?.ToString();
        if (_logLimiter.TryEnter(who is null ? "?" : who.Split(':')[0], "packet_too_large", out var suppressed))
        {
            _logger.PacketTooLarge(who, size, _options.Mqtt.MaxPacketSize, suppressed);
        }
    }

    private void OnConnectionFailed(EndPoint? remote, string stage, Exception ex)
    {
        if (ex is PacketTooLargeException || ex.InnerException is PacketTooLargeException)
        {
            return; // counted and logged by OnPacketTooLarge
        }

        if (stage == "tls")
        {
            _security.MqttRefused("tls", SecurityMetrics.Reasons.Certificate);
        }

        if (_logLimiter.TryEnter("listener", stage, out var suppressed))
        {
            _logger.ConnectionFailed(remote?.ToString(), stage, Bounded.Text(ex.GetBaseException().Message), suppressed);
        }
    }

    /// <summary>
    /// One message dropped from <paramref name="clientId"/>'s full queue: counted. A subscriber that has lost a whole
    /// queue (<c>MaxPendingMessagesPerClient</c> drops) is disconnected: MQTTnet 5.2 keeps every QoS 1 message it
    /// queued in the session's unacknowledged list even after dropping it, so a subscriber that never reads would
    /// otherwise grow the process without bound. It may reconnect (a new session) and read on.
    /// </summary>
    private void OnDropped(string clientId)
    {
        _metrics.Dropped();
        _security.Dropped();
        if (_logLimiter.TryEnter(Bounded.Text(clientId), "dropped", out var suppressed))
        {
            _logger.BrokerDropped(Bounded.Text(clientId), suppressed);
        }

        var dropped = _drops.AddOrUpdate(clientId, 1, (_, n) => n + 1);
        if (dropped == _options.Mqtt.MaxPendingMessagesPerClient && _server is { } server)
        {
            _security.MqttRefused("deliver", SecurityMetrics.Reasons.SlowSubscriber);
            _logger.SlowSubscriberDisconnected(Bounded.Text(clientId), dropped, _options.Mqtt.MaxPendingMessagesPerClient);
            _ = Task.Run(async () =>
            {
                try
                {
                    await server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.QuotaExceeded).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    OnConnectionFailed(null, "disconnect", ex);
                }
            });
        }
    }

    private async Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        // The connection's own adapter, so the publish interceptor can hold this connection's PUBACKs until commit.
        e.SessionItems[ChannelKey] = e.ChannelAdapter as GuardedChannelAdapter;
        if (_registry is not null && _registry.IsRevoked(e.ClientId))
        {
            // Issue 16: a revoked gateway stays out even while the broker is anonymous (auto mode with no account left).
            RefuseConnect(e, MqttConnectReasonCode.NotAuthorized, SecurityMetrics.Reasons.Revoked, "this gateway was revoked: enrol it again with a new token");
            return;
        }

        if (!AuthenticationRequired)
        {
            // Anonymous: no account, but a will still has to be the client's own retained status (client id = gateway id, §1).
            if (WillRefusal(e, null) is { } anonymousWill)
            {
                RefuseConnect(e, anonymousWill.Code, SecurityMetrics.Reasons.Will, anonymousWill.Detail);
            }

            return;
        }

        MqttAccount? account;
        if (_clientCa is not null && e.ChannelAdapter.ClientCertificate is { } certificate)
        {
            // Mutual TLS (the certificate chained to our CA in the handshake): the subject CN is the gateway id.
            var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            if (!Identifiers.IsValidGatewayId(cn) || (!string.IsNullOrEmpty(e.UserName) && e.UserName != cn))
            {
                RefuseConnect(e, MqttConnectReasonCode.NotAuthorized, SecurityMetrics.Reasons.Certificate,
                    "the client certificate's CN is not a gateway id, or the user name differs from it");
                return;
            }

            account = new MqttAccount(cn, MqttRole.Gateway, string.Empty);
        }
        else if (string.IsNullOrEmpty(e.UserName))
        {
            RefuseConnect(e, MqttConnectReasonCode.NotAuthorized, SecurityMetrics.Reasons.Anonymous,
                "anonymous clients are not served: connect with the gateway's user name and password");
            return;
        }
        else
        {
            account = await _credentials.VerifyAsync(e.UserName, Encoding.UTF8.GetBytes(e.Password ?? string.Empty)).ConfigureAwait(false);
            if (account is null)
            {
                RefuseConnect(e, MqttConnectReasonCode.BadUserNameOrPassword, SecurityMetrics.Reasons.BadCredentials,
                    "unknown user name or wrong password");
                return;
            }
        }

        if (account.Role == MqttRole.Gateway && _registry is not null && _registry.IsRevoked(account.UserName))
        {
            // The same gateway under another client id ({id}.doctor) or with a client certificate its CA still vouches
            // for: revocation is of the gateway, not of one client id.
            RefuseConnect(e, MqttConnectReasonCode.NotAuthorized, SecurityMetrics.Reasons.Revoked, "this gateway was revoked: enrol it again with a new token");
            return;
        }

        if (!MqttAccess.ClientIdAllowed(account, e.ClientId))
        {
            RefuseConnect(e, MqttConnectReasonCode.ClientIdentifierNotValid, SecurityMetrics.Reasons.ClientId,
                account.Role == MqttRole.Gateway ? "a gateway's client id must be its gateway id (contract §1)" : "a reader's client id must be its user name or start with it and '.'");
            return;
        }

        if (WillRefusal(e, account) is { } will)
        {
            RefuseConnect(e, will.Code, SecurityMetrics.Reasons.Will, will.Detail);
            return;
        }

        e.SessionItems[AccountKey] = account;
    }

    /// <summary>
    /// A will is a message the broker will publish for the client later, so it is held to the same rules at CONNECT
    /// (contract §1, §5; issue 15): a gateway's will must be its own retained status (<c>iocedge/v1/{id}/status</c>,
    /// a §5 status payload naming it); a reader has no will. Null: no will, or an acceptable one.
    /// </summary>
    private static (MqttConnectReasonCode Code, string Detail)? WillRefusal(ValidatingConnectionEventArgs e, MqttAccount? account)
    {
        if (e.ChannelAdapter is not GuardedChannelAdapter { ConnectPacket: { WillFlag: true } connect })
        {
            return null;
        }

        var topic = connect.WillTopic ?? string.Empty;
        if (account is { Role: MqttRole.Reader })
        {
            return (MqttConnectReasonCode.NotAuthorized, "a reader account may not have a will: it publishes nothing");
        }

        var owner = account?.UserName ?? e.ClientId;
        if (topic != "iocedge/v1/" + owner + "/status" || !connect.WillRetain)
        {
            return (MqttConnectReasonCode.NotAuthorized,
                $"a gateway's will must be its own retained status: topic iocedge/v1/{Bounded.Text(owner, 64)}/status with retain (contract §1, §5)");
        }

        var intake = MessageIntake.Read(topic, connect.WillMessage ?? [], retain: true);
        return intake.Kind == IntakeKind.Status
            ? null
            : (MqttConnectReasonCode.PayloadFormatInvalid, "the will's payload is not a status message (contract §5): " + intake.Refusal.Detail);
    }

    private void RefuseConnect(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string reason, string detail)
    {
        e.ReasonCode = code;
        _security.MqttRefused("connect", reason);
        var who = Bounded.Text(e.UserName ?? string.Empty, 64) + "/" + Bounded.Text(e.ClientId, 64);
        if (_logLimiter.TryEnter(who, reason, out var suppressed))
        {
            // The password is never logged; the user name and client id are capped.
            _logger.ConnectRefused(Bounded.Text(e.ClientId, 64), Bounded.Text(e.UserName ?? string.Empty, 64), e.RemoteEndPoint?.ToString(),
                reason, detail, suppressed);
        }
    }

    private Task OnSubscribingAsync(InterceptingSubscriptionEventArgs e)
    {
        if (e.SessionItems[AccountKey] is not MqttAccount account)
        {
            return Task.CompletedTask; // anonymous mode (Authentication none, or auto before the first account)
        }

        var filter = e.TopicFilter.Topic ?? string.Empty;
        if (!MqttAccess.MaySubscribe(account, filter))
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized; // SUBACK 0x87, MQTT 5 §3.9.3
            _security.MqttRefused("subscribe", SecurityMetrics.Reasons.NotAuthorized);
            if (_logLimiter.TryEnter(Bounded.Text(e.ClientId), "subscribe", out var suppressed))
            {
                _logger.SubscriptionRefused(Bounded.Text(e.ClientId), Bounded.Text(filter), suppressed);
            }
        }

        return Task.CompletedTask;
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

        _serverCertificate?.Dispose();
        _serverCertificate = null;
    }

    private async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        var topic = message.Topic ?? string.Empty;
        if (e.SessionItems is { } items && items.Contains(ServerOrigin))
        {
            return; // the aggregator's own configuration push (contract §9.1): relayed to the gateway
        }

        if (ConfigTopics.IsAck(topic, out var ackGateway) &&
            (e.SessionItems[AccountKey] is MqttAccount acker ? MqttAccess.MayPublish(acker, topic) : string.Equals(e.ClientId, ackGateway, StringComparison.Ordinal)))
        {
            OnConfigAck(e, ackGateway);
            return;
        }

        if (OutputCommandTopics.IsAck(topic, out var outputGateway) &&
            (e.SessionItems[AccountKey] is MqttAccount reporter ? MqttAccess.MayPublish(reporter, topic) : string.Equals(e.ClientId, outputGateway, StringComparison.Ordinal)))
        {
            OnOutputAck(e, outputGateway);
            return;
        }

        if (e.SessionItems[AccountKey] is MqttAccount account && !MqttAccess.MayPublish(account, topic) &&
            IngestRules.CheckTopic(topic, out _, out _) is null)
        {
            // The seq hijack (issue 15): only gateway X may publish X's stream, so a rogue's seqs never turn X's real
            // readings into "duplicates" that X would then delete from its outbox. Checked before the payload is read;
            // a topic outside the contract gets the contract's own refusal (0x90) from MessageIntake below.
            _security.MqttRefused("publish", SecurityMetrics.Reasons.NotAuthorized);
            Refuse(e, topic, new Refusal(SecurityMetrics.Reasons.NotAuthorized, MqttPubAckReasonCode.NotAuthorized,
                account.Role == MqttRole.Reader ? "a reader account may not publish" : $"{account.UserName} may publish only under iocedge/v1/{account.UserName}/"));
            return;
        }

        // The packet size bound is enforced before MQTTnet reads a packet (PacketSizeGuardStream); the rules of topic,
        // retain and payload are the ones every transport shares (MessageIntake, also used by ExternalBrokerIngest).
        var payload = message.Payload;
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        var intake = MessageIntake.Read(topic, bytes, message.Retain);
        if (intake.IsReadings)
        {
            _metrics.Message();
        }

        switch (intake.Kind)
        {
            case IntakeKind.Ignore:
                // MQTT's way of deleting a retained message (a technician clearing a gateway's old status): the broker
                // does it, and nothing was meant to be stored.
                return;
            case IntakeKind.Refused:
                RefuseReadings(e, topic, intake.Refusal, intake.IsReadings, intake.PayloadKind);
                return;
        }

        try
        {
            if (intake.Kind == IntakeKind.Status)
            {
                // Contract §5: the optional periodic health object, kept as received and served as the gateway's current health.
                await _ingest.SubmitStatusAsync(intake.Status!, e.CancellationToken, intake.HealthJson).ConfigureAwait(false);
                e.SessionItems[GatewayKey] = intake.GatewayId;
                return;
            }

            if (_series.Admit(intake.Batch!) is { } bound)
            {
                RefuseBound(e, topic, bound.Reason, bound.Detail);
                return;
            }

            var committed = await _ingest.EnqueueAsync(intake.Batch!, e.CancellationToken).ConfigureAwait(false);
            var accepted = AcceptedAfterCommitAsync(committed, intake.PayloadKind);
            if (e.SessionItems[ChannelKey] is GuardedChannelAdapter channel && channel.TryHoldPubAck(payload, accepted))
            {
                // Pipelined: MQTTnet reads this gateway's next message while the commit runs; the PUBACK waits for it in
                // the channel's send path (GuardedChannelAdapter), and says 0x80 if the commit fails.
                e.SessionItems[GatewayKey] = intake.GatewayId;
                return;
            }

            await accepted.ConfigureAwait(false);
            e.SessionItems[GatewayKey] = intake.GatewayId;
            if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
            {
                // Stored, but QoS 0 has no PUBACK: the sender cannot know (contract §1 asks QoS 1). Counted and logged.
                _metrics.UnacknowledgedMessage();
                if (_logLimiter.TryEnter(Bounded.Text(e.ClientId), "qos0", out var suppressed))
                {
                    _logger.UnacknowledgedReadings(Bounded.Text(e.ClientId), Bounded.Text(topic), suppressed);
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
            e.Response.ReasonString = "not stored: " + Bounded.Text(ex.Message);
            e.CloseConnection = true;
        }
    }

    private async Task AcceptedAfterCommitAsync(Task<StoreResult> committed, PayloadKind payloadKind)
    {
        await committed.ConfigureAwait(false);
        _metrics.Accepted(payloadKind);
    }

    private void OnConfigAck(InterceptingPublishEventArgs e, string gatewayId)
    {
        // Contract §9.2: a gateway's report on a configuration version; recorded in the registry, not relayed.
        var payload = e.ApplicationMessage.Payload;
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        if (!ConfigTopics.TryDecodeAck(bytes, gatewayId, out var ack, out var error))
        {
            Refuse(e, e.ApplicationMessage.Topic ?? string.Empty, IngestRules.BadPayload(error!));
            return;
        }

        var report = new Provisioning.ConfigReport(ack!.Version, ack.Result, ack.Reason, _time.GetUtcNow());
        _registry?.Reported(gatewayId, report);
        _logger.ConfigReported(gatewayId, report.Version, report.Result, Bounded.Text(report.Reason ?? string.Empty, 256));
        e.ProcessPublish = false; // acknowledged (PUBACK success), not relayed to subscribers
    }

    private void OnOutputAck(InterceptingPublishEventArgs e, string gatewayId)
    {
        // Contract §10.2: a gateway's report on an output command; recorded in the registry, not relayed.
        var payload = e.ApplicationMessage.Payload;
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
        if (!OutputCommandTopics.TryDecodeAck(bytes, gatewayId, out var ack, out var error))
        {
            Refuse(e, e.ApplicationMessage.Topic ?? string.Empty, IngestRules.BadPayload(error!));
            return;
        }

        _registry?.OutputReported(gatewayId, ack!);
        _logger.OutputReported(gatewayId, ack!.Output, ack.Id, ack.Result, Bounded.Text(ack.Reason ?? string.Empty, 256));
        e.ProcessPublish = false;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyCollection<string>> ConnectedClientsAsync() =>
        _server is null ? [] : [.. (await _server.GetClientsAsync().ConfigureAwait(false)).Select(c => c.Id)];

    /// <inheritdoc/>
    public async Task DisconnectAsync(string clientId)
    {
        // The gateway's own session and its tools' ({id}.doctor, MqttAccess.ClientIdAllowed): all used the old credentials.
        foreach (var id in (await ConnectedClientsAsync().ConfigureAwait(false))
                     .Where(c => c == clientId || c.StartsWith(clientId + ".", StringComparison.Ordinal)))
        {
            if (_server is { } server)
            {
                await server.DisconnectClientAsync(id, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.NotAuthorized })
                    .ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc/>
    public async Task PublishAsync(string topic, byte[] payload, bool retain)
    {
        var server = _server ?? throw new InvalidOperationException("the embedded broker is not started");
        var message = new MQTTnet.MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message)
        {
            SenderClientId = "iocedge-aggregator",
            CustomSessionItems = new System.Collections.Hashtable { [ServerOrigin] = true },
        }).ConfigureAwait(false);
    }

    private void RefuseReadings(InterceptingPublishEventArgs e, string topic, Refusal refusal, bool isReadings, PayloadKind payloadKind)
    {
        if (isReadings)
        {
            _metrics.Refused(payloadKind);
        }

        Refuse(e, topic, refusal);
    }

    private void RefuseBound(InterceptingPublishEventArgs e, string topic, string reason, string detail)
    {
        _security.MqttRefused("publish", reason);
        Refuse(e, topic, new Refusal(reason, MqttPubAckReasonCode.QuotaExceeded, detail), counted: true);
    }

    private void Refuse(InterceptingPublishEventArgs e, string topic, Refusal refusal, bool counted = false)
    {
        if (!counted && !refusal.Reason.Equals(SecurityMetrics.Reasons.NotAuthorized, StringComparison.Ordinal))
        {
            _metrics.Reject(refusal.Reason);
        }

        var clientId = Bounded.Text(e.ClientId);
        var detail = Bounded.Text(refusal.Detail, 256);
        if (_logLimiter.TryEnter(clientId, refusal.Reason, out var suppressed))
        {
            _logger.MessageRefused(clientId, Bounded.Text(topic), refusal.Reason, (int)refusal.Code, detail, suppressed);
        }

        e.ProcessPublish = false;
        e.Response.ReasonCode = refusal.Code;
        e.Response.ReasonString = detail;
        if (e.ApplicationMessage.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce &&
            (!e.SessionItems.Contains(ProtocolKey) || e.SessionItems[ProtocolKey] is not MqttProtocolVersion.V500))
        {
            // An MQTT 3.1.1 PUBACK has no reason code: it can only say "stored". Closing the connection instead (no
            // PUBACK) makes the sender keep the message and resend it, which is visible, rather than delete it.
            if (_logLimiter.TryEnter(clientId, "old_protocol", out _))
            {
                _logger.ClosingOldProtocolClient(clientId, e.SessionItems[ProtocolKey]?.ToString() ?? "unknown");
            }

            e.CloseConnection = true;
        }
    }

    private async Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        _drops.TryRemove(e.ClientId, out _);
        // Only a client that is a gateway (authenticated as one, or, anonymous, one that had a message accepted) gets a
        // row in gateways: a flood of client ids that never published leaves nothing behind.
        var isGateway = e.SessionItems[AccountKey] is MqttAccount { Role: MqttRole.Gateway } ||
                        e.SessionItems[GatewayKey] is string published && published == e.ClientId;
        if (!Identifiers.IsValidGatewayId(e.ClientId) || !isGateway)
        {
            return;
        }

        if (e.DisconnectType == MqttClientDisconnectType.Clean)
        {
            _logger.GatewayDisconnectedCleanly(e.ClientId);
        }
        else
        {
            _logger.GatewayDisconnected(e.ClientId, e.DisconnectType.ToString());
        }

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
}
