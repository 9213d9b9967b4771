using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using IocEdge.Edge.Configuration;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Remote;

/// <summary>
/// Applies configurations the aggregator pushes on <c>iocedge/v1/{id}/config</c> (contract §9) and reports each version
/// on <c>…/config/ack</c>. A version is checked by the gateway's own start-up check (the local file with the remote
/// sections laid over it); a bad one is refused with its problems and the running configuration stays. A good one is
/// persisted as pending and the gateway host restarts on it (<see cref="GatewayRunner"/>): the outbox is closed and
/// reopened, so no buffered reading is lost. If the restarted gateway does not reach the aggregator within
/// <see cref="RemoteConfigOptions.RollbackTimeout"/> (monotonic, <see cref="TimeProvider"/>), the previous configuration
/// is restored, the host restarts again and reports <c>rolled_back</c> once connected.
/// </summary>
public sealed class RemoteConfigAgent : BackgroundService, Forwarding.IMqttLinkParticipant
{
    private readonly GatewayOptions _options;
    private readonly string _localPath;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<RemoteConfigAgent> _logger;
    private readonly Channel<byte[]> _messages = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(4) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IMqttClient? _client;
    private long _failures;

    /// <param name="options">The gateway's options (its id, data directory and <c>RemoteConfig</c> section).</param>
    /// <param name="localPath">The local configuration file (the one <c>--config</c> names), the base of every merge.</param>
    /// <param name="time">Monotonic time for the rollback timeout.</param>
    /// <param name="lifetime">Stopped to restart the host on another configuration.</param>
    /// <param name="logger">Event ids 25xx.</param>
    public RemoteConfigAgent(IOptions<GatewayOptions> options, string localPath, TimeProvider time, IHostApplicationLifetime lifetime,
        ILogger<RemoteConfigAgent> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _localPath = localPath;
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
        State = new RemoteConfigFile(_options.DataDirectory);
    }

    /// <summary>True once this host stopped itself to restart on another configuration (a new one, or a rollback).</summary>
    public bool RestartRequested { get; private set; }

    /// <summary>The persisted state (applied, pending, last version seen, report to send).</summary>
    public RemoteConfigFile State { get; }

    /// <summary>Configuration messages that could not be handled because of an internal failure (logged), since start.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Called by the forwarder after each successful CONNECT: confirms a pending configuration (it reached the aggregator),
    /// publishes the report waiting since the last restart, then subscribes to the config topic (the broker sends the
    /// retained configuration at once, MQTT 5 §3.3.1.3).
    /// </summary>
    public async Task OnConnectedAsync(IMqttClient client, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        lock (_lock)
        {
            if (State.Pending is { } pending)
            {
                State.Applied = pending;
                State.Pending = null;
                State.Report = new ConfigAck(_options.Id, pending.Version, ConfigResults.Applied, null, _time.GetUtcNow());
                State.Save();
                _logger.RemoteConfigConfirmed(pending.Version);
            }

            _confirmed.TrySetResult();
        }

        await PublishReportAsync(ct).ConfigureAwait(false);
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(ConfigTopics.Config(_options.Id), MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void OnDisconnected()
    {
    }

    /// <summary>Called by the forwarder for every message it receives; config messages are queued for <see cref="ExecuteAsync"/>.</summary>
    public Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.ApplicationMessage.Topic == ConfigTopics.Config(_options.Id) && !e.ApplicationMessage.Payload.IsEmpty)
        {
            _messages.Writer.TryWrite(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload));
        }

        return Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watchdog = State.Pending is { } pending ? WatchPendingAsync(pending.Version, stoppingToken) : Task.CompletedTask;
        await foreach (var payload in _messages.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                if (await HandleAsync(payload, stoppingToken).ConfigureAwait(false))
                {
                    break; // restarting on the new configuration
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Supervision: a failure here never stops the gateway; the running configuration stays.
                _logger.RemoteConfigFailed(ex, Interlocked.Increment(ref _failures));
            }
        }

        await watchdog.ConfigureAwait(false);
    }

    private async Task WatchPendingAsync(long version, CancellationToken ct)
    {
        var timeout = _options.RemoteConfig.RollbackTimeout;
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(timeout, _time, timer.Token);
        var done = await Task.WhenAny(_confirmed.Task, delay).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
        if (done == _confirmed.Task || ct.IsCancellationRequested)
        {
            return;
        }

        lock (_lock)
        {
            if (State.Pending?.Version != version)
            {
                return;
            }

            var reason = $"applied, but the gateway did not reach the aggregator at {_options.Mqtt.Host}:{_options.Mqtt.Port} within {timeout} (Gateway:RemoteConfig:RollbackTimeout): the previous configuration (version {State.Applied?.Version ?? 0}) is restored";
            State.Pending = null;
            State.Report = new ConfigAck(_options.Id, version, ConfigResults.RolledBack, reason, _time.GetUtcNow());
            State.Save();
            _logger.RemoteConfigRolledBack(version, reason);
        }

        Restart();
    }

    /// <returns>True when the host is restarting on a new configuration.</returns>
    private async Task<bool> HandleAsync(byte[] payload, CancellationToken ct)
    {
        if (!ConfigTopics.TryDecodeMessage(payload, _options.Id, out var message, out var error))
        {
            // Without a version nothing can be reported against; the aggregator never sends this (contract §9.1).
            _logger.RemoteConfigUndecodable(error!);
            return false;
        }

        lock (_lock)
        {
            if (message!.Version <= State.LastVersion || State.Pending is not null)
            {
                return false; // seen already (the retained copy after a restart), or a restart is under way
            }
        }

        var local = JsonNode.Parse(await File.ReadAllBytesAsync(_localPath, ct).ConfigureAwait(false)) as JsonObject ?? [];
        var candidate = RemoteConfigFile.Merge(local, message.Config);
        var problems = RemoteConfigFile.Check(candidate, message.Config, Path.Combine(_options.DataDirectory, "gateway.candidate.json"));
        lock (_lock)
        {
            State.LastVersion = message.Version;
            if (problems.Count > 0)
            {
                var reason = string.Join("; ", problems.Take(5)) + (problems.Count > 5 ? $"; and {problems.Count - 5} more" : string.Empty);
                State.Report = new ConfigAck(_options.Id, message.Version, ConfigResults.Refused, reason, _time.GetUtcNow());
                State.Save();
                _logger.RemoteConfigRefused(message.Version, reason);
            }
            else
            {
                State.Pending = (message.Version, message.Config);
                State.Save();
                _logger.RemoteConfigApplying(message.Version);
            }
        }

        if (problems.Count > 0)
        {
            await PublishReportAsync(ct).ConfigureAwait(false);
            return false;
        }

        Restart();
        return true;
    }

    private async Task PublishReportAsync(CancellationToken ct)
    {
        ConfigAck? report;
        lock (_lock)
        {
            report = State.Report;
        }

        if (report is null || _client is not { IsConnected: true } client)
        {
            return;
        }

        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(ConfigTopics.Ack(_options.Id))
            .WithPayload(Json.Bytes(ConfigTopics.AckMessage(report)))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), ct).ConfigureAwait(false);
        if (result.IsSuccess)
        {
            lock (_lock)
            {
                if (State.Report == report)
                {
                    State.Report = null;
                    State.Save();
                }
            }
        }
    }

    private void Restart()
    {
        RestartRequested = true;
        _lifetime.StopApplication();
    }
}
