using System.Globalization;
using System.IO.Ports;
using System.Net;
using System.Text;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Logging;

namespace IocEdge.Hardware.Simulator;

/// <summary>What the command line asked for: run, list the profiles, or print help.</summary>
internal enum SimulatorCommand
{
    Run,
    ListProfiles,
    Help,
}

/// <summary>The parsed command line of <c>iocedge-sim</c>.</summary>
internal sealed record SimulatorInvocation(SimulatorCommand Command, StationSimulatorOptions? Options, ProfileCatalog? Catalog,
    LogLevel LogLevel);

/// <summary>A command-line mistake: the message names the option and the fix.</summary>
internal sealed class SimulatorUsageException(string message) : Exception(message);

/// <summary>Parses <c>iocedge-sim</c>'s arguments (hand-written: a dozen options do not need a framework).</summary>
internal static class SimulatorCommandLine
{
    public const string Usage = """
        iocedge-sim — a simulated Modbus field station (TCP and RTU/ASCII on a serial line or pty).

        Usage:
          iocedge-sim --profile ID [--unit N] [--profile ID [--unit N] ...] [--tcp HOST:PORT] [--rtu PATH | --ascii PATH]
                      [--baud N] [--parity N|E|O] [--stop-bits 1|2] [--fault SPEC ...] [--seed N] [--update-period SECONDS]
                      [--utc-offset +07:00] [--refuse-unmapped] [--profiles-dir DIR] [--log-level LEVEL]
                      [--pms5003 PATH] [--sds011 PATH]
          iocedge-sim --list-profiles [--profiles-dir DIR]
          iocedge-sim --help

        Options:
          --profile ID         An instrument profile to serve (repeatable). See --list-profiles.
          --unit N             Unit id of the preceding --profile: 1-247, or 255 (0 on --tcp only) for a device
                               reached directly over TCP. Default: 1, 2, 3... in order.
          --tcp HOST:PORT      Serve Modbus TCP there (port 0 = any free port). Default 127.0.0.1:1502 when no serial
                               port is given.
          --rtu PATH           Serve Modbus RTU on a serial device or pty (e.g. one end of a socat pty pair).
          --ascii PATH         Serve Modbus ASCII instead.
          --baud N             Serial baud rate. Default 9600.
          --parity N|E|O       Serial parity. Default N (8N1).
          --stop-bits 1|2      Serial stop bits. Default 1.
          --fault SPEC         A scripted fault (repeatable): unit=N,kind=KIND[,code=C][,ms=M][,per-hour=X][,point=NAME]
                               KIND: no-answer | bad-crc | exception (code=1..11, default 4) | delay (ms=...) |
                                     stuck [point=...] | drift (per-hour=..., point=...)
          --seed N             Noise seed (one seed, one series). Default 0.
          --update-period S    Seconds between signal updates. Default 1.
          --utc-offset +HH:MM  Local time of the daily cycles. Default +07:00 (Vietnam).
          --pms5003 PATH       Also serve a simulated PMS5003 particulate sensor (UART frames) on PATH, e.g. one end
                               of a socat pty pair; the gateway's driver opens the other end. Repeatable.
          --sds011 PATH        The same with an SDS011.
          --refuse-unmapped    Answer exception 02 outside the profile's points, as real devices do.
          --profiles-dir DIR   Read profiles from DIR instead of the built-in profiles/ folder.
          --log-level LEVEL    Trace, Debug, Information (default), Warning, Error.
          --list-profiles      List the profiles and exit.
          --help               This text.

        Example:
          iocedge-sim --profile env-station --unit 1 --tcp 127.0.0.1:1502 --fault unit=1,kind=exception,code=2
        Stop with Ctrl+C.
        """;

