using IocEdge.Devices.Profiles;

namespace IocEdge.Hardware.Simulator;

/// <summary>
/// The simulated value of one point: a pure, deterministic function of (time, seed, unit, point).
/// <c>mean + amplitude·cos(2π(localHour − peakHour)/24) + noise + ratePerHour·hoursSinceStart</c>, clamped to the
/// point's plausible range. The noise is smooth (linear between random knots every <see cref="NoiseKnot"/>) and stays
/// within ±noise, so two runs with one seed serve the same series and a reading never jumps by more than the
/// noise bound between two knots.
/// </summary>
internal static class StationSignal
{
    /// <summary>Spacing of the random knots the noise interpolates between.</summary>
    public static readonly TimeSpan NoiseKnot = TimeSpan.FromSeconds(30);

    /// <summary>Unclamped value before faults; see the type's summary.</summary>
    public static double Raw(ProfilePoint point, byte unitId, int seed, DateTimeOffset now, DateTimeOffset start,
        TimeSpan localUtcOffset)
    {
        var sim = point.Simulation;
        if (sim is null)
        {
            return (point.Min + point.Max) / 2;
        }

        var value = sim.Mean;
        if (sim.DailyAmplitude != 0)
        {
            value += sim.DailyAmplitude * Math.Cos(2 * Math.PI * (LocalHour(now, localUtcOffset) - sim.DailyPeakHour) / 24);
        }

        if (sim.Noise > 0)
        {
            value += sim.Noise * Noise(seed, unitId, point.Name, now);
        }

        if (sim.RatePerHour != 0)
        {
            value += sim.RatePerHour * Math.Max(0, (now - start).TotalHours);
        }

        return value;
    }

    /// <summary>The value clamped to the point's plausible range.</summary>
    public static double Clamp(ProfilePoint point, double value) => Math.Clamp(value, point.Min, point.Max);

    /// <summary>Hour of the local day, 0 ≤ h &lt; 24, with fractions (14.5 = 14:30).</summary>
    public static double LocalHour(DateTimeOffset now, TimeSpan localUtcOffset)
    {
        var local = now.ToOffset(localUtcOffset);
        return local.TimeOfDay.TotalHours;
    }

    /// <summary>Smooth noise in [-1, 1]: linear interpolation between uniform knots drawn from a hash.</summary>
    public static double Noise(int seed, byte unitId, string pointName, DateTimeOffset now)
    {
        var knots = (double)now.UtcTicks / NoiseKnot.Ticks;
        var k0 = (long)Math.Floor(knots);
        var fraction = knots - k0;
        var key = Fnv1a(pointName) ^ ((ulong)unitId << 56) ^ (ulong)(uint)seed;
        var a = Uniform(key, k0);
        var b = Uniform(key, k0 + 1);
        return a + (b - a) * fraction;
    }

    // Uniform in [-1, 1] from SplitMix64 over (key, index). string.GetHashCode is randomised per process, so the
    // point name is hashed with FNV-1a to keep a seed's series identical across runs.
    private static double Uniform(ulong key, long index)
    {
        var z = key + 0x9E3779B97F4A7C15UL * (ulong)index;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (2.0 / (1UL << 53)) - 1.0;
    }

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }

        return hash;
    }
}
