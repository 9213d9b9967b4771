using System.Diagnostics;
using IocEdge.Testing;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// The aggregator as deployed: <c>dotnet iocedge-aggregator.dll</c> (built beside the tests) in its own process, for the
/// tests that hold what a technician sees on the command line (exit codes, one-line errors on stderr).
/// </summary>
internal static class AggregatorExecutable
{
    /// <summary>The options that keep a run in <paramref name="dataDirectory"/> and on free loopback ports.</summary>
    public static string[] OnLoopback(string dataDirectory) =>
    [
        $"--Aggregator:DataDirectory={dataDirectory}", $"--Aggregator:HttpUrls=http://127.0.0.1:{FreePort.Next()}",
        $"--Aggregator:Mqtt:Port={FreePort.Next()}", "--Aggregator:Mqtt:BindAddress=127.0.0.1",
    ];

    /// <summary>
    /// Runs the executable with <paramref name="args"/> until it exits (at most <paramref name="timeout"/>, 60 s by
    /// default); returns its exit code, stdout and stderr. Throws <see cref="TimeoutException"/> (with its stderr) after
    /// killing a run that did not exit.
    /// </summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "iocedge-aggregator.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"iocedge-aggregator {string.Join(' ', psi.ArgumentList.Skip(1))} did not exit: {await stderr}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}
