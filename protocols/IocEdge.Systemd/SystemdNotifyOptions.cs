namespace IocEdge.Systemd;

/// <summary>Where to notify and how often to ping; from the environment systemd sets (<see cref="FromEnvironment"/>).</summary>
/// <param name="SocketPath">NOTIFY_SOCKET, or null when not started by a service manager (nothing is sent).</param>
/// <param name="WatchdogPingInterval">Half of WATCHDOG_USEC, or null when the unit has no WatchdogSec=.</param>
public sealed record SystemdNotifyOptions(string? SocketPath, TimeSpan? WatchdogPingInterval)
{
    /// <summary>Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (sd_notify(3), sd_watchdog_enabled(3)).</summary>
    public static SystemdNotifyOptions FromEnvironment() => new(
        Environment.GetEnvironmentVariable(NotifySocket.SocketVariable) is { Length: > 0 } path ? path : null,
        NotifySocket.WatchdogPingInterval(Environment.GetEnvironmentVariable));

    /// <summary>True when a journal or service manager started the process (JOURNAL_STREAM, INVOCATION_ID or NOTIFY_SOCKET set).</summary>
    public static bool UnderServiceManager =>
        Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 } ||
        Environment.GetEnvironmentVariable("INVOCATION_ID") is { Length: > 0 } ||
        Environment.GetEnvironmentVariable(NotifySocket.SocketVariable) is { Length: > 0 };
}
