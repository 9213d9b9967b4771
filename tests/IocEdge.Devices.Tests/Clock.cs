using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Devices.Tests;

/// <summary>
/// Moves a FakeTimeProvider forward in small steps, so that timers which re-arm themselves from their own
/// callback (pulse trains, debounce) fire at every due time inside a long span.
/// </summary>
internal static class Clock
{
    public static FakeTimeProvider New() => new(new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero));

    public static void Step(this FakeTimeProvider time, TimeSpan total, TimeSpan step)
    {
        var end = time.GetUtcNow() + total;
        while (time.GetUtcNow() + step <= end)
        {
            time.Advance(step);
        }

        var rest = end - time.GetUtcNow();
        if (rest > TimeSpan.Zero)
        {
            time.Advance(rest);
        }
    }

    /// <summary>
    /// Advances the fake clock in steps until the task completes, for drivers that wait on the clock. Between steps
    /// it gives real I/O (a file read on the thread pool) a moment to finish; the fake clock stops at
    /// <paramref name="budget"/> and the helper fails after 10 s of real time instead of hanging.
    /// </summary>
    public static async Task<T> RunAsync<T>(this FakeTimeProvider time, Task<T> task, TimeSpan step, TimeSpan budget)
    {
        await Drive(time, task, step, budget);
        return await task;
    }

    public static async Task RunAsync(this FakeTimeProvider time, Task task, TimeSpan step, TimeSpan budget)
    {
        await Drive(time, task, step, budget);
        await task;
    }

    private static async Task Drive(FakeTimeProvider time, Task task, TimeSpan step, TimeSpan budget)
    {
        var spent = TimeSpan.Zero;
        var guard = System.Diagnostics.Stopwatch.StartNew();
        while (!task.IsCompleted)
        {
            if (guard.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"Task did not complete after {spent} of fake time and 10 s of real time.");
            }

            if (spent < budget)
            {
                time.Advance(step);
                spent += step;
            }

            // Not a wait on our timers: lets thread-pool I/O and continuations run before the next step.
            await Task.WhenAny(task, Task.Delay(1));
        }
    }
}
