using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using IocEdge.Systemd;
using Microsoft.Extensions.Options;

namespace IocEdge.Edge;

/// <summary>
/// The gateway's readiness and liveness for systemd (units: edge/IocEdge.Gateway/packaging). Ready: the outbox is open
/// and every reading source has finished its first poll cycle (or <see cref="ReadyAtTheLatest"/> has passed, so that
/// a link with many silent slaves does not hold start-up past systemd's TimeoutStartSec). Alive: every source made
/// progress within three of its <see cref="IReadingSource.ExpectedInterval"/> (at least <see cref="MinimumStallLimit"/>), and the forwarder within <see cref="ForwarderStallLimit"/> (it
/// forwarded or failed and retried, or had nothing to send); its loop has not ended.
/// </summary>
public sealed class GatewayLiveness(SqliteOutbox outbox, SamplingService sampling, MqttForwarder forwarder,
    IOptions<GatewayOptions> options, TimeProvider time) : IServiceLiveness
{
    /// <summary>READY=1 is sent after this at the latest even if a source has not finished its first cycle (systemd's
    /// default TimeoutStartSec is 90 s; the units set 90 s).</summary>
    public static readonly TimeSpan ReadyAtTheLatest = TimeSpan.FromSeconds(30);

    /// <summary>The shortest stall limit: two minutes, well above a Modbus cycle of retried timeouts on a busy line.</summary>
    public static readonly TimeSpan MinimumStallLimit = TimeSpan.FromMinutes(2);

    private readonly object _gate = new();
    private long _forwarderProgress = time.GetTimestamp();
    private (long Forwarded, long Failures) _forwarderSeen = (-1, -1);

    /// <summary>The forwarder is stuck after this long without progress while readings wait: twice the longest
    /// reconnect delay plus twice the MQTT timeout, at least <see cref="MinimumStallLimit"/>.</summary>
    public TimeSpan ForwarderStallLimit { get; } = Max(MinimumStallLimit,
        2 * options.Value.Mqtt.ReconnectDelayMax + 2 * options.Value.Mqtt.Timeout);

    public async Task<string> WhenReadyAsync(CancellationToken cancellationToken)
    {
        var first = sampling.FirstCycle;
        await Task.WhenAny(first, Task.Delay(ReadyAtTheLatest, time, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return first.IsCompleted
            ? $"outbox open ({outbox.Count} pending), first poll cycle done"
            : $"outbox open ({outbox.Count} pending), a source has not finished its first cycle after {ReadyAtTheLatest.TotalSeconds:0} s";
    }

    public string? FindStall()
    {
        if (sampling.ExecuteTask is { IsCompleted: true })
        {
            return "the sampling loop has ended";
        }

        if (sampling.FindStalledSource(MinimumStallLimit) is { } source)
        {
            return $"source {source.Source} made no progress for {source.Quiet:hh\\:mm\\:ss}";
        }

        if (forwarder.ExecuteTask is { IsCompleted: true })
        {
            return "the forwarder loop has ended";
        }

        lock (_gate)
        {
            var seen = (forwarder.Forwarded, forwarder.Failures);
            if (seen != _forwarderSeen || outbox.Count == 0)
            {
                _forwarderSeen = seen;
                _forwarderProgress = time.GetTimestamp();
                return null;
            }

            var quiet = time.GetElapsedTime(_forwarderProgress);
            return quiet > ForwarderStallLimit
                ? $"the forwarder made no progress for {quiet:hh\\:mm\\:ss} with {outbox.Count} readings waiting"
                : null;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
