using Spectre.Console;

namespace IocEdge.Cli;

/// <summary>
/// Where a verb writes and what the terminal can do: tests pass string writers and pick the width; the process uses
/// the real console. Colour only on a terminal and never when NO_COLOR is set (no-color.org) or TERM=dumb; tables only
/// when the terminal is at least <see cref="TableMinWidth"/> columns wide (a phone over SSH is often 40-60).
/// </summary>
public sealed class CliConsole
{
    /// <summary>Narrower terminals get "key: value" lines instead of tables.</summary>
    public const int TableMinWidth = 72;

    private IAnsiConsole? _ansi;

    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    /// <summary>Answers to prompts (only read when <see cref="Interactive"/>).</summary>
    public TextReader In { get; init; } = TextReader.Null;

    /// <summary>Standard output is a terminal (progress bars, tables, colour allowed).</summary>
    public bool IsTty { get; init; }

    /// <summary>Both ends are a terminal: prompts may be asked.</summary>
    public bool Interactive { get; init; }

    /// <summary>NO_COLOR or TERM=dumb was set.</summary>
    public bool NoColor { get; init; }

    /// <summary>Columns of the terminal: $COLUMNS when set, else the terminal's width, else 80.</summary>
    public int Width { get; init; } = 80;

    /// <summary>The environment (for IOCEDGE_ overrides and NO_COLOR); tests give their own.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>systemd-timesyncd's flag file (timesyncd(8)); tests point it elsewhere.</summary>
    public string TimesyncFlag { get; init; } = IocEdge.Edge.Outbox.SystemClockSync.TimesyncFlag;

    /// <summary>timedatectl(1), asked for NTPSynchronized when the flag file is absent.</summary>
    public string Timedatectl { get; init; } = "/usr/bin/timedatectl";

    public bool Narrow => Width < TableMinWidth;

    public bool Colour => IsTty && !NoColor;

    /// <summary>Spectre.Console over <see cref="Out"/> with this console's capabilities.</summary>
    public IAnsiConsole Ansi
    {
        get
        {
            if (_ansi is null)
            {
                _ansi = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Ansi = Colour ? AnsiSupport.Yes : AnsiSupport.No,
                    ColorSystem = Colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
                    Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
                    Out = new AnsiConsoleOutput(Out),
                });
                _ansi.Profile.Width = Width;
            }

            return _ansi;
        }
    }

    /// <summary>The process's console.</summary>
    public static CliConsole FromProcess()
    {
        var tty = !Console.IsOutputRedirected;
        var noColor = !string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable("NO_COLOR"))
                      || System.Environment.GetEnvironmentVariable("TERM") == "dumb";
        var width = 80;
        if (int.TryParse(System.Environment.GetEnvironmentVariable("COLUMNS"), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var columns) && columns > 0)
        {
            width = columns; // the shell's idea of the width wins, also through a pipe (`iocedge doctor | less`)
        }
        else if (tty)
        {
            try
            {
                width = Console.WindowWidth > 0 ? Console.WindowWidth : 80;
            }
            catch (IOException)
            {
            }
        }

        return new CliConsole
        {
            Out = Console.Out,
            Error = Console.Error,
            In = Console.In,
            IsTty = tty,
            Interactive = tty && !Console.IsInputRedirected,
            NoColor = noColor,
            Width = width,
        };
    }

    /// <summary>Writes "iocedge: MESSAGE" to standard error.</summary>
    public void Fail(string message) => Error.WriteLine("iocedge: " + message);

    /// <summary>
    /// Rows of (label, value...) as a table on a wide terminal, or one "label: v1, v2" line per row on a narrow one or
    /// a pipe that is narrow. Cells are plain text (never markup).
    /// </summary>
    public void Rows(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(rows);
        if (Narrow)
        {
            foreach (var row in rows)
            {
                Out.WriteLine(row[0] + ": " + string.Join(" | ", row.Skip(1).Where(c => c.Length > 0)));
            }

            return;
        }

        var table = new Table().Border(Colour ? TableBorder.Rounded : TableBorder.Ascii);
        foreach (var h in headers)
        {
            table.AddColumn(new TableColumn(Markup.Escape(h)));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(c => (Spectre.Console.Rendering.IRenderable)new Text(c)).ToArray());
        }

        Ansi.Write(table);
    }
}
