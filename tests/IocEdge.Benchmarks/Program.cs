using BenchmarkDotNet.Running;
using IocEdge.Benchmarks.Outbox;

namespace IocEdge.Benchmarks;

internal static class BenchmarkProgram
{
    public static void Main(string[] args)
    {
        // Load tools (not BenchmarkDotNet): they measure the whole process (/proc/self/io), see docs/BENCHMARKS.md.
        if (args is ["outbox-bytes", .. var rest])
        {
            Environment.ExitCode = OutboxBytesTool.Run(rest);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
    }
}
