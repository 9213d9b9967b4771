namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Keeps a serial line silent until a given time has passed since its last byte (t3.5 between RTU frames, the
/// turnaround delay after a broadcast).
/// </summary>
/// <remarks>
/// .NET timers on Linux run on a coarse clock (4 ms ticks on the build machine), so <c>Task.Delay</c> can end before
/// the asked time has passed on the precise clock; a t3.5 of 3.6 ms was seen cut to 0.1 ms. The wait is therefore
/// re-checked on the precise timestamp and repeated; a sub-millisecond remainder on the system clock is waited out by
/// yielding (a timer could not do better than a whole tick). A fake clock is advanced by its test, so it only ever
/// sees timer waits.
/// </remarks>
internal static class LineSilence
{
    public static async ValueTask WaitAsync(TimeProvider time, long lastActivity, TimeSpan needed,
        CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(time, TimeProvider.System))
        {
            // Another clock (a test's FakeTimeProvider) fires its timers exactly: one wait.
            var remaining = needed - time.GetElapsedTime(lastActivity);
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining, time, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        while (true)
        {
            var wait = needed - time.GetElapsedTime(lastActivity);
            if (wait <= TimeSpan.Zero)
            {
                return;
            }

            if (wait < TimeSpan.FromMilliseconds(1))
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Yield();
                continue;
            }

            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
