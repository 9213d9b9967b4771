using System.Runtime.InteropServices;
using IocEdge.Devices.Profiles;
using IocEdge.Hardware.Simulator;
using Microsoft.Extensions.Logging;

// iocedge-sim: a plain async main (the simulator owns its timer and server; nothing here needs the Generic Host).
SimulatorInvocation invocation;
try
{
    invocation = SimulatorCommandLine.Parse(args);
}
catch (Exception ex) when (ex is SimulatorUsageException or ProfileValidationException or DirectoryNotFoundException)
{
    await Console.Error.WriteLineAsync($"iocedge-sim: error: {ex.Message}").ConfigureAwait(false);
    await Console.Error.WriteLineAsync("Run 'iocedge-sim --help' for usage.").ConfigureAwait(false);
    return 2;
}

switch (invocation.Command)
{
    case SimulatorCommand.Help:
        Console.WriteLine(SimulatorCommandLine.Usage);
        return 0;
    case SimulatorCommand.ListProfiles:
        Console.WriteLine(SimulatorCommandLine.ListProfiles(invocation.Catalog!));
        return 0;
}

using var loggerFactory = LoggerFactory.Create(b => b
    .SetMinimumLevel(invocation.LogLevel)
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss ";
        o.UseUtcTimestamp = true;
    }));

using var stop = new CancellationTokenSource();
// Ctrl+C (SIGINT) and SIGTERM (systemd, kill) both stop cleanly.
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

StationSimulator simulator;
try
{
    simulator = await StationSimulator.StartAsync(invocation.Options!, TimeProvider.System, loggerFactory, stop.Token).ConfigureAwait(false);
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or ArgumentException)
{
    await Console.Error.WriteLineAsync($"iocedge-sim: error: could not start: {ex.Message}").ConfigureAwait(false);
    return 1;
}

await using (simulator.ConfigureAwait(false))
{
    var units = string.Join(", ", simulator.Instruments.Select(i => $"{i.Profile.Id} as unit {i.UnitId}"));
    if (simulator.TcpEndPoint is { } tcp)
    {
        Console.WriteLine($"iocedge-sim: listening on tcp {tcp} ({units})");
    }

    if (simulator.SerialPortPath is { } serial)
    {
        Console.WriteLine($"iocedge-sim: listening on {invocation.Options!.Serial!.Mode.ToString().ToLowerInvariant()} {serial} ({units})");
    }

    foreach (var device in invocation.Options!.UartDevices)
    {
        Console.WriteLine($"iocedge-sim: simulated {device.Kind} on {device.PortPath}");
    }

    Console.WriteLine("iocedge-sim: press Ctrl+C to stop");
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
    }
    catch (OperationCanceledException)
    {
    }
}

Console.WriteLine("iocedge-sim: stopped");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
