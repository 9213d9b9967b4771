using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace IocEdge.Systemd;

/// <summary>
/// The service manager's notification socket (sd_notify(3)): a unix datagram socket whose path systemd passes in
/// NOTIFY_SOCKET to a Type=notify service. Each state is one datagram of newline-separated <c>KEY=VALUE</c> lines
/// ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=text"). A path starting with '@' is in the abstract namespace
/// (sd_notify(3), "NOTIFY_SOCKET"). Sending never throws: a service must not stop because its manager went away.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    /// <summary>The environment variable systemd sets for Type=notify services (sd_notify(3)).</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>The watchdog timeout in microseconds, set by systemd when the unit has WatchdogSec= (sd_watchdog_enabled(3)).</summary>
    public const string WatchdogUsecVariable = "WATCHDOG_USEC";

    /// <summary>The pid the watchdog timeout is meant for; when set and not ours, the watchdog is not ours (sd_watchdog_enabled(3)).</summary>
    public const string WatchdogPidVariable = "WATCHDOG_PID";

    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _endPoint;

    /// <param name="path">A filesystem path, or '@name' for the abstract namespace.</param>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public NotifySocket(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        _endPoint = new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path);
    }

    /// <summary>The socket path as given.</summary>
    public string Path { get; }

    /// <summary>
    /// Half of WATCHDOG_USEC (the ping interval sd_watchdog_enabled(3) recommends), or null when the unit has no
    /// watchdog, the value is not a positive whole number, or WATCHDOG_PID names another process.
    /// </summary>
    public static TimeSpan? WatchdogPingInterval(Func<string, string?> getEnvironment)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        if (getEnvironment(WatchdogPidVariable) is { Length: > 0 } pid &&
            pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        return long.TryParse(getEnvironment(WatchdogUsecVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec / 2.0)
            : null;
    }

    /// <summary>Sends one state datagram; returns the error text instead of throwing when it cannot be delivered.</summary>
    public string? TrySend(string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endPoint);
            return null;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return ex.Message;
        }
    }

    public void Dispose() => _socket.Dispose();
}
