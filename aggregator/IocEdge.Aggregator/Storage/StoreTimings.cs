using System.Diagnostics;
using System.Globalization;

namespace IocEdge.Aggregator.Storage;

/// <summary>The sections of one store commit that <see cref="StoreTimings"/> tells apart.</summary>
internal enum StoreSection
{
    /// <summary>Primary-key range probes for already stored sequences (one per message).</summary>
    Probe,

    /// <summary>Encoding the commit's new readings into its journal row (<see cref="Journal.Encode"/>).</summary>
    Insert,

    /// <summary>The per-message loop as a whole (probe, the journal row and the per-reading work in C#).</summary>
    Messages,

    /// <summary>The gateway counters' UPSERTs.</summary>
    Gateways,

    /// <summary>
    /// The fold's slices (on the fold thread, between commits): the journal's readings into chunks, rollups and latest
    /// values, many commits at a time (<see cref="ReadingStore.FoldInterval"/>, <see cref="ReadingStore.FoldSliceReadings"/>).
    /// </summary>
    Fold,

    /// <summary>COMMIT (the WAL write and its fsync).</summary>
    Commit,
}

/// <summary>
/// Benchmarks only (ingest-load --store-only --profile): where the store's commits spend their time, summed over every
/// commit since the instance was made, in <see cref="Stopwatch"/> ticks (monotonic). Null in the service, so the write
/// path pays one null check per section.
/// </summary>
internal sealed class StoreTimings
{
    private readonly long[] _ticks = new long[Enum.GetValues<StoreSection>().Length];

    /// <summary>Adds the time since <paramref name="mark"/> to <paramref name="section"/>; returns now.</summary>
    public long Lap(StoreSection section, long mark)
    {
        var now = Stopwatch.GetTimestamp();
        _ticks[(int)section] += now - mark;
        return now;
    }

    /// <summary>Milliseconds spent in <paramref name="section"/>.</summary>
    public double Milliseconds(StoreSection section) => _ticks[(int)section] * 1000.0 / Stopwatch.Frequency;

    /// <summary>One line, milliseconds per section ("rows" = the per-reading C# work: messages less probe and insert).</summary>
    public override string ToString()
    {
        string Ms(double ms) => ms.ToString("0", CultureInfo.InvariantCulture);
        var rows = Milliseconds(StoreSection.Messages) - Milliseconds(StoreSection.Probe) - Milliseconds(StoreSection.Insert);
        return $"probe {Ms(Milliseconds(StoreSection.Probe))} ms, insert {Ms(Milliseconds(StoreSection.Insert))} ms, " +
               $"rows {Ms(rows)} ms, gateways {Ms(Milliseconds(StoreSection.Gateways))} ms, " +
               $"fold {Ms(Milliseconds(StoreSection.Fold))} ms, " +
               $"commit {Ms(Milliseconds(StoreSection.Commit))} ms";
    }
}
