using BenchmarkDotNet.Running;
using IocEdge.Benchmarks.Outbox;

namespace IocEdge.Benchmarks;

internal static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        // Load tools (not BenchmarkDotNet classes): they measure whole processes and real peers; see docs/BENCHMARKS.md.
        if (args is ["drain", ..])
        {
            return await DrainTool.RunAsync(args).ConfigureAwait(false); // "Outbox drain"
        }

        if (args is ["outbox-bytes", .. var rest])
        {
            return OutboxBytesTool.Run(rest); // "Outbox": bytes written to the card per reading
        }

        if (args is ["scan", .. var scanArgs])
        {
            return await Cli.ScanTool.RunAsync(scanArgs).ConfigureAwait(false); // "CLI: modbus scan"
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