    /// <exception cref="SimulatorUsageException">A bad argument; the message says which and how to fix it.</exception>
    /// <exception cref="ProfileValidationException">A profile file is invalid.</exception>
    public static SimulatorInvocation Parse(IReadOnlyList<string> args, Func<string?, ProfileCatalog>? loadCatalog = null)
    {
        loadCatalog ??= dir => dir is null ? ProfileCatalog.LoadBuiltIn() : ProfileCatalog.LoadDirectory(dir);
        var profiles = new List<(string Id, byte? Unit)>();
        var faults = new List<string>();
        var uartDevices = new List<SimulatedUartDevice>();
        string? tcp = null, serialPath = null, profilesDir = null;
        var mode = ModbusSerialMode.Rtu;
        int baud = 9600, seed = 0;
        var parity = Parity.None;
        var stopBits = StopBits.One;
        var updatePeriod = TimeSpan.FromSeconds(1);
        var utcOffset = TimeSpan.FromHours(7);
        var refuseUnmapped = false;
        var logLevel = LogLevel.Information;
        var list = false;

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new SimulatorUsageException($"{arg} needs a value (see --help).");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--help" or "-h" or "-?":
                    return new SimulatorInvocation(SimulatorCommand.Help, null, null, logLevel);
                case "--list-profiles":
                    list = true;
                    break;
                case "--profile":
                    profiles.Add((Value(), null));
                    break;
                case "--unit":
                {
                    var text = Value();
                    if (profiles.Count == 0)
                    {
                        throw new SimulatorUsageException("--unit must follow the --profile it applies to, e.g. --profile env-station --unit 1.");
                    }

                    if (profiles[^1].Unit is not null)
                    {
                        throw new SimulatorUsageException($"--unit {text}: profile '{profiles[^1].Id}' already has a unit id; give each --profile one --unit.");
                    }

                    profiles[^1] = (profiles[^1].Id, ParseInstrumentUnit(text));
                    break;
                }

                case "--tcp":
                    tcp = Value();
                    break;
                case "--rtu":
                    serialPath = Value();
                    mode = ModbusSerialMode.Rtu;
                    break;
                case "--ascii":
                    serialPath = Value();
                    mode = ModbusSerialMode.Ascii;
                    break;
                case "--baud":
                    baud = ParseInt(arg, Value(), 50, 4_000_000);
                    break;
                case "--parity":
                    parity = Value().ToUpperInvariant() switch
                    {
                        "N" or "NONE" => Parity.None,
                        "E" or "EVEN" => Parity.Even,
                        "O" or "ODD" => Parity.Odd,
                        var other => throw new SimulatorUsageException($"--parity {other}: use N (none), E (even) or O (odd)."),
                    };
                    break;
                case "--stop-bits":
                    stopBits = Value() switch
                    {
                        "1" => StopBits.One,
                        "2" => StopBits.Two,
                        var other => throw new SimulatorUsageException($"--stop-bits {other}: use 1 or 2."),
                    };
                    break;
                case "--fault":
                    faults.Add(Value());
                    break;
                case "--seed":
                    seed = ParseInt(arg, Value(), int.MinValue, int.MaxValue);
                    break;
                case "--update-period":
                {
                    var text = Value();
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > 86_400)
                    {
                        throw new SimulatorUsageException($"--update-period {text}: give seconds, greater than 0 (e.g. 1 or 0.5).");
                    }

                    updatePeriod = TimeSpan.FromSeconds(seconds);
                    break;
                }

                case "--utc-offset":
                {
                    var text = Value();
                    if (!TimeSpan.TryParse(text.TrimStart('+'), CultureInfo.InvariantCulture, out var offset))
                    {
                        throw new SimulatorUsageException($"--utc-offset {text}: give +HH:MM or -HH:MM, e.g. +07:00.");
                    }

                    utcOffset = offset;
                    break;
                }

