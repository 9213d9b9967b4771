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
/// Sends the outbox to the aggregator over MQTT 5, QoS 1 (contract §4, §6):
/// <list type="bullet">
/// <item>Batches are bounded by <see cref="GatewayMqttOptions.BatchSize"/> readings, <see cref="GatewayMqttOptions.BatchMaxBytes"/>
/// bytes and <see cref="GatewayMqttOptions.BatchMaxAge"/> (a partial batch of new readings leaves when it is that old).</item>
/// <item>Up to <see cref="GatewayMqttOptions.MaxInFlight"/> messages are in flight at once, never more than the broker's
/// CONNACK Receive Maximum (MQTT 5 §3.2.2.3.3; a client MUST NOT exceed it, §3.3.4); each batch is removed from the
/// outbox only after ITS OWN PUBACK says success (the aggregator sends it after its commit). A PUBACK 0x99 (payload
/// format invalid) moves the batch to the dead-letter table (counted); any other refusal (0x80, 0x97 quota, …), a
/// timeout or a connection dropped with PUBACKs outstanding leaves the readings in the outbox: the session ends, the
/// sender backs off and sends them again (the aggregator's dedup makes the resend harmless).</item>
/// <item>Live first: at each (re)connect the outbox's <see cref="SqliteOutbox.LastSequence"/> is the boundary. Readings
/// above it are live and go out at once; the backlog (at or below it) follows, oldest first, at
/// <see cref="GatewayMqttOptions.BackfillReadingsPerSecond"/> (0: as fast as the link allows, still behind live).</item>
/// <item>Presence: the retained status "online" with a health report (contract §5) on connect and every
/// <see cref="GatewayMqttOptions.HealthPeriod"/>; the MQTT will publishes "offline".</item>
/// <item>Reconnects with exponential backoff and full jitter (a uniform delay between 0 and
/// min(<see cref="GatewayMqttOptions.ReconnectDelayMax"/>, <see cref="GatewayMqttOptions.ReconnectDelayMin"/>·2^attempt))
/// on the <see cref="TimeProvider"/>.</item>
/// </list>
/// Supervision: any exception but cancellation (a write, an encode, a publish, the outbox itself) is logged, counted in
/// <see cref="Failures"/>, backed off and retried; the service never stops because of one.
/// </summary>
public sealed class MqttForwarder : BackgroundService
{
    private readonly GatewayOptions _options;
    private readonly SqliteOutbox _outbox;
    private readonly TimeProvider _time;
    private readonly ILogger<MqttForwarder> _logger;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly IMqttClient _client;
    private readonly BatchEncoder _encoder;
    private readonly HealthProbe _health;
    private readonly string _topic;
    private readonly string _jsonTopic;
    private long _forwarded;
    private long _failures;
    private long _refused;
    private long _deadLetteredByAggregator;
    private long _liveMessages;
    private long _backfillMessages;
    private int _inFlight;
    private int _maxInFlightSeen;
    private int _receiveMaximum = ushort.MaxValue;
    private readonly IMqttLinkParticipant[] _participants;
    private TlsSession? _tls;
    private TlsFailure? _tlsFailure;

    /// <param name="options">The gateway's options (id, Mqtt section, data directory).</param>
    /// <param name="outbox">The outbox drained to the broker.</param>
    /// <param name="time">Monotonic time for backoff and batching.</param>
    /// <param name="logger">Event ids 10xx.</param>
    /// <param name="participants">Parts that use the same MQTT connection for messages the aggregator sends (remote
    /// configuration §9, output commands §10): told of each CONNECT and disconnection, given every message received.</param>
    public MqttForwarder(IOptions<GatewayOptions> options, SqliteOutbox outbox, TimeProvider time, ILogger<MqttForwarder> logger,
        IEnumerable<IMqttLinkParticipant>? participants = null)
    {
        _participants = participants?.ToArray() ?? [];
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _outbox = outbox;
        _time = time;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient();
        _encoder = new BatchEncoder(_options.Id, _options.Mqtt.Payload);
        _jsonTopic = Topics.Readings(_options.Id);
        _topic = _options.Mqtt.Payload == MqttPayload.Compact ? _jsonTopic + "/bin" : _jsonTopic;
        _health = new HealthProbe(time, _options.DataDirectory);
        _outbox.Appended += Wake;
        foreach (var participant in _participants)
        {
            _client.ApplicationMessageReceivedAsync += participant.OnMessageAsync; // contract §9 config, §10 command
        }

        _client.DisconnectedAsync += _ =>
        {
            foreach (var participant in _participants)
            {
                participant.OnDisconnected();
            }

            Wake();
            return Task.CompletedTask;
        };
    }

