using System.Globalization;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Edge.Forwarding;

/// <summary>Gathers the gateway's health report (contract §5.1) from the outbox, the file system and the kernel.</summary>
internal sealed class HealthProbe(TimeProvider time, string dataDirectory)
{
    /// <summary>Linux thermal zone 0, in millidegrees Celsius (kernel Documentation/ABI/testing/sysfs-class-thermal).</summary>
    internal const string ThermalZone = "/sys/class/thermal/thermal_zone0/temp";

    /// <summary>Created by systemd-timesyncd once the clock is synchronised (timedatectl(1), systemd-timesyncd.service(8)).</summary>
    internal const string TimesyncFlag = "/run/systemd/timesync/synchronized";

    /// <summary>No reading can be stamped earlier than this software was written: a clock before it is not set.</summary>
    internal static readonly DateTimeOffset BuildFloor = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly long _started = time.GetTimestamp();

    public GatewayHealth Build(OutboxHealth outbox, DateTimeOffset now, long forwarded, long failures)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        return new GatewayHealth(
            outbox.OldestPending,
            outbox.OldestPending is { } oldest ? Math.Max(0, (now - oldest).TotalSeconds) : null,
            outbox.Bytes,
            outbox.DeadLettered,
            outbox.DroppedByReason,
            outbox.QuarantinedFiles,
            DiskFree(dataDirectory),
            time.GetElapsedTime(_started).TotalSeconds,
            ClockState(now),
            CpuTemperature(ThermalZone),
            forwarded,
            failures);
    }

    internal static long? DiskFree(string directory)
    {
        try
        {
            var full = Path.GetFullPath(directory);
            return new DriveInfo(Directory.Exists(full) ? full : Path.GetPathRoot(full)!).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    internal static string ClockState(DateTimeOffset now) =>
        now < BuildFloor ? "unsynced" : File.Exists(TimesyncFlag) ? "synced" : "unknown";

    /// <summary>°C from a sysfs thermal file (millidegrees), null when absent or unreadable.</summary>
    internal static double? CpuTemperature(string path)
    {
        try
        {
            return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var milli)
                ? milli / 1000.0
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
