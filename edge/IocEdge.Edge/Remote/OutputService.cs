using System.Device.Gpio;
using System.Threading.Channels;
using IocEdge.Devices;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Sources;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Remote;

/// <summary>
/// The gateway's relay outputs (<c>Gateway:Gpio:Outputs</c>), commandable from the aggregator over
/// <c>iocedge/v1/{id}/command</c> (contract §10): <c>set</c> holds a state, <c>pulse</c> drives the opposite of the safe
/// state for a while and returns to it; each command is reported on <c>…/command/ack</c> (done or refused, with the
/// output's state). Each output is opened at its safe state (no glitch, <see cref="DigitalOutput"/>), returns to it at
/// stop, and when the link to the aggregator stays down for <see cref="GpioOptions.OutputLinkLossTimeout"/> (monotonic,
/// <see cref="TimeProvider"/>): an operator who can no longer see a relay must not leave it commanded. A failure never
/// stops the gateway: the outputs that cannot be opened refuse their commands.
/// </summary>
public sealed class OutputService : BackgroundService, IMqttLinkParticipant
{
    private readonly GatewayOptions _options;
    private readonly IGpioControllerProvider _gpio;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<OutputService> _logger;
    private readonly Dictionary<string, DigitalOutput> _outputs = new(StringComparer.Ordinal);
    private readonly Channel<byte[]> _commands = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly Lock _lock = new();
    private GpioController? _controller;
    private string? _unavailable;
    private IMqttClient? _client;
    private CancellationTokenSource _pulses = new();
    private CancellationTokenSource? _linkLoss;
    private long _failures;
    private long _safeOnLinkLoss;

    public OutputService(IOptions<GatewayOptions> options, IGpioControllerProvider gpio, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options.Value;
        _gpio = gpio;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<OutputService>();
    }

    /// <summary>The configured outputs that are open (by id).</summary>
    public IReadOnlyCollection<string> Outputs
    {
        get
        {
            lock (_lock)
            {
                return [.. _outputs.Keys];
            }
        }
    }

    /// <summary>Times every output was returned to its safe state because the link stayed down, since start.</summary>
    public long SafeOnLinkLoss => Interlocked.Read(ref _safeOnLinkLoss);

    /// <summary>Commands that failed for an internal reason (logged), since start.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The state of output <paramref name="id"/> (true = active), or null when it is not open.</summary>
    public bool? IsActive(string id)
    {
        lock (_lock)
        {
            return _outputs.TryGetValue(id, out var o) ? o.IsActive : null;
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var configured = _options.Gpio.Outputs;
        if (configured.Count > 0)
        {
            try
            {
                _controller = _gpio.Open(_options.Gpio.Chip);
                foreach (var o in configured)
                {
                    // Opened directly at the safe level: the relay never clicks at start (DigitalOutput).
                    _outputs[o.Id] = new DigitalOutput(_controller, new DigitalOutputOptions
                    {
                        Name = o.Id, Pin = o.Pin, ActiveLow = o.ActiveLow, SafeStateActive = o.SafeStateActive, MaxPulse = o.MaxPulse,
                    }, _time, _loggers.CreateLogger<DigitalOutput>());
                }
            }
            catch (Exception ex) when (ex is SensorException or InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                _unavailable = ex.Message;
                _logger.OutputsUnavailable(ex.Message);
            }
        }

        StartLinkLossWatch(); // not connected yet: if the link never comes, the outputs stay safe (they are already)
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _linkLoss?.Cancel();
            _pulses.Cancel();
            foreach (var o in _outputs.Values)
            {
                o.Dispose(); // drives the safe state, then releases the pin
            }

            _outputs.Clear();
            _controller?.Dispose();
            _controller = null;
        }
    }

    public override void Dispose()
    {
        _pulses.Dispose();
        _linkLoss?.Dispose();
        base.Dispose();
    }

    /// <inheritdoc/>
    public async Task OnConnectedAsync(IMqttClient client, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        LinkUp(client);

        if (_options.Gpio.Outputs.Count > 0)
        {
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(OutputCommandTopics.Command(_options.Id), MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct).ConfigureAwait(false);
        }
    }

    /// <summary>The link is up: the loss countdown stops (and the client is kept for reports).</summary>
    internal void LinkUp(IMqttClient? client)
    {
        lock (_lock)
        {
            _client = client;
            _linkLoss?.Cancel();
            _linkLoss = null;
        }
    }

