using IocEdge.Edge;
using IocEdge.Edge.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

if (args.Any(a => a is "--help" or "-h" or "-?"))
{
    await Console.Out.WriteAsync(GatewayHost.Usage).ConfigureAwait(false);
    return 0;
}

try
{
    // Rebuilds the host when a remote configuration (contract §9) is applied or rolled back: Remote/GatewayRunner.cs.
    return await IocEdge.Edge.Remote.GatewayRunner.RunAsync(args).ConfigureAwait(false);
}
catch (GatewayConfigurationException ex)
{
    // A bad configuration stops here, before any port, file or bus is opened, with every problem on one line each.
    await Console.Error.WriteLineAsync($"iocedge-gateway: the configuration is not valid ({ex.Problems.Count} problem(s)); nothing was started:").ConfigureAwait(false);
    foreach (var problem in ex.Problems)
    {
        await Console.Error.WriteLineAsync(problem).ConfigureAwait(false);
    }

    return GatewayHost.ExitConfig; // systemd does not restart-loop on it with RestartPreventExitStatus=78
}
catch (OptionsValidationException ex)
{
    await Console.Error.WriteLineAsync("iocedge-gateway: the configuration is not valid:").ConfigureAwait(false);
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync(failure).ConfigureAwait(false);
    }

    return GatewayHost.ExitConfig;
}
catch (DataDirectoryException ex)
{
    await Console.Error.WriteLineAsync("iocedge-gateway: " + ex.Message).ConfigureAwait(false);
    return GatewayHost.ExitCantCreate;
}
catch (FileNotFoundException ex)
{
    await Console.Error.WriteLineAsync("iocedge-gateway: " + ex.Message).ConfigureAwait(false);
    return GatewayHost.ExitConfig;
}
#pragma warning disable CA1031 // the last line of defence: one line and an exit code instead of an unhandled-exception dump
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync($"iocedge-gateway: stopped by an internal error: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
    return GatewayHost.ExitSoftware;
}
