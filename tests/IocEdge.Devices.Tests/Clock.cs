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

    /// <summary>Advances until the task completes (or the budget is spent), for drivers that wait on the clock.</summary>
    public static async Task<T> RunAsync<T>(this FakeTimeProvider time, Task<T> task, TimeSpan step, TimeSpan budget)
    {
        var spent = TimeSpan.Zero;
        while (!task.IsCompleted && spent < budget)
        {
            time.Advance(step);
            spent += step;
            await Task.Yield();
        }

        return await task;
    }

    public static async Task RunAsync(this FakeTimeProvider time, Task task, TimeSpan step, TimeSpan budget)
    {
        var spent = TimeSpan.Zero;
        while (!task.IsCompleted && spent < budget)
        {
            time.Advance(step);
            spent += step;
            await Task.Yield();
        }

        await task;
    }
}
