namespace IocEdge.Systemd;

/// <summary>What a service tells its watchdog: when it is actually ready, and whether its work loops still move.</summary>
public interface IServiceLiveness
{
    /// <summary>Completes when the service is ready to do its job (READY=1 is sent then); a status line for STATUS=.</summary>
    Task<string> WhenReadyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Null while every work loop has made progress recently; otherwise what is stuck (e.g. "source modbus:rs485-1
    /// made no progress for 00:02:10"). While it is not null no WATCHDOG=1 is sent, so systemd restarts the service
    /// after WatchdogSec.
    /// </summary>
    string? FindStall();
}
