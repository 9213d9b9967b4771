using System.Globalization;

namespace IocEdge.Testing;

/// <summary>
/// How long a process was kept off the CPU by other processes: the kernel's run-queue delay ("time spent waiting on a
/// runqueue", the second field of /proc/PID/task/TID/schedstat, in nanoseconds; Linux
/// Documentation/scheduler/sched-stats.rst) summed over the process's live threads. A start-up budget measured on this
/// shared 2-core machine subtracts it: it is time the machine, not the service, spent. Summing over threads counts
/// overlapping waits more than once, so the allowance errs on the generous side; threads that already ended are not
/// counted, which errs the other way.
/// </summary>
public static class RunQueue
{
    /// <summary>The summed run-queue wait of <paramref name="pid"/>'s threads; zero where /proc has no schedstat.</summary>
    public static TimeSpan Wait(int pid)
    {
        long ns = 0;
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }

        foreach (var task in tasks)
        {
            try
            {
                var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                ns += long.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The thread ended while being read.
            }
        }

        return TimeSpan.FromTicks(ns / 100);
    }
}
