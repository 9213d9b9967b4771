using IocEdge.Aggregator.Ingest;
using IocEdge.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IocEdge.Aggregator;

/// <summary>
/// The aggregator's readiness and liveness for systemd (unit: aggregator/IocEdge.Aggregator/packaging). Ready: the
/// host has started, that is the store is open (the ingest pipeline holds it), the MQTT listener (embedded broker) or
/// the external broker ingest has started and the HTTP listeners are bound. Alive: the ingest loop (and the external
/// broker ingest, when configured) has not ended.
/// </summary>
public sealed class AggregatorLiveness(IHostApplicationLifetime lifetime, IngestPipeline ingest, IServiceProvider services)
    : IServiceLiveness
{
    private readonly ExternalBrokerIngest? _external = services.GetService<ExternalBrokerIngest>();

    public async Task<string> WhenReadyAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (cancellationToken.Register(() => started.TrySetCanceled(cancellationToken)))
        {
            await started.Task.ConfigureAwait(false);
        }

        return _external is null ? "store open, MQTT broker and HTTP listening" : "store open, external broker ingest and HTTP listening";
    }

    public string? FindStall() =>
        ingest.ExecuteTask is { IsCompleted: true } ? "the ingest loop has ended"
        : _external?.ExecuteTask is { IsCompleted: true } ? "the external broker ingest has ended"
        : null;
}
