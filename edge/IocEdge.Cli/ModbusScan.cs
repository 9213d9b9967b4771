using System.CommandLine;
using System.Globalization;
using System.IO.Ports;
using System.Text.Json.Nodes;
using IocEdge.Protocols.Modbus;
using Spectre.Console;

namespace IocEdge.Cli;

/// <summary>One unit that answered during a scan.</summary>
/// <param name="Unit">The unit id.</param>
/// <param name="Setting">"9600 8N1" on a serial line, the link on TCP.</param>
/// <param name="Baud">The baud rate (null on TCP).</param>
/// <param name="Parity">N, E or O (null on TCP).</param>
/// <param name="Exception">Null for a normal response; else the exception code it answered (a device is there either way).</param>
/// <param name="Elapsed">Request to answer.</param>
internal sealed record ScanHit(int Unit, string Setting, int? Baud, string? Parity, ModbusExceptionCode? Exception, TimeSpan Elapsed);

/// <summary>
/// <c>iocedge modbus scan</c>: which unit ids answer, and at which baud rate and parity. The probe is FC 03 for one
/// holding register at --address (default 0): a normal response and an exception response both mean "a device is
/// there" (an ILLEGAL DATA ADDRESS still proves a slave decoded the frame); 0x0A/0x0B come from a Modbus gateway whose
/// target is absent, so they mean "nobody". No retries: each absent id costs exactly one timeout.
/// </summary>
internal static class ModbusScan
{
    /// <summary>The usual RS-485 instrument rates.</summary>
    public static readonly int[] StandardBauds = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

    /// <summary>Bytes of the probe on RTU: unit, function, address (2), quantity (2), CRC (2) (V1.1b3 6.3; serial guide 2.5.1).</summary>
    public const int RequestBytes = 8;

    /// <summary>Bytes of the normal answer to the probe: unit, function, byte count, one register (2), CRC (2).</summary>
    public const int ResponseBytes = 7;

    /// <summary>Default allowance for the slave's own processing before it answers (many instruments need 10-50 ms).</summary>
    public static readonly TimeSpan DefaultResponseTime = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The per-request timeout on a serial line: the probe's 8 characters, t3.5 (end of frame, serial line guide V1.02
    /// 2.5.1.1), the slave's <paramref name="responseTime"/>, then the 7-character answer and its t3.5. Below it a
    /// present slave could be declared absent; above it every absent id costs more.
    /// </summary>
    public static TimeSpan SerialTimeout(ModbusSerialLineSettings line, TimeSpan responseTime)
    {
        ArgumentNullException.ThrowIfNull(line);
        return line.TimeFor(RequestBytes) + line.T35 + responseTime + line.TimeFor(ResponseBytes) + line.T35;
    }

    /// <summary>
    /// The least time a scan of <paramref name="units"/> ids can take on a real line at these settings when
    /// <paramref name="present"/> of them answer: each absent id costs its request, t3.5 and the whole timeout; each
    /// present one its request, t3.5, its answer and t3.5 (plus its own processing, not counted here).
    /// </summary>
    public static TimeSpan TheoreticalMinimum(ModbusSerialLineSettings line, int units, int present, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(line);
        var absent = units - present;
        return ((line.TimeFor(RequestBytes) + line.T35 + timeout) * absent)
               + ((line.TimeFor(RequestBytes) + line.T35 + line.TimeFor(ResponseBytes) + line.T35) * present);
    }

