using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IocEdge.Edge.Remote;

/// <summary>
/// Runs the gateway host and builds it again when it stopped itself to take another configuration (a remote one applied
/// or rolled back, <see cref="RemoteConfigAgent.RestartRequested"/>): the outbox is closed by the old host and reopened
/// by the new one, so buffered readings stay on the card. Otherwise returns the host's exit code
/// (<see cref="GatewayHost.ExitCodeOf"/>). What <c>iocedge-gateway</c> runs; tests run it in-process.
/// </summary>
public static class GatewayRunner
{
    /// <param name="args">As for <see cref="GatewayHost.Build"/>.</param>
    /// <param name="configure">As for <see cref="GatewayHost.Build"/>, applied to every build.</param>
    /// <param name="started">Called with each host once started (tests watch the current host).</param>
    /// <param name="cancellationToken">Stops the gateway (an orderly stop, exit 0).</param>
    /// <exception cref="Configuration.GatewayConfigurationException">The configuration is not valid (as <see cref="GatewayHost.Build"/>).</exception>
    public static async Task<int> RunAsync(string[] args, Action<HostApplicationBuilder>? configure = null, Action<IHost>? started = null,
        CancellationToken cancellationToken = default)
    {
        while (true)
        {
            using var host = GatewayHost.Build(args, configure);
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            started?.Invoke(host);
            await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested || host.Services.GetService<RemoteConfigAgent>() is not { RestartRequested: true })
            {
                return GatewayHost.ExitCodeOf(host);
            }
        }
    }
}
