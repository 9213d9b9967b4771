using CsCheck;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>CsCheck generators of valid compact batches: every field over its whole range.</summary>
internal static class Generators
{
    private static readonly Gen<char> Alnum = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"];

    public static readonly Gen<string> Channel =
        Gen.Select(Alnum.Array[1, 6], Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_.-"].Array[0, 10], Alnum.Array[1, 4], Gen.Bool)
            .Select((a, b, c, two) => two ? $"{new string(a)}{new string(b)}/{new string(c)}" : new string(a) + new string(b));

    public static readonly Gen<string> Unit = Gen.OneOf("ug/m3", "degC", "%RH", "hPa", "state", "ppb", "pH", "m/s", "mm/min", "1",
        "!~`x{}|", "abcdefghijklmnop");

    /// <summary>Values of every kind: decimals 0-9, float32, arbitrary doubles, ±0, extremes.</summary>
    public static readonly Gen<double> Value = Gen.Frequency(
        (4, Gen.Select(Gen.Long[-99_999_999, 99_999_999], Gen.Int[0, 9]).Select((m, d) => Math.Round(m / CompactFormat.Pow10[d], d))),
        (2, Gen.Float.Where(float.IsFinite).Select(f => (double)f)),
        (2, Gen.Double.Where(double.IsFinite)),
        (1, Gen.OneOf(0.0, -0.0, double.MaxValue, double.MinValue, double.Epsilon, 9007199254740992.0, -9007199254740993.0, 1e-300)));

    public static readonly Gen<long> Timestamp = Gen.Frequency(
        (3, Gen.Long[Golden.T0 - 86_400_000, Golden.T0 + 86_400_000]),
        (1, Gen.Long[CompactFormat.MinTimestampMs, CompactFormat.MaxTimestampMs]),
        (1, Gen.OneOf(CompactFormat.MinTimestampMs, CompactFormat.MaxTimestampMs, 0L)));

    public static readonly Gen<long> Sequence = Gen.Frequency(
        (3, Gen.Long[1, 1000]),
        (1, Gen.Long[1, CompactFormat.MaxSequence]),
        (1, Gen.OneOf(1L, CompactFormat.MaxSequence)));

    public static readonly Gen<CompactQuality> Quality = Gen.Enum<CompactQuality>();

    public static readonly Gen<CompactBatch> Batch =
        Gen.Select(Alnum.Array[1, 21], Gen.Frequency((2, Gen.Const(0u)), (1, Gen.UInt)), Channel.Array[1, 8], Unit.Array[1, 3], Gen.Int[1, 200])
            .SelectMany((stream, epoch, channels, units, count) =>
                Gen.Select(Gen.Int[0, channels.Length - 1], Gen.Int[0, units.Length - 1], Sequence, Timestamp, Value, Quality)
                    .Select((c, u, seq, ts, v, q) => new CompactReading(seq, channels[c], ts, CompactFormat.CarriesValue(q) ? v : null, units[u], q))
                    .Array[count]
                    .Select(readings => new CompactBatch(new string(stream), epoch, readings)));
}