    public static Command Build(CliConsole console)
    {
        var scan = new Command("scan", """
            Find the unit ids that answer on a serial line (optionally trying every baud rate and parity) or behind a
            Modbus TCP gateway. Each id gets one FC 03 request (no retries); a normal or an exception response both
            mean a device is there. On a serial line the timeout per id is derived from the baud rate (request + t3.5
            + --response-time + answer + t3.5, serial line guide V1.02 2.5.1.1). Progress bar on a terminal.
            Exit 0 when something answered, 1 when nothing did, 69 when the port cannot be opened.

            Examples:
              iocedge modbus scan --serial /dev/ttyUSB0                      (9600 8N1, ids 1-247)
              iocedge modbus scan --serial /dev/ttyUSB0 --baud all --parity all --first
              iocedge modbus scan --serial /dev/ttyAMA0 --baud 9600,19200 --units 1-20 --json
              iocedge modbus scan --tcp 192.168.10.30:502 --units 1-32 --timeout 300
            """);
        var link = new ModbusLinkOptions();
        link.AddTo(scan);
        var units = new Option<string>("--units") { Description = "ids to try: 1-247, or a list such as 1-10,17,32", DefaultValueFactory = _ => "1-247", HelpName = "RANGE" };
        var bauds = new Option<string>("--baud", "-b") { Description = "baud rate(s): 9600, a list (9600,19200) or all (1200-115200)", DefaultValueFactory = _ => "9600" };
        var parities = new Option<string>("--parity", "-P") { Description = "parity(ies): N, E, O, a list (N,E) or all", DefaultValueFactory = _ => "N" };
        var responseTime = new Option<int>("--response-time") { Description = "ms a slave may take before answering (serial timeout)", DefaultValueFactory = _ => (int)DefaultResponseTime.TotalMilliseconds, HelpName = "MS" };
        var address = new Option<int>("--address", "-a") { Description = "the holding register the probe reads", DefaultValueFactory = _ => 0 };
        var first = new Option<bool>("--first") { Description = "stop at the first unit that answers" };
        var json = IocEdgeCli.JsonOption();
        scan.Add(units);
        scan.Add(bauds);
        scan.Add(parities);
        scan.Add(responseTime);
        scan.Add(address);
        scan.Add(first);
        scan.Add(json);
        scan.SetAction(async (p, ct) =>
        {
            var (tcp, tunnel, serial) = link.Target(p);
            var ids = ParseUnits(p.GetValue(units)!, serial is not null);
            var stop = ModbusLinkOptions.ParseStopBits(p.GetValue(link.StopBits));
            var ascii = p.GetValue(link.Ascii);
            var settings = new List<(int Baud, Parity Parity)>();
            if (serial is not null)
            {
                foreach (var b in ParseBauds(p.GetValue(bauds)!))
                {
                    foreach (var par in ParseParities(p.GetValue(parities)!))
                    {
                        settings.Add((b, par));
                    }
                }
            }
            else
            {
                settings.Add((0, Parity.None));
            }

            var explicitTimeout = p.GetValue(link.TimeoutMs);
            var addr = p.GetValue(address);
            if (addr is < 0 or > 65535)
            {
                throw new UsageException($"--address {addr}: use 0-65535.");
            }

            var options = new ScanOptions(tcp, tunnel, serial, ascii, stop, ids, settings, explicitTimeout is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
                TimeSpan.FromMilliseconds(p.GetValue(responseTime)), (ushort)addr, p.GetValue(first));
            return await RunAsync(console, options, p.GetValue(json), ct).ConfigureAwait(false);
        });
        return scan;
    }

    internal sealed record ScanOptions(string? Tcp, string? Tunnel, string? Serial, bool Ascii, StopBits StopBits, IReadOnlyList<int> Units,
        IReadOnlyList<(int Baud, Parity Parity)> Settings, TimeSpan? Timeout, TimeSpan ResponseTime, ushort Address, bool First);

    internal sealed record ScanResult(IReadOnlyList<ScanHit> Hits, IReadOnlyList<string> Unopenable, int Probes, TimeSpan Elapsed);