    /// <summary>Readings acknowledged by the aggregator (successful PUBACK) since start.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    public bool IsConnected => _client.IsConnected;

    /// <summary>Connection attempts, publishes, and outbox calls that failed since start (each one is followed by a backoff).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Batches the broker/aggregator refused with a PUBACK reason ≥ 0x80 other than 0x99 (left in the outbox).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Readings the aggregator refused as malformed (PUBACK 0x99) and that were moved to the dead-letter table.</summary>
    public long DeadLetteredByAggregator => Interlocked.Read(ref _deadLetteredByAggregator);

    /// <summary>Messages of new readings (above the boundary at connect) sent since start.</summary>
    public long LiveMessages => Interlocked.Read(ref _liveMessages);

    /// <summary>Messages of backlog readings (at or below the boundary at connect) sent since start.</summary>
    public long BackfillMessages => Interlocked.Read(ref _backfillMessages);

    /// <summary>
    /// Messages this connection may have awaiting their PUBACK: <see cref="GatewayMqttOptions.MaxInFlight"/>, lowered to the
    /// broker's Receive Maximum from its CONNACK (MQTT 5 §3.2.2.3.3: absent means 65,535).
    /// </summary>
    public int Window => Math.Min(_options.Mqtt.MaxInFlight, Volatile.Read(ref _receiveMaximum));

    /// <summary>The most messages that were awaiting their PUBACK at the same time since start.</summary>
    public int MaxInFlightSeen => Volatile.Read(ref _maxInFlightSeen);

