using System.Diagnostics;

namespace IocEdge.Testing;

/// <summary>
/// Polls a condition that a real peer (a broker, a socket, a child process) will make true.
/// This is for waiting on other processes, never for waiting on our own timers: those run on a
/// FakeTimeProvider.
/// </summary>
public static class Eventually
{
    public static async Task<T> Get<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class
    {
        var sw = Stopwatch.StartNew();
        Exception? last = null;
        while (sw.Elapsed < timeout)
        {
            try
            {
                var value = await probe().ConfigureAwait(false);
                if (value is not null)
                {
                    return value;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                last = ex;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}." +
            (last is null ? string.Empty : $" Last error: {last.Message}"), last);
    }

    public static async Task True(Func<Task<bool>> probe, TimeSpan timeout, string what)
    {
        await Get<object>(async () => await probe().ConfigureAwait(false) ? new object() : null, timeout, what)
            .ConfigureAwait(false);
    }

    public static Task True(Func<bool> probe, TimeSpan timeout, string what) =>
        True(() => Task.FromResult(probe()), timeout, what);

    /// <summary>As <see cref="True(Func{bool}, TimeSpan, string)"/>, with a description built at the time out (the state then).</summary>
    public static async Task True(Func<bool> probe, TimeSpan timeout, Func<string> what)
    {
        ArgumentNullException.ThrowIfNull(what);
        try
        {
            await True(probe, timeout, "the condition").ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message.Replace("the condition", what(), StringComparison.Ordinal), ex);
        }
    }
}