    private static async Task<int> RunAsync(CliConsole console, ScanOptions o, bool json, CancellationToken ct)
    {
        var live = !json && !console.IsTty;
        ScanResult result;
        if (console.IsTty && !json)
        {
            result = await console.Ansi.Progress().AutoClear(false).HideCompleted(false)
                .StartAsync(async ctx =>
                {
                    var tasks = o.Settings.Select(s => ctx.AddTask(Markup.Escape(SettingName(o, s)), autoStart: true, maxValue: o.Units.Count)).ToArray();
                    return await ScanAsync(o, (i, _) => tasks[i].Increment(1), null, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        else
        {
            result = await ScanAsync(o, null, live ? hit => console.Out.WriteLine(Line(hit)) : null, ct).ConfigureAwait(false);
        }

        foreach (var u in result.Unopenable)
        {
            console.Fail(u);
        }

        if (json)
        {
            Json.Write(console, new JsonObject
            {
                ["probes"] = result.Probes,
                ["elapsed_ms"] = Math.Round(result.Elapsed.TotalMilliseconds),
                ["found"] = new JsonArray(result.Hits.Select(h => (JsonNode)new JsonObject
                {
                    ["unit"] = h.Unit,
                    ["setting"] = h.Setting,
                    ["baud"] = h.Baud,
                    ["parity"] = h.Parity,
                    ["answer"] = h.Exception is null ? "normal" : "exception",
                    ["exception"] = h.Exception is { } e ? ModbusNames.Exception(e) : null,
                    ["ms"] = Math.Round(h.Elapsed.TotalMilliseconds, 1),
                }).ToArray()),
            });
        }
        else
        {
            if (!live)
            {
                foreach (var hit in result.Hits)
                {
                    console.Out.WriteLine(Line(hit));
                }
            }

            console.Out.WriteLine(FormattableString.Invariant(
                $"{result.Hits.Count} unit(s) answered; {result.Probes} request(s) in {result.Elapsed.TotalSeconds:0.0} s"));
        }

        return result.Hits.Count > 0 ? ExitCodes.Ok
            : result.Unopenable.Count == o.Settings.Count ? ExitCodes.Unavailable
            : ExitCodes.CheckFailed;
    }

    private static string Line(ScanHit hit) => hit.Exception is { } e
        ? FormattableString.Invariant($"unit {hit.Unit} at {hit.Setting}: exception response 0x{(byte)e:X2} {ModbusNames.Exception(e)} (a device is there) in {hit.Elapsed.TotalMilliseconds:0} ms")
        : FormattableString.Invariant($"unit {hit.Unit} at {hit.Setting}: normal response in {hit.Elapsed.TotalMilliseconds:0} ms");

    private static string SettingName(ScanOptions o, (int Baud, Parity Parity) s) =>
        ModbusLinkOptions.Describe(o.Tcp, o.Tunnel, o.Serial, o.Ascii, s.Baud, s.Parity, o.StopBits);

    /// <summary>The scan itself (also driven by the benchmark): every setting, every id, one probe each.</summary>
    internal static async Task<ScanResult> ScanAsync(ScanOptions o, Action<int, int>? progress, Action<ScanHit>? found, CancellationToken ct,
        TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var hits = new List<ScanHit>();
        var unopenable = new List<string>();
        var probes = 0;
        var start = time.GetTimestamp();
        for (var s = 0; s < o.Settings.Count; s++)
        {
            var (baud, parity) = o.Settings[s];
            var line = new ModbusSerialLineSettings { BaudRate = baud == 0 ? 9600 : baud, Parity = parity, DataBits = o.Ascii ? 7 : 8, StopBits = o.StopBits };
            var timeout = o.Timeout ?? (o.Serial is not null ? SerialTimeout(line, o.ResponseTime) : TimeSpan.FromSeconds(1));
            var name = SettingName(o, o.Settings[s]);
            var master = ModbusLinkOptions.Create(o.Tcp, o.Tunnel, o.Serial, o.Ascii, line.BaudRate, parity, o.StopBits, timeout, retries: 0,
                lateAnswerWindow: TimeSpan.Zero);
            await using var _ = master.ConfigureAwait(false);
            foreach (var unit in o.Units)
            {
                ct.ThrowIfCancellationRequested();
                probes++;
                var t0 = time.GetTimestamp();
                ModbusExceptionCode? answered = null;
                var present = false;
                try
                {
                    await master.ReadHoldingRegistersAsync((byte)unit, o.Address, 1, ct).ConfigureAwait(false);
                    present = true;
                }
                catch (ModbusDeviceException ex) when (ex.Code is not (ModbusExceptionCode.GatewayPathUnavailable or ModbusExceptionCode.GatewayTargetDeviceFailedToRespond))
                {
                    present = true;
                    answered = ex.Code;
                }
                catch (ModbusConnectionException ex)
                {
                    unopenable.Add($"cannot open {name}: {ex.Message} (check the device path, and that your user is in the dialout group)");
                    progress?.Invoke(s, o.Units.Count);
                    break;
                }
                catch (ModbusException)
                {
                    // no answer, garbage (another baud rate) or a gateway saying the target is absent: nobody at this id
                }

                progress?.Invoke(s, 1);
                if (present)
                {
                    var hit = new ScanHit(unit, name, baud == 0 ? null : baud, o.Serial is null ? null : ModbusLinkOptions.ParityLetter(parity), answered, time.GetElapsedTime(t0));
                    hits.Add(hit);
                    found?.Invoke(hit);
                    if (o.First)
                    {
                        return new ScanResult(hits, unopenable, probes, time.GetElapsedTime(start));
                    }
                }
            }
        }

        return new ScanResult(hits, unopenable, probes, time.GetElapsedTime(start));
    }

    internal static IReadOnlyList<int> ParseUnits(string text, bool serial)
    {
        var max = serial ? 247 : 255;
        var list = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            int a, b;
            bool ok;
            if (dash < 0)
            {
                ok = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out a);
                b = a;
            }
            else
            {
                ok = int.TryParse(part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out a)
                     & int.TryParse(part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out b);
            }

            if (!ok || a < 1 || b > max || a > b)
            {
                throw new UsageException($"--units '{text}': give ids 1-{max} as a range or list, such as 1-247 or 1-10,17.");
            }

            for (var u = a; u <= b; u++)
            {
                list.Add(u);
            }
        }

        return list.Count > 0 ? list.ToArray() : throw new UsageException("--units is empty.");
    }

    internal static IReadOnlyList<int> ParseBauds(string text)
    {
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return StandardBauds;
        }

        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is >= 300 and <= 1_000_000
                ? v : throw new UsageException($"--baud '{b}': give a rate such as 9600, a list 9600,19200, or all."))
            .ToArray();
    }

    internal static IReadOnlyList<Parity> ParseParities(string text) =>
        text.Equals("all", StringComparison.OrdinalIgnoreCase)
            ? [Parity.None, Parity.Even, Parity.Odd]
            : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ModbusLinkOptions.ParseParity).ToArray();
}
