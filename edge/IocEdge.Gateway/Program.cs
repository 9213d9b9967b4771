using IocEdge.Edge;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

try
{
    using var host = GatewayHost.Build(args);
    await host.StartAsync().ConfigureAwait(false);
    await host.WaitForShutdownAsync().ConfigureAwait(false);
    return GatewayHost.ExitCodeOf(host);
}
catch (OptionsValidationException ex)
{
    // A bad configuration stops here, before any bus is opened, with every problem listed.
    await Console.Error.WriteLineAsync("iocedge-gateway: the configuration is not valid:").ConfigureAwait(false);
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
    }

    return 78; // EX_CONFIG: systemd does not restart-loop on it with RestartPreventExitStatus=78
}
catch (FileNotFoundException ex)
{
    await Console.Error.WriteLineAsync("iocedge-gateway: " + ex.Message).ConfigureAwait(false);
    return 78;
}
catch (InvalidDataException ex)
{
    await Console.Error.WriteLineAsync("iocedge-gateway: the configuration file is not valid JSON: " + ex.Message).ConfigureAwait(false);
    return 78;
}
catch (InvalidOperationException ex) when (ex.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase))
{
    await Console.Error.WriteLineAsync("iocedge-gateway: " + ex.Message).ConfigureAwait(false);
    return 78;
}
