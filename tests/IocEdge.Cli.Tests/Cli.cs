using IocEdge.Cli;

namespace IocEdge.Cli.Tests;

/// <summary>What a technician sees after one command: the exit code and both streams.</summary>
public sealed record CliResult(int Exit, string Out, string Err)
{
    public override string ToString() => $"exit {Exit}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs the real `iocedge` entry point in-process on string writers.</summary>
public static class Cli
{
    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(new Options(), args);

    public static async Task<CliResult> RunAsync(Options o, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole
        {
            Out = output,
            Error = error,
            IsTty = o.Tty,
            Interactive = false,
            NoColor = o.NoColor,
            Width = o.Width,
            TimesyncFlag = o.TimesyncFlag ?? "/nonexistent/timesync-flag",
            Timedatectl = o.Timedatectl ?? "/nonexistent/timedatectl",
        };
        var exit = await IocEdgeCli.RunAsync(args, console);
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    public sealed class Options
    {
        public bool Tty { get; init; }
        public bool NoColor { get; init; }
        public int Width { get; init; } = 100;
        public string? TimesyncFlag { get; init; }
        public string? Timedatectl { get; init; }
    }
}
