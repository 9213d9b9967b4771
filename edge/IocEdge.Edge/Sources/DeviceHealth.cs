using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sources;

/// <summary>
/// Logs a device's failures once per change of state rather than on every poll: the first failure (and a failure
/// whose cause changed, e.g. from "no such device" to "access denied") is one Warning line naming the device, the
/// cause and the fix, without a stack trace; the first success after that is one Information line. Its channels report
/// comm_failure on every cycle meanwhile; that is the source's job, not this class's.
/// </summary>
internal sealed class DeviceHealth(ILogger logger, string device)
{
    private readonly Lock _lock = new();
    private string? _failure;

    /// <summary>The device as named in logs ("/dev/ttyAMA0 (sensor pm)", "/dev/gpiochip0").</summary>
    public string Device => device;

    /// <summary>True while the last attempt to open or read the device failed.</summary>
    public bool IsFailed
    {
        get
        {
            lock (_lock)
            {
                return _failure is not null;
            }
        }
    }

    /// <summary>Records a failure; logs it when the device was working or failed for another reason.</summary>
    public void Failed(string reason)
    {
        lock (_lock)
        {
            if (string.Equals(_failure, reason, StringComparison.Ordinal))
            {
                return;
            }

            _failure = reason;
        }

        logger.DeviceUnavailable(device, reason);
    }

    /// <summary>Records a success; logs the recovery when the device had failed.</summary>
    public void Recovered()
    {
        lock (_lock)
        {
            if (_failure is null)
            {
                return;
            }

            _failure = null;
        }

        logger.DeviceRecovered(device);
    }

    /// <summary>The message a technician needs from <paramref name="ex"/>: a SensorException already names the path and the fix.</summary>
    public static string Reason(Exception ex) => ex.InnerException is { } inner && ex is not IocEdge.Devices.SensorException
        ? $"{ex.Message} ({inner.Message})"
        : ex.Message;
}
