namespace IocEdge.Edge.Outbox;

/// <summary>Whether the wall clock can be trusted, and which boot this is (for the outbox's clock correction).</summary>
public interface IClockSync
{
    /// <summary>True once the wall clock was set from a time source (NTP).</summary>
    bool IsSynchronized { get; }

    /// <summary>The kernel's id of this boot (<c>/proc/sys/kernel/random/boot_id</c>): the monotonic clock is only
    /// comparable within one boot.</summary>
    string BootId { get; }
}

/// <summary>
/// The clock state of a Linux gateway: synchronised when systemd-timesyncd says so
/// (<c>/run/systemd/timesync/synchronized</c> exists, timesyncd(8)) and the wall clock is not before
/// <see cref="SoftwareDate"/> (a board without a real-time clock boots in 1970 or at its last shutdown).
/// </summary>
public sealed class SystemClockSync(TimeProvider time) : IClockSync
{
    /// <summary>A wall time before this cannot be right: this software did not exist yet (its release month).</summary>
    public static readonly DateTimeOffset SoftwareDate = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The flag file systemd-timesyncd creates at its first successful synchronisation (timesyncd(8)).</summary>
    public const string TimesyncFlag = "/run/systemd/timesync/synchronized";

    private string? _bootId;

    public bool IsSynchronized => time.GetUtcNow() >= SoftwareDate && File.Exists(TimesyncFlag);

    public string BootId => _bootId ??= ReadBootId();

    private static string ReadBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