    /// <inheritdoc/>
    public void OnDisconnected() => StartLinkLossWatch();

    /// <inheritdoc/>
    public Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.ApplicationMessage.Topic == OutputCommandTopics.Command(_options.Id))
        {
            _commands.Writer.TryWrite(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload));
        }

        return Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var payload in _commands.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await HandleAsync(payload, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Supervision: one bad command never stops the outputs or the gateway.
                _logger.OutputCommandFailed(ex, Interlocked.Increment(ref _failures));
            }
        }
    }

    /// <summary>Runs one command (contract §10.1) and publishes its report (§10.2). Public for tests without a broker.</summary>
    public async Task<OutputAck?> HandleAsync(byte[] payload, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (!OutputCommandTopics.TryDecodeCommand(payload, _options.Id, out var command, out var error))
        {
            _logger.OutputCommandUndecodable(error!); // no id to report against
            return null;
        }

        var ack = Apply(command!);
        _logger.OutputCommanded(command!.Output, command.Id, command.Action, ack.Result, ack.Reason ?? string.Empty);
        if (Volatile.Read(ref _client) is { IsConnected: true } client)
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(OutputCommandTopics.Ack(_options.Id))
                .WithPayload(Json.Bytes(OutputCommandTopics.AckMessage(ack)))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), ct).ConfigureAwait(false);
        }

        return ack;
    }

    private OutputAck Apply(OutputCommand c)
    {
        OutputAck Ack(string result, string? reason, bool? active) => new(_options.Id, c.Id, c.Output, result, reason, active, _time.GetUtcNow());

        DigitalOutput? output;
        CancellationToken pulses;
        lock (_lock)
        {
            _outputs.TryGetValue(c.Output, out output);
            pulses = _pulses.Token;
        }

        if (output is null)
        {
            var known = _options.Gpio.Outputs.Any(o => o.Id == c.Output);
            return Ack(OutputResults.Refused, known
                ? $"output {c.Output} could not be opened at start ({_unavailable ?? "stopped"})"
                : $"no output {c.Output} on this gateway (Gateway:Gpio:Outputs has {string.Join(", ", _options.Gpio.Outputs.Select(o => o.Id))})", null);
        }

        try
        {
            if (c.Action == OutputCommandTopics.Set)
            {
                output.Set(c.Active);
                return Ack(OutputResults.Done, null, output.IsActive);
            }

            // The pulse runs on: its own finally returns the relay to the safe state, also when cut short by a link loss.
            // PulseAsync checks its arguments and a pulse already running before its first await: a refusal is a task
            // already faulted here.
            var pulse = output.PulseAsync(c.Duration, pulses);
            if (pulse.IsFaulted)
            {
                return Ack(OutputResults.Refused, pulse.Exception!.InnerException!.Message.Split(Environment.NewLine)[0], output.IsActive);
            }

            _ = pulse.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return Ack(OutputResults.Done, null, output.IsActive);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentOutOfRangeException or ObjectDisposedException)
        {
            // Busy with a pulse, or a pulse longer than MaxPulse: the output keeps its state.
            return Ack(OutputResults.Refused, ex.Message.Split(Environment.NewLine)[0], output.IsActive);
        }
    }

    private void StartLinkLossWatch()
    {
        CancellationToken token;
        lock (_lock)
        {
            if (_linkLoss is not null || _options.Gpio.Outputs.Count == 0)
            {
                return; // already counting since the first loss
            }

            _linkLoss = new CancellationTokenSource();
            token = _linkLoss.Token;
        }

        _ = WatchAsync(token);
    }

    private async Task WatchAsync(CancellationToken token)
    {
        try
        {
            await Task.Delay(_options.Gpio.OutputLinkLossTimeout, _time, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // the link came back in time
        }

        lock (_lock)
        {
            if (token.IsCancellationRequested)
            {
                return;
            }

            // Pulses are cut short (each returns to its safe state itself); held states are released.
            _pulses.Cancel(); // not disposed: a pulse starting right now may still hold its token
            _pulses = new CancellationTokenSource();
            foreach (var (id, o) in _outputs)
            {
                var safe = _options.Gpio.Outputs.First(x => x.Id == id).SafeStateActive;
                if (!o.IsPulsing && o.IsActive != safe)
                {
                    o.Set(safe);
                }
            }
        }

        Interlocked.Increment(ref _safeOnLinkLoss);
        _logger.OutputsSafeOnLinkLoss(_options.Gpio.OutputLinkLossTimeout);
    }
}
