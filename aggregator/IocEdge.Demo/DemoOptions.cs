using System.Globalization;

namespace IocEdge.Demo;

/// <summary>The demo's command line (all optional).</summary>
internal sealed record DemoOptions(int HttpPort, string DataDirectory, bool Keep, bool Help)
{
    public const string Usage = """
        iocedge-demo: a simulated station, a gateway and an aggregator on embedded defaults.

          --http-port N   the aggregator's HTTP port (default 8080; 0 picks a free one)
          --data DIR      where the demo keeps its SQLite files (default ./.demo)
          --keep          keep the data of the previous run (default: start afresh, removing only
                          what the demo wrote in DIR: aggregator/, gateway/, gateway.json)
          --help          this text
        """;

    /// <summary>What a demo run writes in its data folder; starting afresh removes these and nothing else.</summary>
    public static readonly string[] OwnEntries = ["aggregator", "gateway", "gateway.json"];

    /// <summary>
    /// Removes what a previous run wrote in <paramref name="dataDirectory"/> (<see cref="OwnEntries"/>), leaving anything
    /// else there; returns how many entries it removed. Throws <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> when the folder cannot be changed.
    /// </summary>
    public static int RemovePreviousRun(string dataDirectory)
    {
        var removed = 0;
        foreach (var entry in OwnEntries.Select(e => Path.Combine(dataDirectory, e)))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
                removed++;
            }
            else if (File.Exists(entry))
            {
                File.Delete(entry);
                removed++;
            }
        }

        return removed;
    }

    public static DemoOptions Parse(string[] args)
    {
        int port = 8080;
        var data = Path.Combine(Environment.CurrentDirectory, ".demo");
        bool keep = false, help = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--http-port" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535:
                    port = p;
                    i++;
                    break;
                case "--data" when i + 1 < args.Length:
                    data = Path.GetFullPath(args[++i]);
                    break;
                case "--keep":
                    keep = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown or incomplete argument '{args[i]}'.\n\n{Usage}");
            }
        }

        return new DemoOptions(port, data, keep, help);
    }
}
