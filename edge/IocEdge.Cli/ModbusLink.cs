using System.CommandLine;
using System.Globalization;
using System.IO.Ports;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Cli;

/// <summary>How to reach the device(s): the options every <c>modbus</c> verb shares, and the master they make.</summary>
internal sealed class ModbusLinkOptions
{
    public Option<string?> Tcp { get; } = new("--tcp") { Description = "Modbus TCP device or gateway: HOST or HOST:PORT (port 502 by default)", HelpName = "HOST[:PORT]" };

    public Option<string?> RtuOverTcp { get; } = new("--rtu-over-tcp") { Description = "RTU frames through a serial server's TCP tunnel: HOST:PORT", HelpName = "HOST:PORT" };

    public Option<string?> Serial { get; } = new("--serial") { Description = "serial device of the RS-485 line (/dev/ttyUSB0, /dev/ttyAMA0)", HelpName = "DEV" };

    public Option<bool> Ascii { get; } = new("--ascii") { Description = "Modbus ASCII instead of RTU on the serial line" };

    public Option<int> StopBits { get; } = new("--stop-bits") { Description = "stop bits: 1 or 2 (8N2 is the spec's no-parity format)", DefaultValueFactory = _ => 1 };

    public Option<int?> TimeoutMs { get; } = new("--timeout") { Description = "milliseconds to wait for each answer (default 1000; `scan` on a serial line derives it from the baud rate)", HelpName = "MS" };

    public Option<int> Retries { get; } = new("--retries") { Description = "further attempts after a timeout", DefaultValueFactory = _ => 1 };

    public void AddTo(Command command)
    {
        command.Add(Tcp);
        command.Add(RtuOverTcp);
        command.Add(Serial);
        command.Add(Ascii);
        command.Add(StopBits);
        command.Add(TimeoutMs);
        command.Add(Retries);
    }

    /// <summary>Which transport was asked for; exactly one of --tcp, --rtu-over-tcp, --serial.</summary>
    public (string? Tcp, string? RtuOverTcp, string? Serial) Target(ParseResult parse)
    {
        var tcp = parse.GetValue(Tcp);
        var tunnel = parse.GetValue(RtuOverTcp);
        var serial = parse.GetValue(Serial);
        var given = new[] { tcp, tunnel, serial }.Count(v => !string.IsNullOrWhiteSpace(v));
        if (given != 1)
        {
            throw new UsageException("give exactly one of --tcp HOST[:PORT], --rtu-over-tcp HOST:PORT or --serial DEV.");
        }

        if (serial is not null && !File.Exists(serial))
        {
            // Same diagnosis as the gateway's (edge SerialLinkCheck), rather than the runtime's "could not open".
            throw new PeerUnavailableException(IocEdge.Edge.Sources.SerialLinkCheck.Missing(serial) + ".");
        }

        return (tcp, tunnel, serial);
    }

    public static (string Host, int Port) HostPort(string value, int defaultPort)
    {
        var at = value.LastIndexOf(':');
        if (at < 0)
        {
            return (value, defaultPort);
        }

        if (!int.TryParse(value[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new UsageException($"'{value}': the port must be 1-65535, as in 192.168.10.20:502.");
        }

        return (value[..at], port);
    }

    public static Parity ParseParity(string value) => value.ToUpperInvariant() switch
    {
        "N" or "NONE" => Parity.None,
        "E" or "EVEN" => Parity.Even,
        "O" or "ODD" => Parity.Odd,
        _ => throw new UsageException($"parity '{value}' is not one of N, E, O."),
    };

    public static string ParityLetter(Parity parity) => parity switch { Parity.Even => "E", Parity.Odd => "O", _ => "N" };

    public static System.IO.Ports.StopBits ParseStopBits(int value) => value switch
    {
        1 => System.IO.Ports.StopBits.One,
        2 => System.IO.Ports.StopBits.Two,
        _ => throw new UsageException($"--stop-bits {value}: use 1 or 2."),
    };

    /// <summary>A master for the target; a bad option is a <see cref="UsageException"/>.</summary>
    public static IModbusMaster Create(string? tcp, string? tunnel, string? serial, bool ascii, int baud, Parity parity, System.IO.Ports.StopBits stopBits,
        TimeSpan timeout, int retries, TimeSpan? lateAnswerWindow = null)
    {
        try
        {
            if (tcp is not null)
            {
                var (host, port) = HostPort(tcp, 502);
                return ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = host, Port = port, Timeout = timeout, Retries = retries });
            }

            if (tunnel is not null)
            {
                var (host, port) = HostPort(tunnel, 502);
                return ModbusMaster.CreateRtuOverTcp(new ModbusRtuOverTcpMasterOptions
                {
                    Host = host, Port = port, Timeout = timeout, Retries = retries, LateAnswerWindow = lateAnswerWindow,
                });
            }

            return ModbusMaster.CreateSerial(new ModbusSerialOptions
            {
                PortName = serial!,
                Mode = ascii ? ModbusSerialMode.Ascii : ModbusSerialMode.Rtu,
                BaudRate = baud,
                Parity = parity,
                DataBits = ascii ? 7 : 8,
                StopBits = stopBits,
                Timeout = timeout,
                Retries = retries,
                LateAnswerWindow = lateAnswerWindow,
            });
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message, ex);
        }
    }

    /// <summary>"/dev/ttyUSB0 9600 8N1" or "tcp 10.0.0.5:502".</summary>
    public static string Describe(string? tcp, string? tunnel, string? serial, bool ascii, int baud, Parity parity, System.IO.Ports.StopBits stopBits) =>
        tcp is not null ? "tcp " + tcp
        : tunnel is not null ? "rtu-over-tcp " + tunnel
        : FormattableString.Invariant($"{serial} {baud} {(ascii ? 7 : 8)}{ParityLetter(parity)}{(stopBits == System.IO.Ports.StopBits.Two ? 2 : 1)}{(ascii ? " ascii" : string.Empty)}");
}

/// <summary>What a failed exchange means for the technician, and the exit code.</summary>
internal static class ModbusFailure
{
    /// <summary>Prints one line (or a JSON error) and returns the exit code: exception response 1, no answer or no link 69.</summary>
    public static int Report(CliConsole console, ModbusException ex, string link)
    {
        switch (ex)
        {
            case ModbusDeviceException d:
                console.Fail($"unit {d.UnitId} answered exception 0x{(byte)d.Code:X2} {ModbusNames.Exception(d.Code)} to function 0x{d.FunctionCode:X2}: {ModbusNames.Hint(d.Code)}.");
                return ExitCodes.CheckFailed;
            case ModbusTimeoutException t:
                console.Fail($"timeout: unit {t.UnitId} did not answer on {link} within {t.Timeout.TotalMilliseconds:0} ms ({t.Attempts} attempt(s)). " +
                             "Check the unit id, the wiring (A/B swapped?), the baud rate and parity (`iocedge modbus scan` finds them), or raise --timeout.");
                return ExitCodes.Unavailable;
            case ModbusConnectionException c:
                console.Fail($"cannot reach {link}: {c.Message} Check the address/port or the serial device (and that your user is in the dialout group).");
                return ExitCodes.Unavailable;
            default:
                console.Fail($"malformed answers on {link}: {ex.Message} Check for a second master on the line, noise, or wrong framing (--ascii?).");
                return ExitCodes.Unavailable;
        }
    }
}
