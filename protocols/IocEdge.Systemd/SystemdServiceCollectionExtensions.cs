using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace IocEdge.Systemd;

/// <summary>Registration of <see cref="SystemdNotifyService"/>.</summary>
public static class SystemdServiceCollectionExtensions
{
    /// <summary>
    /// Registers the notifier with <typeparamref name="TLiveness"/> as the service's readiness and liveness. The socket
    /// and watchdog come from the environment unless a <see cref="SystemdNotifyOptions"/> was registered before (tests).
    /// Under a service manager the console log uses the journal's format (priority prefixes, no colours) and the
    /// "press Ctrl+C" lines are left out.
    /// </summary>
    public static IServiceCollection AddSystemdNotify<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TLiveness>(this IServiceCollection services)
        where TLiveness : class, IServiceLiveness
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(_ => SystemdNotifyOptions.FromEnvironment());
        services.TryAddSingleton<TLiveness>();
        services.TryAddSingleton<IServiceLiveness>(sp => sp.GetRequiredService<TLiveness>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SystemdNotifyService>();
        services.AddHostedService(sp => sp.GetRequiredService<SystemdNotifyService>());
        if (SystemdNotifyOptions.UnderServiceManager)
        {
            services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Systemd);
            services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        }

        return services;
    }
}
