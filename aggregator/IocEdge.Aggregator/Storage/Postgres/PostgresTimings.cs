using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace IocEdge.Aggregator.Storage.Postgres;

/// <summary>The sections of one <see cref="PostgresReadingStore.Store"/> commit that <see cref="PostgresTimings"/> tells apart.</summary>
internal enum PostgresSection
{
    /// <summary>Pass 1 in C#: stream and series ids (cached after the first commit), keys repeated within the commit.</summary>
    Rows,

    /// <summary>
    /// The commit's days and their partitions (a cached check after the first commit of a day), before the write
    /// connections' parts (since wave 13, in a transaction of their own).
    /// </summary>
    Partitions,

    /// <summary>
    /// <c>SELECT … FOR UPDATE</c> of the commit's streams and reading their ranges of stored seqs around the commit's
    /// (one round trip since wave 12).
    /// </summary>
    LockAndRanges,

    /// <summary>
    /// The binary COPY of the new readings into <c>readings</c> (rows written and the server's insert); since wave 12 the
    /// C# reduction of the same rows into counters, rollups and latest values runs in its loop.
    /// </summary>
    Copy,

    /// <summary>C#: the gateway counters and the arrays of the statements after the COPY (before wave 12 also the reduction).</summary>
    Reduce,

    /// <summary>Replacing the ranges read by their union with the new seqs (delete + insert).</summary>
    RangesWrite,

    /// <summary>The 1-minute rollup upsert.</summary>
    Rollup1m,

    /// <summary>The 1-hour rollup upsert.</summary>
    Rollup1h,

    /// <summary>The latest-value update of <c>series</c>.</summary>
    Latest,

    /// <summary>The gateway counters' upsert.</summary>
    Gateways,

    /// <summary>
    /// The statements after the COPY sent together (one round trip, since wave 12 ending with the COMMIT), when they are
    /// not timed one by one.
    /// </summary>
    After,

    /// <summary>COMMIT (the WAL flush and its fsync: synchronous_commit on); in <see cref="After"/> unless split.</summary>
    Commit,
}

/// <summary>
/// Benchmarks only (<c>pg-ingest --profile</c>): where <see cref="PostgresReadingStore"/>'s commits spend their time,
/// summed over every commit since it was set, in <see cref="Stopwatch"/> ticks (monotonic), measured on the client (a
/// statement's time includes its round trip). Null in the service, so the write path pays one null check per section.
/// </summary>
internal sealed class PostgresTimings
{
    private readonly long[] _ticks = new long[Enum.GetValues<PostgresSection>().Length];

    /// <summary>
    /// True: the statements after the COPY are sent one round trip each, so that each gets its own time (a few extra
    /// round trips of ~0.1 ms a commit on loopback). False: one batch, timed as <see cref="PostgresSection.After"/>.
    /// </summary>
    public bool Split { get; init; } = true;

    /// <summary>Commits timed.</summary>
    public int Commits { get; set; }

    /// <summary>Adds the time since <paramref name="mark"/> to <paramref name="section"/>; returns now.</summary>
    public long Lap(PostgresSection section, long mark)
    {
        var now = Stopwatch.GetTimestamp();
        _ticks[(int)section] += now - mark;
        return now;
    }

    /// <summary>Milliseconds spent in <paramref name="section"/>.</summary>
    public double Milliseconds(PostgresSection section) => _ticks[(int)section] * 1000.0 / Stopwatch.Frequency;

    /// <summary>Forgets what was measured (after a warm-up round).</summary>
    public void Reset()
    {
        Array.Clear(_ticks);
        Commits = 0;
    }

    /// <summary>One line: milliseconds per commit for each section that took any time, and its share of the total.</summary>
    public override string ToString()
    {
        var total = _ticks.Sum() * 1000.0 / Stopwatch.Frequency;
        var per = Math.Max(1, Commits);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{total / per:0.0} ms a commit ({Commits} commits):");
        foreach (var section in Enum.GetValues<PostgresSection>())
        {
            var ms = Milliseconds(section);
            if (ms > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $" {section} {ms / per:0.00} ({ms / total:P0});");
            }
        }

        return sb.ToString().TrimEnd(';');
    }
}
