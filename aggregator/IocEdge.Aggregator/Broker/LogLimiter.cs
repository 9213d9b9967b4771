namespace IocEdge.Aggregator.Broker;

/// <summary>
/// Lets a log line through at most once per client and reason per <see cref="Window"/>; the next line of the same pair
/// reports how many were held back in between. Measured on the monotonic clock (<see cref="TimeProvider.GetTimestamp"/>),
/// so a wall-clock step neither floods nor silences the log. Counters count every event; this only keeps one
/// misbehaving sender from writing one line per message.
/// </summary>
internal sealed class LogLimiter(TimeProvider time)
{
    /// <summary>At most one line per client and reason in this long.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // Bounds the memory a flood of distinct client ids can take; when full, the table starts again (a few extra lines).
    private const int MaxPairs = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Client, string Reason), (long Since, long Suppressed)> _last = [];

    /// <summary>True when a line may be written now; <paramref name="suppressed"/> is how many were held back before it.</summary>
    public bool TryEnter(string clientId, string reason, out long suppressed)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var key = (clientId, reason);
            if (_last.TryGetValue(key, out var entry) && time.GetElapsedTime(entry.Since, now) < Window)
            {
                _last[key] = (entry.Since, entry.Suppressed + 1);
                suppressed = 0;
                return false;
            }

            suppressed = entry.Suppressed;
            if (_last.Count >= MaxPairs)
            {
                _last.Clear();
            }

            _last[key] = (now, 0);
            return true;
        }
    }
}
