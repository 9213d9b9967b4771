namespace IocEdge.Aggregator.Storage;

/// <summary>
/// How both stores answer <see cref="IReadingStore.Buckets"/> over any range (issue 15: history of one day at 1 Hz,
/// <c>step=1h</c>, p99 &lt; 10 ms): the range [from, to) is cut into segments, the whole hours in the middle read from
/// <c>rollup_1h</c>, the whole minutes at its edges from <c>rollup_1m</c>, and only the partial minutes at the very
/// edges from the raw readings. A rollup level is used only when the step is a multiple of it (buckets are aligned to
/// the Unix epoch), so every rollup row lies inside one step bucket. A range such as "now - 24 h .. now" therefore
/// reads 23 hourly rows, up to 118 minute rows and up to 118 s of raw readings instead of 86,400 readings.
/// </summary>
internal static class HistoryPlan
{
    /// <summary>
    /// The segments of [<paramref name="from"/>, <paramref name="to"/>) (Unix milliseconds) in time order, each with
    /// the index into <see cref="Rollups.Levels"/> that serves it, or -1 for the raw readings. Empty when from ≥ to.
    /// </summary>
    public static List<(long From, long To, int Level)> Segments(long from, long to, long stepMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepMs, 1, nameof(stepMs));
        var list = new List<(long, long, int)>();
        Split(from, to, stepMs, Rollups.Levels.Length - 1, list); // coarsest first
        return list;
    }

    private static void Split(long from, long to, long stepMs, int level, List<(long, long, int)> into)
    {
        if (from >= to)
        {
            return;
        }

        if (level < 0)
        {
            into.Add((from, to, -1));
            return;
        }

        var g = Rollups.Levels[level].StepMs;
        long a = Ceiling(from, g), b = Floor(to, g);
        if (stepMs % g != 0 || a >= b)
        {
            Split(from, to, stepMs, level - 1, into);
            return;
        }

        Split(from, a, stepMs, level - 1, into);
        into.Add((a, b, level));
        Split(b, to, stepMs, level - 1, into);
    }

    /// <summary>The start of the bucket of width <paramref name="step"/> that holds <paramref name="ms"/> (epoch-aligned, also before 1970).</summary>
    public static long Floor(long ms, long step) => ms - (((ms % step) + step) % step);

    private static long Ceiling(long ms, long step) => Floor(ms, step) == ms ? ms : Floor(ms, step) + step;
}

/// <summary>
/// History buckets built from segments read in time order (<see cref="HistoryPlan"/>): a bucket that two segments
/// share (an edge of a rollup range inside a step bucket) is merged: counts and sums add, min and max combine, and the
/// last value is the later segment's (segments do not overlap in time).
/// </summary>
internal sealed class BucketList
{
    private readonly List<(long Start, long Count, double Sum, double Min, double Max, double Last)> _buckets = [];

    /// <summary>Adds one step bucket's share of one segment; <paramref name="start"/> must not go backwards.</summary>
    public void Add(long start, long count, double sum, double min, double max, double last)
    {
        if (count <= 0)
        {
            return;
        }

        if (_buckets.Count > 0 && _buckets[^1].Start == start)
        {
            var p = _buckets[^1];
            _buckets[^1] = (start, p.Count + count, p.Sum + sum, Math.Min(p.Min, min), Math.Max(p.Max, max), last);
            return;
        }

        _buckets.Add((start, count, sum, min, max, last));
    }

    /// <summary>The buckets, oldest first (Avg = <see cref="Mean"/> of Sum and Count).</summary>
    public List<HistoryBucket> ToList() => _buckets.ConvertAll(b =>
        new HistoryBucket(DateTimeOffset.FromUnixTimeMilliseconds(b.Start), b.Count, b.Min, b.Max, Mean(b.Sum, b.Count), b.Last));

    /// <summary>
    /// <c>sum / count</c> rounded to 12 significant decimal digits (<see cref="MeanFormat"/>), so that the rounding error of
    /// a binary sum (0.1 + 0.2 = 0.30000000000000004; a relative error up to about n × 2⁻⁵³ after n additions, IEEE 754)
    /// does not reach an IOC's screen as 0.15000000000000002. Nothing measured is lost: a reading carries at most 9
    /// significant digits (float32's round-trip precision, IEEE 754 binary32) and usually 4-5 (a 16-bit register).
    /// </summary>
    internal static double Mean(double sum, long count)
    {
        var mean = sum / count;
        Span<char> text = stackalloc char[32];
        return double.IsFinite(mean) && mean.TryFormat(text, out var n, MeanFormat, System.Globalization.CultureInfo.InvariantCulture)
            ? double.Parse(text[..n], System.Globalization.CultureInfo.InvariantCulture)
            : mean;
    }

    /// <summary>A bucket's average as 12 significant digits (see <see cref="Mean"/>): 12 of the 15-17 a double holds.</summary>
    private const string MeanFormat = "G12";
}
