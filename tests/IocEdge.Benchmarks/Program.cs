using BenchmarkDotNet.Running;

namespace IocEdge.Benchmarks;

internal static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["drain", ..])
        {
            // A load tool, not a BenchmarkDotNet class: see Outbox/DrainTool.cs and docs/BENCHMARKS.md "Outbox drain".
            return await Outbox.DrainTool.RunAsync(args).ConfigureAwait(false);
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
