using BenchmarkDotNet.Running;

namespace IocEdge.Benchmarks;

internal static class BenchmarkProgram
{
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
