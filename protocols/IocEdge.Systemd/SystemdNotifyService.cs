using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Systemd;

/// <summary>
/// Plays the Type=notify protocol (sd_notify(3)) for a service: READY=1 once <see cref="IServiceLiveness.WhenReadyAsync"/>
/// completes (not merely when the host has started), then WATCHDOG=1 every half WATCHDOG_USEC while
/// <see cref="IServiceLiveness.FindStall"/> finds nothing stuck, and STOPPING=1 as soon as the host begins to stop
/// (SIGTERM). Without NOTIFY_SOCKET it does nothing. Microsoft.Extensions.Hosting.Systemd is not used for this: it
/// turns on only when the parent process is systemd, sends READY at host start and never pings the watchdog.
/// Its loop catches everything but cancellation: a failing liveness check skips that ping and is logged.
/// </summary>
public sealed partial class SystemdNotifyService(SystemdNotifyOptions options, IServiceLiveness liveness,
    IHostApplicationLifetime lifetime, TimeProvider time, ILogger<SystemdNotifyService> logger) : BackgroundService
{
    private NotifySocket? _socket;
    private CancellationTokenRegistration _stopping;
    private long _pings;

    /// <summary>WATCHDOG=1 datagrams sent since start.</summary>
    public long Pings => Interlocked.Read(ref _pings);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.SocketPath is { } path)
        {
            _socket = new NotifySocket(path);
            _stopping = lifetime.ApplicationStopping.Register(() => Send("STOPPING=1\nSTATUS=stopping"));
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_socket is null)
        {
            return;
        }

        var status = await liveness.WhenReadyAsync(stoppingToken).ConfigureAwait(false);
        Send($"READY=1\nSTATUS={status}");
        LogReady(logger, options.SocketPath!, status, options.WatchdogPingInterval);
        if (options.WatchdogPingInterval is not { } interval)
        {
            return;
        }

        // One periodic timer for the whole run: a tick is never lost, however long a check takes.
        using var timer = new PeriodicTimer(interval, time);
        string? stalled = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = liveness.FindStall();
                if (now is null)
                {
                    Send("WATCHDOG=1");
                    Interlocked.Increment(ref _pings);
                    if (stalled is not null)
                    {
                        LogRecovered(logger, stalled);
                        Send($"STATUS={status}");
                    }
                }
                else if (stalled is null)
                {
                    // Once per stall: the journal says why the watchdog will fire.
                    LogStalled(logger, now);
                    Send($"STATUS=stalled: {now}");
                }

                stalled = now;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCheckFailed(logger, ex);
            }

            try
            {
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        _stopping.Dispose();
        _socket?.Dispose();
        base.Dispose();
    }

    private void Send(string state)
    {
        if (_socket?.TrySend(state) is { } error)
        {
            LogSendFailed(logger, _socket.Path, error);
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
        Message = "Told the service manager READY=1 on {Socket}: {Status}; watchdog ping every {Interval} (null: no WatchdogSec)")]
    private static partial void LogReady(ILogger logger, string socket, string status, TimeSpan? interval);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Error,
        Message = "Watchdog pings withheld: {Stall}. systemd restarts the service after WatchdogSec unless it recovers")]
    private static partial void LogStalled(ILogger logger, string stall);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "Watchdog pings resumed: no longer stalled ({Stall})")]
    private static partial void LogRecovered(ILogger logger, string stall);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Warning, Message = "Cannot notify the service manager on {Socket}: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string socket, string error);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Error, Message = "The liveness check failed; this watchdog ping is skipped")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