                case "--pms5003":
                    uartDevices.Add(new SimulatedUartDevice(SimulatedUartDeviceKind.Pms5003, Value()));
                    break;
                case "--sds011":
                    uartDevices.Add(new SimulatedUartDevice(SimulatedUartDeviceKind.Sds011, Value()));
                    break;
                case "--refuse-unmapped":
                    refuseUnmapped = true;
                    break;
                case "--profiles-dir":
                    profilesDir = Value();
                    break;
                case "--log-level":
                {
                    var text = Value();
                    if (!Enum.TryParse(text, ignoreCase: true, out logLevel) || !Enum.IsDefined(logLevel))
                    {
                        throw new SimulatorUsageException($"--log-level {text}: use Trace, Debug, Information, Warning or Error.");
                    }

                    break;
                }

                default:
                    throw new SimulatorUsageException($"Unknown argument '{arg}' (see --help).");
            }
        }

        var catalog = loadCatalog(profilesDir);
        if (list)
        {
            return new SimulatorInvocation(SimulatorCommand.ListProfiles, null, catalog, logLevel);
        }

        if (profiles.Count == 0 && uartDevices.Count == 0)
        {
            throw new SimulatorUsageException(
                $"No --profile given: name at least one ({string.Join(", ", catalog.Profiles.Select(p => p.Id))}).");
        }

        var options = new StationSimulatorOptions
        {
            Seed = seed,
            UpdatePeriod = updatePeriod,
            LocalUtcOffset = utcOffset,
            RefuseUnmappedAddresses = refuseUnmapped,
            UartDevices = uartDevices,
        };
        byte nextUnit = 1;
        foreach (var (id, unit) in profiles)
        {
            if (!catalog.TryGet(id, out var profile))
            {
                throw new SimulatorUsageException(
                    $"--profile {id}: unknown profile. Known: {string.Join(", ", catalog.Profiles.Select(p => p.Id))} (see --list-profiles).");
            }

            var u = unit ?? nextUnit;
            if (u == 0 && serialPath is not null)
            {
                throw new SimulatorUsageException(
                    $"--profile {id} --unit 0: on a serial line (--rtu/--ascii) unit 0 is the broadcast address, which no slave answers (serial line spec section 2.2); use 1-247, or 0 only with --tcp.");
            }

            options.Instruments.Add(new SimulatedInstrument(profile, u));
            nextUnit = (byte)Math.Min(247, u + 1);
        }

        if (serialPath is not null)
        {
            options.Serial = new SimulatorSerialOptions(serialPath)
            {
                Mode = mode,
                Line = new ModbusSerialLineSettings { BaudRate = baud, Parity = parity, StopBits = stopBits },
            };
        }

        if (tcp is not null || (serialPath is null && profiles.Count > 0))
        {
            options.Tcp = ParseEndPoint(tcp ?? "127.0.0.1:1502");
        }

        foreach (var spec in faults)
        {
            options.Faults.Add(ParseFault(spec));
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new SimulatorUsageException(ex.Message);
        }

        return new SimulatorInvocation(SimulatorCommand.Run, options, catalog, logLevel);
    }

    /// <summary>The --list-profiles text.</summary>
    public static string ListProfiles(ProfileCatalog catalog)
    {
        var sb = new StringBuilder();
        foreach (var p in catalog.Profiles)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{p.Id,-18} {p.Name}").AppendLine();
            foreach (var point in p.Points)
            {
                var table = point.Register switch
                {
                    RegisterKind.HoldingRegister => "holding",
                    RegisterKind.InputRegister => "input",
                    RegisterKind.Coil => "coil",
                    _ => "discrete",
                };
                sb.Append(CultureInfo.InvariantCulture,
                    $"    {point.Name,-26} {table,-8} {point.Address,5}  {point.Type,-8} {point.ByteOrder}  ×{point.Scale.ToString(CultureInfo.InvariantCulture),-6} {point.Unit}")
                    .AppendLine();
            }
        }

        sb.Append("Addresses are 0-based protocol addresses; mbpoll's -r takes address + 1.");
        return sb.ToString();
    }

    internal static SimulatorFault ParseFault(string spec)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new SimulatorUsageException($"--fault {spec}: '{part}' is not key=value (e.g. unit=1,kind=exception,code=2).");
            }

            fields[part[..eq]] = part[(eq + 1)..];
        }

        var unknown = fields.Keys.Except(["unit", "kind", "code", "ms", "per-hour", "point"], StringComparer.OrdinalIgnoreCase).ToList();
        if (unknown.Count > 0)
        {
            throw new SimulatorUsageException($"--fault {spec}: unknown key '{unknown[0]}'; keys are unit, kind, code, ms, per-hour, point.");
        }

        if (!fields.TryGetValue("unit", out var unitText) || !fields.TryGetValue("kind", out var kindText))
        {
            throw new SimulatorUsageException($"--fault {spec}: give at least unit=N and kind=KIND (e.g. unit=1,kind=no-answer).");
        }

        var unit = ParseUnit(unitText);
        fields.TryGetValue("point", out var point);
        return kindText.ToLowerInvariant() switch
        {
            "none" => new SimulatorFault { UnitId = unit, Kind = SimulatorFaultKind.None },
            "no-answer" or "noanswer" or "timeout" => SimulatorFault.NoAnswer(unit),
            "bad-crc" or "badcrc" or "crc" => SimulatorFault.BadCrc(unit),
            "exception" => SimulatorFault.Exception(unit, (ModbusExceptionCode)ParseInt("code", fields.GetValueOrDefault("code", "4"), 1, 255)),
            "delay" => SimulatorFault.Delayed(unit, TimeSpan.FromMilliseconds(ParseInt("ms", fields.GetValueOrDefault("ms")
                ?? throw new SimulatorUsageException($"--fault {spec}: a delay needs ms=N."), 1, 300_000))),
            "stuck" => SimulatorFault.Stuck(unit, point),
            "drift" => SimulatorFault.Drifting(unit, ParseDouble("per-hour", fields.GetValueOrDefault("per-hour")
                ?? throw new SimulatorUsageException($"--fault {spec}: a drift needs per-hour=X (point unit per hour).")), point),
            _ => throw new SimulatorUsageException(
                $"--fault {spec}: unknown kind '{kindText}'; use no-answer, bad-crc, exception, delay, stuck or drift."),
        };
    }

    internal static IPEndPoint ParseEndPoint(string text)
    {
        if (!IPEndPoint.TryParse(text, out var endPoint) || !text.Contains(':', StringComparison.Ordinal))
        {
            if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(text["localhost:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
            {
                return new IPEndPoint(IPAddress.Loopback, port);
            }

            throw new SimulatorUsageException($"--tcp {text}: give an IP address and port, e.g. 127.0.0.1:1502 (0.0.0.0:502 for every interface).");
        }

        return endPoint;
    }

    private static byte ParseUnit(string text) => (byte)ParseInt("unit", text, 0, 255);

    /// <summary>
    /// An instrument's unit id: 1-247 (serial line spec section 2.2), 255 (Modbus TCP Implementation Guide V1.0b
    /// section 4.4.2.2: a server reached directly is addressed with 0xFF) or 0 (the same, on TCP only).
    /// 248-254 are reserved.
    /// </summary>
    private static byte ParseInstrumentUnit(string text)
    {
        var unit = ParseInt("unit", text, 0, 255);
        if (unit is >= 248 and <= 254)
        {
            throw new SimulatorUsageException(
                $"--unit {text}: 248-254 are reserved unit ids (serial line spec section 2.2); use 1-247, or 255 (or 0 on --tcp) for a device reached directly over TCP.");
        }

        return (byte)unit;
    }

    private static int ParseInt(string what, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new SimulatorUsageException($"{what} {text}: give a whole number from {min} to {max}.");
        }

        return value;
    }

    private static double ParseDouble(string what, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new SimulatorUsageException($"{what} {text}: give a number, e.g. 0.5 or -2.");
        }

        return value;
    }
}
