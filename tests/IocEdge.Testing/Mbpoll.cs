using System.Globalization;
using System.Text.RegularExpressions;

namespace IocEdge.Testing;

/// <summary>
/// mbpoll, a Modbus master CLI we did not write (libmodbus based), run once per call (-1) against a slave on TCP or RTU.
/// Reference numbers are PDU addresses (-0). Table: 0 coils, 1 discrete inputs, 3 input registers, 4 holding registers.
/// </summary>
public static partial class Mbpoll
{
    public const string Path = "/usr/bin/mbpoll";

    /// <summary>Runs mbpoll with <paramref name="arguments"/> plus "-1 -0" (poll once, 0-based references).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var exe = Tools.Require(Path, "mbpoll");
        return await PeerProcess.RunAsync(exe, ["-1", "-0", .. arguments], timeout ?? TimeSpan.FromSeconds(20))
            .ConfigureAwait(false);
    }

    /// <summary>Arguments for a TCP slave on 127.0.0.1.</summary>
    public static string[] Tcp(int port, byte unitId) => ["-m", "tcp", "-a", unitId.ToString(CultureInfo.InvariantCulture),
        "-p", port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"];

    /// <summary>Arguments for an RTU slave on <paramref name="device"/> (parity "none", "even" or "odd").</summary>
    public static string[] Rtu(string device, byte unitId, int baudRate = 9600, string parity = "none", int stopBits = 1) =>
        ["-m", "rtu", "-a", unitId.ToString(CultureInfo.InvariantCulture), "-b", baudRate.ToString(CultureInfo.InvariantCulture),
         "-P", parity, "-d", "8", "-s", stopBits.ToString(CultureInfo.InvariantCulture), device];

    /// <summary>The values mbpoll printed, by reference: lines like "[12]: 	345".</summary>
    public static IReadOnlyDictionary<int, long> ParseValues(string output)
    {
        var values = new Dictionary<int, long>();
        foreach (Match m in ValueLine().Matches(output))
        {
            values[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)] = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return values;
    }

    [GeneratedRegex(@"^\[(\d+)\]:\s+(-?\d+)", RegexOptions.Multiline)]
    private static partial Regex ValueLine();
}
