using System.Globalization;

namespace IocEdge.Testing;

/// <summary>
/// How long a process was kept off the CPU: the kernel's run-queue delay ("time spent waiting on a runqueue", the
/// second field of /proc/PID/task/TID/schedstat, in nanoseconds; Linux Documentation/scheduler/sched-stats.rst) of
/// each of its live threads. A start-up budget measured on this shared 2-core machine allows for it: it is time the
/// machine, not the service, spent.
/// </summary>
public static class RunQueue
{
    /// <summary>
    /// The longest run-queue wait of any one live thread of <paramref name="pid"/>; zero where /proc has no schedstat.
    /// Not the sum: a .NET start-up runs several threads at once (thread-pool workers, tiered compilation), their waits
    /// overlap in time and partly on each other on 2 cores, and their sum (measured 0.6-3.2 s at load 6, where the
    /// start-up took 0.7-1.4 s) would excuse a real delay of seconds. The start-up's critical path runs on one thread at
    /// a time, so the longest single wait is the allowance.
    /// </summary>
    public static TimeSpan LongestWait(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }

        long longest = 0;
        foreach (var task in tasks)
        {
            try
            {
                var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                longest = Math.Max(longest, long.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The thread ended while being read.
            }
        }

        return TimeSpan.FromTicks(longest / 100);
    }

    /// <summary>
    /// The arguments that start <paramref name="file"/> at nice -10 (nice(1) execs it: the pid is the program's). On
    /// this machine several builds share 2 cores (load 6-15); at nice 0 a start-up gets an eighth of a core there and
    /// measures the machine, not the program. At -10 (CFS weight 9548 against 1024 for each nice-0 task) it gets most
    /// of a core, as on a Raspberry Pi that runs nothing else. Without the right to raise priority (not root) nice
    /// warns and runs the program at its own priority.
    /// </summary>
    public static (string File, string[] Arguments) Prioritised(string file, params string[] arguments) =>
        ("nice", ["-n", "-10", file, .. arguments]);
}
