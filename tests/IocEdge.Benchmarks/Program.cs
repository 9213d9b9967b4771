using BenchmarkDotNet.Running;
using IocEdge.Benchmarks.Aggregator;
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

        if (args is ["api-latency", .. var apiArgs])
        {
            return await Api.ApiLatencyTool.RunAsync(apiArgs).ConfigureAwait(false); // "HTTP API latency" (issue 15)
        }

        if (args is ["ingest-load", ..])
        {
            return await IngestLoadTool.RunAsync(args).ConfigureAwait(false); // "Aggregator: sustained ingest"
        }

        if (args is ["outbox-bytes", .. var rest])
        {
            return OutboxBytesTool.Run(rest); // "Outbox": bytes written to the card per reading
        }

        if (args is ["scale", ..])
        {
            return await Scale.ScaleTool.RunAsync(args).ConfigureAwait(false); // "Aggregator scale"
        }

        if (args is ["pg-ingest", .. var pg])
        {
            return await Postgres.PgIngestTool.RunAsync(pg).ConfigureAwait(false); // "PostgreSQL ingest"
        }

        if (args is ["scan", .. var scanArgs])
        {
            return await Cli.ScanTool.RunAsync(scanArgs).ConfigureAwait(false); // "CLI: modbus scan"
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
