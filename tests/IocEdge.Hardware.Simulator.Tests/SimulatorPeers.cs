using System.Globalization;
using System.Text.RegularExpressions;
using IocEdge.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>A virtual RS-485 line: two pty links joined by socat (see ../shared/PEERS.md), stopped by pid.</summary>
internal sealed class SimPtyPair : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly PeerProcess _socat;

    private SimPtyPair(TempDirectory dir, PeerProcess socat)
    {
        _dir = dir;
        _socat = socat;
    }

    /// <summary>The end the simulator (slave) opens.</summary>
    public string SlaveEnd => _dir.File("ttyV0");

    /// <summary>The end the master (mbpoll, pymodbus) opens.</summary>
    public string MasterEnd => _dir.File("ttyV1");

    public static async Task<SimPtyPair> StartAsync()
    {
        var socat = Tools.Require("/usr/bin/socat", "socat");
        var dir = new TempDirectory("sim-pty");
        var process = PeerProcess.Start(socat,
        [
            "-d", "-d",
            $"pty,raw,echo=0,link={dir.File("ttyV0")}",
            $"pty,raw,echo=0,link={dir.File("ttyV1")}",
        ]);
        var pair = new SimPtyPair(dir, process);
        await process.WaitForFileAsync(pair.SlaveEnd, TimeSpan.FromSeconds(10));
        await process.WaitForFileAsync(pair.MasterEnd, TimeSpan.FromSeconds(10));
        return pair;
    }

    public async ValueTask DisposeAsync()
    {
        await _socat.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>Debian's mbpoll as a Modbus master; reads registers once and parses its hex output.</summary>
internal static partial class SimMbpoll
{
    [GeneratedRegex(@"^\[(\d+)\]:\s+0x([0-9A-Fa-f]{1,4})\s*$", RegexOptions.Multiline)]
    private static partial Regex HexLine();

    public sealed record Result(int ExitCode, string Output, ushort[] Registers);

    /// <summary>Reads <paramref name="count"/> registers at protocol address <paramref name="address"/> over TCP.</summary>
    public static Task<Result> ReadTcpAsync(int port, byte unit, bool input, int address, int count) =>
        RunAsync(["-m", "tcp", "-a", Str(unit), "-r", Str(address + 1), "-c", Str(count), "-t", input ? "3:hex" : "4:hex",
            "-1", "-o", "1", "-p", Str(port), "127.0.0.1"]);

    /// <summary>The same over RTU on a pty (9600 8N1).</summary>
    public static Task<Result> ReadRtuAsync(string device, byte unit, bool input, int address, int count) =>
        RunAsync(["-m", "rtu", "-a", Str(unit), "-b", "9600", "-P", "none", "-d", "8", "-s", "1", "-r", Str(address + 1),
            "-c", Str(count), "-t", input ? "3:hex" : "4:hex", "-1", "-o", "1", device]);

    private static async Task<Result> RunAsync(string[] args)
    {
        var mbpoll = Tools.Require("/usr/bin/mbpoll", "mbpoll");
        var (exit, output) = await PeerProcess.RunAsync(mbpoll, args, TimeSpan.FromSeconds(20));
        var registers = HexLine().Matches(output)
            .OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .Select(m => ushort.Parse(m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture))
            .ToArray();
        return new Result(exit, output, registers);
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);
}
