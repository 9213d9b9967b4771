using System.CommandLine;
using System.CommandLine.Help;
using IocEdge.Edge;

namespace IocEdge.Cli;

/// <summary>
/// The <c>iocedge</c> command: builds the verb tree (System.CommandLine) and runs one command line against a
/// <see cref="CliConsole"/>. Tests call <see cref="RunAsync"/> in-process; the executable's Main calls it with the
/// process console.
/// </summary>
public static class IocEdgeCli
{
    /// <summary>Runs <paramref name="args"/>; returns the exit code (<see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        var root = Build(console);
        var parse = root.Parse(args);
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction action)
            {
                action.MaxWidth = Math.Max(40, console.Width);
            }
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                console.Fail(error.Message);
            }

            // The whole verb ("config validate", "modbus write"): the chain of command results up to the root.
            var names = new List<string>();
            for (var r = parse.CommandResult as System.CommandLine.Parsing.SymbolResult; r is System.CommandLine.Parsing.CommandResult c; r = c.Parent)
            {
                if (c.Command != root)
                {
                    names.Insert(0, c.Command.Name);
                }
            }

            var verb = string.Join(' ', names);
            console.Fail($"see `iocedge {verb}{(verb.Length > 0 ? " " : string.Empty)}--help` for the options and examples.");
            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error, EnableDefaultExceptionHandler = false },
                cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 130; // interrupted (128 + SIGINT), as shells report it
        }
        catch (ConfigExit)
        {
            return ExitCodes.Config; // the problems are printed already
        }
        catch (PeerUnavailableException ex)
        {
            console.Fail(ex.Message);
            return ExitCodes.Unavailable;
        }
        catch (UsageException ex)
        {
            console.Fail(ex.Message);
            return ExitCodes.Usage;
        }
#pragma warning disable CA1031 // last line of defence: one line and an exit code, not a stack trace on a phone screen
        catch (Exception ex)
#pragma warning restore CA1031
        {
            console.Fail($"internal error: {ex.GetType().Name}: {ex.Message} (please report this)");
            return ExitCodes.Software;
        }
    }

    /// <summary>The verb tree.</summary>
    public static RootCommand Build(CliConsole console)
    {
        var root = new RootCommand("""
            iocedge: the technician's tool for an IocEdge gateway (enrol it with the aggregator, check the configuration,
            talk to Modbus devices, read a channel, look at the outbox, run the doctor).

            Exit codes: 0 ok, 1 a check failed, 2 usage error, 69 a peer (device, port, broker, GPIO chip) is
            unreachable, 78 the configuration is missing or not valid.

            Examples:
              iocedge provision --token iet_AbC... --aggregator http://10.0.0.5:8080 --gateway-id gw-hn-012
              iocedge doctor
              iocedge config validate --config /etc/iocedge/gateway.json
              iocedge modbus scan --serial /dev/ttyUSB0 --baud all --parity all
              iocedge modbus read --tcp 192.168.10.20 --unit 1 --table holding-registers --address 0 --count 4
            """);
        root.Add(ConfigCommands.Build(console));
        root.Add(ModbusCommands.Build(console));
        root.Add(OutboxCommands.Build(console));
        root.Add(ReadCommand.Build(console));
        root.Add(DoctorCommand.Build(console));
        root.Add(GpioCommand.Build(console));
        root.Add(InitCommand.Build(console));
        root.Add(ProvisionCommand.Build(console));
        Unwrap(root);
        return root;
    }

    /// <summary>
    /// Joins the lines of each prose paragraph of every description (they are written wrapped at 120 columns in the
    /// source), so help wraps them to the terminal's own width; example lines (indented) stay one per line.
    /// </summary>
    private static void Unwrap(Command command)
    {
        if (command.Description is { } text)
        {
            var lines = new List<string>();
            foreach (var line in text.Split('\n'))
            {
                var prose = line.Length > 0 && !char.IsWhiteSpace(line[0]);
                if (prose && lines.Count > 0 && lines[^1].Length > 0 && !char.IsWhiteSpace(lines[^1][0]) && !lines[^1].EndsWith(':'))
                {
                    lines[^1] += " " + line;
                }
                else
                {
                    lines.Add(line);
                }
            }

            command.Description = string.Join('\n', lines);
        }

        foreach (var sub in command.Subcommands)
        {
            Unwrap(sub);
        }
    }

    /// <summary><c>--config FILE</c>, default /etc/iocedge/gateway.json (the gateway's own default).</summary>
    internal static Option<string> ConfigOption() => new("--config")
    {
        Description = "the gateway configuration file",
        DefaultValueFactory = _ => GatewayHost.DefaultConfigPath,
        HelpName = "FILE",
    };

    /// <summary><c>--json</c>: one JSON document on standard output instead of text.</summary>
    internal static Option<bool> JsonOption() => new("--json") { Description = "print one JSON document (for scripts)" };
}

/// <summary>A peer (serial port, device, chip) is not there at all: exit 69 with the diagnosis and its fix.</summary>
public sealed class PeerUnavailableException : Exception
{
    public PeerUnavailableException(string message)
        : base(message)
    {
    }

    public PeerUnavailableException()
    {
    }

    public PeerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A command line that parses but makes no sense (a value out of range): exit 2 with the message.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException()
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
