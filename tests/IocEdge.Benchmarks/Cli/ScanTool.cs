using System.Globalization;
using System.IO.Ports;
using IocEdge.Cli;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Benchmarks.Cli;

/// <summary>
/// Load tool: `iocedge modbus scan` over unit ids 1-247 at 9600 8N1 with one slave (pymodbus 3.0, unit 1) on a socat
/// pty pair (docs/BENCHMARKS.md, "CLI: modbus scan"). Each run is the CLI's own scan (<see cref="ModbusScan.ScanAsync"/>,
/// per-id timeout derived from the baud rate, no retries).
/// Compared with (a) the theoretical minimum on a real 9600 baud line (<see cref="ModbusScan.TheoreticalMinimum"/>:
/// frame lengths, t3.5 and the timeout of every absent id), and (b) a baseline measured in the same run: the bare waits,
/// 246 timer waits of the same timeout on the same TimeProvider plus one real exchange, i.e. what a scan costs here with
/// no Modbus work at all. A pty does not enforce the baud rate (bytes arrive at once), so wire time is not measured:
/// (a) includes it, the measurement and (b) do not.
/// Usage: <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- scan [runs=3] [responseTimeMs=50]</c>.
/// </summary>
internal static class ScanTool
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var responseTime = TimeSpan.FromMilliseconds(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50);
        var line = new ModbusSerialLineSettings { BaudRate = 9600, Parity = Parity.None, StopBits = StopBits.One };
        var timeout = ModbusScan.SerialTimeout(line, responseTime);
        var minimum = ModbusScan.TheoreticalMinimum(line, 247, 1, timeout);
        Console.WriteLine(FormattableString.Invariant(
            $"modbus scan 1-247 at 9600 8N1, one slave (unit 1), per-id timeout {timeout.TotalMilliseconds:F1} ms (response time {responseTime.TotalMilliseconds:F0} ms), {runs} run(s)"));

        await using var pty = await SocatPtyPair.StartAsync().ConfigureAwait(false);
        await using var slave = await PyModbusServer.StartRtuAsync(pty.PathA, new PyModbusServerOptions
        {
            Units = new Dictionary<byte, PyModbusUnit> { [1] = new() { HoldingRegisters = [1] } },
        }).ConfigureAwait(false);

        var options = new ModbusScan.ScanOptions(null, null, pty.PathB, false, StopBits.One, Enumerable.Range(1, 247).ToArray(),
            [(9600, Parity.None)], null, responseTime, 0, false);
        var scans = new List<double>();
        var bare = new List<double>();
        var time = TimeProvider.System;
        for (var i = 0; i < runs; i++)
        {
            var result = await ModbusScan.ScanAsync(options, null, null, CancellationToken.None).ConfigureAwait(false);
            if (result.Hits.Count != 1)
            {
                Console.Error.WriteLine($"expected one unit, found {result.Hits.Count}");
                return 1;
            }

            scans.Add(result.Elapsed.TotalSeconds);

            var t0 = time.GetTimestamp();
            var once = options with { Units = [1] };
            await ModbusScan.ScanAsync(once, null, null, CancellationToken.None).ConfigureAwait(false);
            for (var id = 0; id < 246; id++)
            {
                await Task.Delay(timeout, time).ConfigureAwait(false);
            }

            bare.Add(time.GetElapsedTime(t0).TotalSeconds);
            Console.WriteLine(FormattableString.Invariant($"run {i + 1}: scan {scans[^1]:F2} s, bare waits {bare[^1]:F2} s"));
        }

        var scan = Median(scans);
        var baseline = Median(bare);
        Console.WriteLine("| what | seconds | ratio to theoretical minimum |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine(FormattableString.Invariant($"| theoretical minimum on a real 9600 8N1 line | {minimum.TotalSeconds:F2} | 1.00 |"));
        Console.WriteLine(FormattableString.Invariant($"| baseline: bare waits, same run (246 timer waits + 1 exchange) | {baseline:F2} | {baseline / minimum.TotalSeconds:F2} |"));
        Console.WriteLine(FormattableString.Invariant($"| iocedge modbus scan, median of {runs} | {scan:F2} | {scan / minimum.TotalSeconds:F2} |"));
        Console.WriteLine(FormattableString.Invariant($"scan / baseline: {scan / baseline:F2}"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