    /// <summary>
    /// Why the last connection attempt failed in TLS terms (unknown CA, name mismatch, expired, client certificate
    /// refused, no handshake), with its fix; null when TLS is off, or the last attempt connected or failed otherwise.
    /// </summary>
    public TlsFailure? TlsFailure => Volatile.Read(ref _tlsFailure);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var mqtt = _options.Mqtt;
        if (MqttTls.PortWarning(mqtt) is { } warning)
        {
            _logger.TlsPortWarning(warning);
        }

        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    await ConnectAsync(stoppingToken).ConfigureAwait(false);
                }

                await RunSessionAsync(() => attempt = 0, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Supervision: a broker outage or refusal is expected and logged briefly; anything else is a defect,
                // logged with its stack trace. Either way count it, back off and go on: the readings wait in the outbox.
                var failures = Interlocked.Increment(ref _failures);
                var delay = Backoff.FullJitter(mqtt.ReconnectDelayMin, mqtt.ReconnectDelayMax, attempt++, Random.Shared);
                var tlsFailure = (ex as MqttTlsException)?.Failure; // only a failed connection attempt is a TLS failure
                Volatile.Write(ref _tlsFailure, tlsFailure);
                if (tlsFailure is not null)
                {
                    _logger.TlsFailed(mqtt.Host, mqtt.Port, tlsFailure.Kind, tlsFailure.Detail, tlsFailure.Fix, delay);
                }
                else if (ex is MQTTnet.Exceptions.MqttCommunicationException or MqttPublishRefusedException
                    or OperationCanceledException or IOException or TimeoutException)
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
        _tls?.Dispose();
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
        catch (ObjectDisposedException)
        {
            // Stopping.
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
            // The period ran out: loop round.
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

        if (mqtt.Tls.Enabled)
        {
            // Contract §1 over TLS: the files are read for each attempt (a renewed certificate needs no restart). The
            // status, will, configuration and command messages all travel on this one connection.
            _tls?.Dispose();
            _tls = null;
            _tls = MqttTls.CreateSession(mqtt, _time);
            _tls.Apply(builder);
        }

        try
        {
            var connack = await _client.ConnectAsync(builder.Build(), ct).ConfigureAwait(false);
            // MQTT 5 §3.2.2.3.3: absent means 65,535. mosquitto sends its max_inflight_messages, EMQX (since its fix 12492) its max_inflight.
            Volatile.Write(ref _receiveMaximum, connack.ReceiveMaximum is { } max and > 0 ? max : ushort.MaxValue);
        }
        catch (Exception ex) when (_tls?.Explain(ex) is { } failure)
        {
            throw new MqttTlsException(failure, ex);
        }

        Volatile.Write(ref _tlsFailure, null);
        if (_tls is { BrokerCertificate: { } broker } tls)
        {
            _logger.TlsEstablished(mqtt.Host, mqtt.Port, broker.Subject, tls.ServerName,
                string.IsNullOrEmpty(mqtt.Tls.CaFile) ? "system trust store" : "CA " + mqtt.Tls.CaFile,
                tls.ClientCertificate is { } c ? $"'{c.Subject}' (expires {c.NotAfter.ToUniversalTime():yyyy-MM-dd})" : "none");
        }

        _logger.Connected(mqtt.Host, mqtt.Port, _options.Id, _outbox.Count);
        if (Window < mqtt.MaxInFlight)
        {
            _logger.WindowLowered(Window, mqtt.MaxInFlight);
        }

        foreach (var participant in _participants)
        {
            try
            {
                await participant.OnConnectedAsync(_client, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // A participant's subscription failing must not cost the readings their connection: counted, logged, go on.
                Interlocked.Increment(ref _failures);
                _logger.ParticipantFailed(ex, participant.GetType().Name);
            }
        }
    }

    private async Task PublishStatusAsync(GatewayState state, CancellationToken ct)
    {
        var status = new GatewayStatus(_options.Id, state, _time.GetUtcNow(), GatewayInfo.Version, _outbox.Count);
        if (state == GatewayState.Online)
        {
            status = status with { Health = _health.Build(_outbox.Health(), status.Timestamp, Forwarded, Failures) };
        }

        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Status(_options.Id))
            .WithPayload(GatewayStatusJson.Encode(status))
            .WithRetainFlag()
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// One connected session: birth and health, then live-first sending with up to <see cref="Window"/> PUBACKs outstanding.
    /// Returns only by an exception: the first failure of any in-flight batch (after every other in-flight publish has
    /// ended), a lost connection, or cancellation. Nothing is acknowledged that was not confirmed by its own PUBACK.
    /// </summary>
    private async Task RunSessionAsync(Action connected, CancellationToken ct)
    {
        var mqtt = _options.Mqtt;
        await PublishStatusAsync(GatewayState.Online, ct).ConfigureAwait(false);
        connected();
        var nextHealth = _time.GetTimestamp() + (long)(mqtt.HealthPeriod.TotalSeconds * _time.TimestampFrequency);

        var boundary = _outbox.LastSequence;
        var live = boundary;
        var backfill = 0L;
        var bucket = new TokenBucket(mqtt.BackfillReadingsPerSecond, Math.Max(mqtt.BatchSize, mqtt.BackfillReadingsPerSecond), _time);
        long? partialSince = null;
        var window = Window;
        using var slots = new SemaphoreSlim(window, window);
        var pending = new List<Task>();
        Exception? fault = null;
        void Fail(Exception ex) => Interlocked.CompareExchange(ref fault, ex, null);

        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (Volatile.Read(ref fault) is { } f)
                {
                    throw f;
                }

                if (!_client.IsConnected)
                {
                    throw new MQTTnet.Exceptions.MqttCommunicationException("the connection to the broker was lost");
                }

                pending.RemoveAll(t => t.IsCompleted);
                if (_time.GetTimestamp() >= nextHealth)
                {
                    nextHealth = _time.GetTimestamp() + (long)(mqtt.HealthPeriod.TotalSeconds * _time.TimestampFrequency);
                    await PublishStatusAsync(GatewayState.Online, ct).ConfigureAwait(false);
                }

                if (!await slots.WaitAsync(0, ct).ConfigureAwait(false))
                {
                    await WaitForWorkAsync(mqtt.KeepAlive, ct).ConfigureAwait(false);
                    continue;
                }

                // 1. Live: everything newer than the boundary, at once (or when a partial batch is BatchMaxAge old).
                var batch = _outbox.ReadAfter(live, mqtt.BatchSize);
                var isLive = batch.Count > 0;
                TimeSpan? wait = null;
                if (isLive && batch.Count < mqtt.BatchSize && mqtt.BatchMaxAge > TimeSpan.Zero)
                {
                    partialSince ??= _time.GetTimestamp();
                    var age = _time.GetElapsedTime(partialSince.Value);
                    if (age < mqtt.BatchMaxAge)
                    {
                        wait = mqtt.BatchMaxAge - age;
                        batch = [];
                        isLive = false;
                    }
                }

                // 2. Backfill: the backlog at or below the boundary, oldest first, at the configured rate.
                if (!isLive && backfill < boundary)
                {
                    var allowed = bucket.Available(mqtt.BatchSize);
                    if (allowed > 0)
                    {
                        batch = _outbox.ReadAfter(backfill, allowed);
                        batch = batch.Where(r => r.Sequence <= boundary).ToList();
                        if (batch.Count == 0)
                        {
                            backfill = boundary;
                        }
                    }
                    else
                    {
                        var refill = bucket.TimeUntil(Math.Min(mqtt.BatchSize, 1));
                        wait = wait is null || refill < wait ? refill : wait;
                        batch = [];
                    }
                }

                if (batch.Count == 0)
                {
                    slots.Release();
                    if (!isLive && backfill < boundary && wait is null)
                    {
                        continue; // the backlog moved on (rows were dead-lettered or acknowledged): read again
                    }

                    var nap = wait is { } w && w < mqtt.KeepAlive ? w : mqtt.KeepAlive;
                    var untilHealth = TimeSpan.FromSeconds(Math.Max(0, (nextHealth - _time.GetTimestamp()) / (double)_time.TimestampFrequency));
                    await WaitForWorkAsync(untilHealth < nap ? untilHealth : nap, ct).ConfigureAwait(false);
                    continue;
                }

                var encoded = _encoder.Encode(_outbox, batch, mqtt.BatchMaxBytes, _logger);
                if (encoded is null)
                {
                    slots.Release();
                    continue; // rows the encoder refused were dead-lettered; read again
                }

                var (sent, payload, compact) = encoded.Value;
                if (isLive)
                {
                    live = sent[^1].Sequence;
                    partialSince = null;
                    Interlocked.Increment(ref _liveMessages);
                }
                else
                {
                    backfill = sent[^1].Sequence;
                    bucket.Take(sent.Count);
                    Interlocked.Increment(ref _backfillMessages);
                }

                pending.Add(PublishOneAsync(sent, payload, compact ? _topic : _jsonTopic, slots, Fail, ct));
            }
        }
        finally
        {
            // Never leave the session with a publish still running: its PUBACK decides whether it is acknowledged.
            try
            {
                await Task.WhenAll(pending).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Each publish reports its own failure through Fail.
            }
        }
    }

    private async Task PublishOneAsync(IReadOnlyList<SequencedReading> batch, byte[] payload, string topic, SemaphoreSlim slots,
        Action<Exception> fail, CancellationToken ct)
    {
        var now = Interlocked.Increment(ref _inFlight);
        var seen = Volatile.Read(ref _maxInFlightSeen);
        while (now > seen && Interlocked.CompareExchange(ref _maxInFlightSeen, now, seen) != seen)
        {
            seen = Volatile.Read(ref _maxInFlightSeen);
        }

        try
        {
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
                // Sending it again cannot help (contract §6): set it aside, counted, so the rest keeps flowing.
                _logger.DeadLettered(batch.Count, result.ReasonString ?? "no reason given");
                _outbox.DeadLetter(batch, "aggregator: " + (result.ReasonString ?? "payload format invalid"));
                Interlocked.Add(ref _deadLetteredByAggregator, batch.Count);
            }
            else
            {
                Interlocked.Increment(ref _refused);
                _logger.PublishFailed(batch.Count, $"{result.ReasonCode} {result.ReasonString}");
                fail(new MqttPublishRefusedException(result.ReasonCode, result.ReasonString));
            }
        }
        catch (Exception ex)
        {
            // Not acknowledged: the readings stay in the outbox and are sent again in the next session.
            fail(ex);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            slots.Release();
            Wake();
        }
    }
}

/// <summary>The aggregator did not store a batch (reason ≥ 0x80 other than 0x99): back off and send it again.</summary>
public sealed class MqttPublishRefusedException(MqttClientPublishReasonCode code, string? reason)
    : Exception($"The broker refused the batch: {code} {reason}")
{
    public MqttClientPublishReasonCode Code { get; } = code;
}

/// <summary>
/// A part of the gateway that shares the forwarder's MQTT connection to receive what the aggregator sends it (remote
/// configuration, contract §9; output commands, §10). Calls come from the forwarder's connection loop and MQTTnet's
/// receive loop: implementations queue work and return quickly.
/// </summary>
public interface IMqttLinkParticipant
{
    /// <summary>After each successful CONNECT: subscribe, publish what waited for the link.</summary>
    Task OnConnectedAsync(IMqttClient client, CancellationToken ct);

    /// <summary>The connection was lost (or closed).</summary>
    void OnDisconnected();

    /// <summary>Every message received on the connection (filter by topic).</summary>
    Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e);
}
