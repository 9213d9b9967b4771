using System.Diagnostics;
using IocEdge.Edge.Outbox;

namespace IocEdge.Cli;

/// <summary>Whether the wall clock is synchronised: "synchronised", "not synchronised" or "unknown", and how we know.</summary>
internal sealed record ClockReport(string State, string Detail)
{
    public bool Failed => State == ClockState.NotSynchronised;
}

/// <summary>
/// The clock check of <c>outbox status</c> and <c>doctor</c>. Sources, in order: a wall time before the software's
/// release (<see cref="SystemClockSync.SoftwareDate"/>) is certainly wrong; systemd-timesyncd's flag file
/// (<c>/run/systemd/timesync/synchronized</c>, timesyncd(8)); <c>timedatectl show -p NTPSynchronized --value</c>
/// (the kernel's adjtimex status as systemd reports it). When neither answers, "unknown": never a guess.
/// </summary>
internal static class ClockState
{
    public const string Synchronised = "synchronised";
    public const string NotSynchronised = "not synchronised";
    public const string Unknown = "unknown";

    public static ClockReport Check(CliConsole console, TimeProvider time)
    {
        var now = time.GetUtcNow();
        if (now < SystemClockSync.SoftwareDate)
        {
            return new(NotSynchronised, $"the wall clock says {now:yyyy-MM-dd HH:mm} UTC, before this software existed (no RTC, no NTP yet)");
        }

        if (File.Exists(console.TimesyncFlag))
        {
            return new(Synchronised, $"systemd-timesyncd ({console.TimesyncFlag})");
        }

        if (File.Exists(console.Timedatectl))
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(console.Timedatectl, ["show", "-p", "NTPSynchronized", "--value"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
                if (p is not null && p.WaitForExit(3000))
                {
                    var answer = p.StandardOutput.ReadToEnd().Trim();
                    if (p.ExitCode == 0 && answer is "yes" or "no")
                    {
                        return answer == "yes"
                            ? new(Synchronised, "timedatectl: NTPSynchronized=yes")
                            : new(NotSynchronised, "timedatectl: NTPSynchronized=no");
                    }
                }
                else
                {
                    p?.Kill();
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        return new(Unknown, $"neither {console.TimesyncFlag} nor a working timedatectl (systemd not running?)");
    }
}
