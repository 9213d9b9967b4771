using System.Globalization;

namespace IocEdge.Demo;

/// <summary>The demo's command line (all optional).</summary>
/// <param name="HttpPort">The aggregator's HTTP port (8080 unless given; 0 picks a free one).</param>
/// <param name="DataDirectory">Where the demo keeps its files (absolute).</param>
/// <param name="Keep">Keep what the previous run wrote.</param>
/// <param name="Help">Print the usage and stop.</param>
/// <param name="HttpPortGiven">True when <c>--http-port</c> was on the command line: a port asked for is used or the demo
/// stops (exit 69); only the default port falls back to a free one when taken.</param>
internal sealed record DemoOptions(int HttpPort, string DataDirectory, bool Keep, bool Help, bool HttpPortGiven = false)
{
    public const string Usage = """
        iocedge-demo: a simulated station, a gateway and an aggregator on embedded defaults.

          --http-port N   the aggregator's HTTP port (default 8080, or a free one if 8080 is taken;
                          0 picks a free one; a port given here that is taken stops the demo)
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

    /// <summary>
    /// Parses the command line. Throws <see cref="ArgumentException"/> with one line naming the option, the problem and
    /// the fix (the caller prints it and exits 64, EX_USAGE in sysexits.h).
    /// </summary>
    public static DemoOptions Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        const string PortFix = "give 1-65535, or 0 for a free one (default 8080)";
        int port = 8080;
        var data = Path.Combine(Environment.CurrentDirectory, ".demo");
        bool keep = false, help = false, portGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--http-port" when i + 1 >= args.Length:
                    throw new ArgumentException($"--http-port needs a port number: {PortFix}.");
                case "--http-port":
                    var value = args[++i];
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
                    {
                        throw new ArgumentException($"--http-port '{value}' is not a port number: {PortFix}.");
                    }

                    portGiven = true;
                    break;
                case "--data" when i + 1 >= args.Length:
                    throw new ArgumentException("--data needs a folder: give one, e.g. --data ./.demo.");
                case "--data":
                    data = Path.GetFullPath(args[++i]);
                    break;
                case "--keep":
                    keep = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    throw new ArgumentException($"'{args[i]}' is not an option of iocedge-demo: see iocedge-demo --help (options: --http-port N, --data DIR, --keep, --help).");
            }
        }

        return new DemoOptions(port, data, keep, help, portGiven);
    }
}
