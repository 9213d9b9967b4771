using System.Globalization;
using System.Text.RegularExpressions;
using IocEdge.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>
/// Register reads with mbpoll (the shared <see cref="Mbpoll"/> peer: poll once, 0-based references) in hex display,
/// so that 16-bit words come back exactly whatever their sign.
/// </summary>
internal static partial class SimMbpoll
{
    [GeneratedRegex(@"^\[(\d+)\]:\s+0x([0-9A-Fa-f]{1,4})\s*$", RegexOptions.Multiline)]
    private static partial Regex HexLine();

    public sealed record Result(int ExitCode, string Output, ushort[] Registers);

    /// <summary>Reads <paramref name="count"/> registers at protocol address <paramref name="address"/> over TCP.</summary>
    public static Task<Result> ReadTcpAsync(int port, byte unit, bool input, int address, int count) =>
        RunAsync([.. Mbpoll.Tcp(port, unit), .. Table(input, address, count)]);

    /// <summary>The same over RTU on a pty (9600 8N1).</summary>
    public static Task<Result> ReadRtuAsync(string device, byte unit, bool input, int address, int count) =>
        RunAsync([.. Table(input, address, count), .. Mbpoll.Rtu(device, unit)]);

    private static string[] Table(bool input, int address, int count) =>
        ["-r", Str(address), "-c", Str(count), "-t", input ? "3:hex" : "4:hex", "-o", "1"];

    private static async Task<Result> RunAsync(string[] args)
    {
        var (exit, output) = await Mbpoll.RunAsync(args);
        var registers = HexLine().Matches(output)
            .OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .Select(m => ushort.Parse(m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture))
            .ToArray();
        return new Result(exit, output, registers);
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);
}
