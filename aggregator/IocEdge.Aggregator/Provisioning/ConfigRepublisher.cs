using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>
/// After the embedded broker started, publishes every stored desired configuration again: MQTTnet keeps retained
/// messages in memory only, and a gateway that (re)connects after an aggregator restart must still find its
/// configuration on its config topic (contract §9.1). A failure is logged and does not stop the aggregator.
/// </summary>
internal sealed class ConfigRepublisher(EnrolmentService enrolment, ILogger<ConfigRepublisher> logger) : IHostedService
{
    private long _failures;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await enrolment.RepublishAllAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.RepublishFailed(ex, Interlocked.Increment(ref _failures));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
