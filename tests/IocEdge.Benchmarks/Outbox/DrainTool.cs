using System.Diagnostics;
using IocEdge.Aggregator;
using IocEdge.Aggregator.Broker;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IocEdge.Benchmarks.Outbox;

/// <summary>
/// Issue 14 benchmark "drain of a 1,000,000-reading backlog": a load tool, not BenchmarkDotNet (one drain is seconds
/// long and needs broker processes). A real outbox file is pre-filled once (20 channels, 1 Hz stamps, as a long outage
/// leaves it) and copied for each run; the real <see cref="MqttForwarder"/> in this process (the gateway) then drains it
/// with the gateway's default Mqtt settings (or those given) to (a) the real aggregator, run as its own process as in
/// the field (<c>iocedge-aggregator.dll</c>: embedded MQTTnet broker, exactly-once SQLite store, a fresh data directory
/// per run) and (b) a bare mosquitto with no subscriber (the baseline, also its own process). The aggregator is a
/// long-running service where it is deployed, so each fresh one is first warmed up by another gateway's backlog
/// (<c>--warm-up</c> readings, 400,000 by default: after 100,000 a quarter of its CPU during the measured drain was
/// still the JIT's tier-1 compiler). The clock runs from the forwarder's start to the moment the outbox is empty (every
/// PUBACK received: for the aggregator, every reading committed; the tool then checks through the HTTP API that all
/// were stored). Runs alternate a, b, a, b... so that the machine's load falls on both alike; medians are printed, and
/// the CPU seconds of this process and of the aggregator's. <c>--in-process</c> hosts the aggregator in this process
/// instead (one GC heap and thread pool shared with the gateway, no warm-up), as the tool did before wave 8.
/// Usage: <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- drain [--readings N] [--runs R]
/// [--batch-size B] [--max-in-flight F] [--warm-up W] [--in-process]</c>.
/// </summary>
internal static class DrainTool
{
    private static readonly (string Channel, string Unit)[] Channels = Enumerable.Range(0, 20)
        .Select(i => ($"env{i / 4 + 1}/{new[] { "pm2_5", "pm10", "temperature", "humidity" }[i % 4]}",
            new[] { "ug/m3", "ug/m3", "degC", "%RH" }[i % 4])).ToArray();

    public static async Task<int> RunAsync(string[] args)
    {
        var readings = ToolArgs.Int(args, "--readings", 1_000_000);
        var runs = ToolArgs.Int(args, "--runs", 3);
        var defaults = new GatewayMqttOptions();
        var batchSize = ToolArgs.Int(args, "--batch-size", defaults.BatchSize);
        var maxInFlight = ToolArgs.Int(args, "--max-in-flight", defaults.MaxInFlight);
        var inProcess = args.Contains("--in-process");
        var warmUp = ToolArgs.Int(args, "--warm-up", 400_000);

        using var dir = new TempDirectory("drain-bench");
        var template = dir.File("template.db");
        var sw = Stopwatch.StartNew();
        Fill(template, readings);
        Console.WriteLine($"pre-filled {readings:N0} readings in {sw.Elapsed.TotalSeconds:0.0} s ({new FileInfo(template).Length / 1e6:0.0} MB); " +
                          $"BatchSize {batchSize}, MaxInFlight {maxInFlight}, {Environment.ProcessorCount} cores; aggregator " +
                          (inProcess ? "in this process" : "as its own process"));

        var warmTemplate = dir.File("warm-template.db");
        if (!inProcess)
        {
            Fill(warmTemplate, warmUp); // once, copied for each run like the template
        }

        var aggregator = new List<double>();
        var mosquitto = new List<double>();
        for (var run = 1; run <= runs; run++)
        {
            var a = inProcess
                ? await DrainToAggregatorAsync(dir, template, run, readings, batchSize, maxInFlight)
                : await DrainToAggregatorProcessAsync(dir, template, warmTemplate, warmUp, run, readings, batchSize, maxInFlight);
            aggregator.Add(a);
            var b = await DrainToMosquittoAsync(dir, template, run, readings, batchSize, maxInFlight);
            mosquitto.Add(b);
            Console.WriteLine($"run {run}: aggregator {a:0.00} s ({readings / a:N0}/s), mosquitto {b:0.00} s ({readings / b:N0}/s)");
        }

        var ma = Median(aggregator);
        var mb = Median(mosquitto);
        Console.WriteLine($"median drain of {readings:N0}: aggregator {ma:0.00} s ({readings / ma:N0} readings/s), " +
                          $"mosquitto (baseline) {mb:0.00} s ({readings / mb:N0} readings/s), ratio {mb / ma:0.00}x");
        return 0;
    }


    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static void Fill(string path, int count)
    {
        using var outbox = new SqliteOutbox(path);
        var t0 = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        const int Cycle = 20_000;
        var buffer = new Reading[Math.Min(Cycle, count)];
        for (var start = 0; start < count; start += buffer.Length)
        {
            var n = Math.Min(buffer.Length, count - start);
            var page = n == buffer.Length ? buffer : new Reading[n];
            for (var k = 0; k < n; k++)
            {
                var i = start + k;
                var (channel, unit) = Channels[i % Channels.Length];
                page[k] = new Reading(channel, t0.AddSeconds(i / Channels.Length), 10 + (i % 997) / 10.0, unit, Quality.Good);
            }

            outbox.Append(page);
        }
    }

    private static SqliteOutbox Copy(string template, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(template, path, overwrite: true);
        return new SqliteOutbox(path);
    }

    private static async Task<double> DrainAsync(SqliteOutbox outbox, int port, int readings, int batchSize, int maxInFlight,
        string gatewayId = "gw-bench")
    {
        var options = Options.Create(new GatewayOptions
        {
            Id = gatewayId,
            Mqtt = new GatewayMqttOptions { Host = "127.0.0.1", Port = port, BatchSize = batchSize, MaxInFlight = maxInFlight },
        });
        if (outbox.Count != readings)
        {
            throw new InvalidOperationException($"the copied outbox holds {outbox.Count} readings, not {readings}");
        }

        using var forwarder = new MqttForwarder(options, outbox, TimeProvider.System, NullLogger<MqttForwarder>.Instance);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        await forwarder.StartAsync(CancellationToken.None);
        var limit = TimeSpan.FromMinutes(5);
        while (outbox.Count > 0)
        {
            if (Stopwatch.GetElapsedTime(started) > limit)
            {
                throw new TimeoutException($"{outbox.Count} readings still waiting after {limit}; failures {forwarder.Failures}");
            }

            await Task.Delay(2);
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        // CPU of this process (the forwarder, and for the aggregator run the aggregator too; not mosquitto's): what the
        // drain costs whatever else the machine runs.
        Console.WriteLine($"  {elapsed:0.00} s, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:0.00} CPU s in this process");
        await forwarder.StopAsync(CancellationToken.None);
        if (forwarder.Forwarded < readings)
        {
            throw new InvalidOperationException($"forwarded {forwarder.Forwarded}, expected {readings}");
        }

        return elapsed;
    }

    private static async Task<double> DrainToAggregatorAsync(TempDirectory dir, string template, int run, int readings,
        int batchSize, int maxInFlight)
    {
        var port = FreePort.Next();
        var app = AggregatorHost.Build(
        [
            $"--Aggregator:DataDirectory={dir.File($"agg{run}")}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{FreePort.Next()}",
            $"--Aggregator:Mqtt:Port={port}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        _ = app.Services.GetRequiredService<EmbeddedBroker>();
        try
        {
            using var outbox = Copy(template, dir.File($"gwa{run}/outbox.db"));
            var seconds = await DrainAsync(outbox, port, readings, batchSize, maxInFlight);
            var stored = app.Services.GetRequiredService<IReadingStore>().Count();
            if (stored != readings)
            {
                throw new InvalidOperationException($"the aggregator stored {stored} readings, not {readings}");
            }

            var metrics = app.Services.GetRequiredService<IngestMetrics>();
            Console.WriteLine($"  run {run}: {metrics.Commits:N0} store commits, {readings / Math.Max(1, metrics.Commits):N0} readings a commit");
            return seconds;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<double> DrainToAggregatorProcessAsync(TempDirectory dir, string template, string warmTemplate,
        int warmUp, int run, int readings, int batchSize, int maxInFlight)
    {
        await using var aggregator = await AggregatorProcess.StartAsync(dir.File($"agg{run}"));
        // A long-running aggregator is what a gateway drains its backlog to: warm this one up first (its JIT tiers up
        // while it takes another gateway's backlog), so the run measures the steady state, not start-up.
        using (var warm = Copy(warmTemplate, dir.File($"warm{run}/outbox.db")))
        {
            await DrainAsync(warm, aggregator.MqttPort, warmUp, batchSize, maxInFlight, "gw-warmup");
        }

        using var outbox = Copy(template, dir.File($"gwa{run}/outbox.db"));
        var cpu = aggregator.CpuSeconds();
        var seconds = await DrainAsync(outbox, aggregator.MqttPort, readings, batchSize, maxInFlight);
        Console.WriteLine($"  the aggregator process: {aggregator.CpuSeconds() - cpu:0.00} CPU s");
        var stored = await aggregator.StoredAsync();
        if (stored != readings + warmUp)
        {
            throw new InvalidOperationException($"the aggregator stored {stored} readings, not {readings} + {warmUp} (warm-up)");
        }

        return seconds;
    }

    private static async Task<double> DrainToMosquittoAsync(TempDirectory dir, string template, int run, int readings,
        int batchSize, int maxInFlight)
    {
        await using var broker = await Mosquitto.StartAsync();
        using var outbox = Copy(template, dir.File($"gwm{run}/outbox.db"));
        return await DrainAsync(outbox, broker.Port, readings, batchSize, maxInFlight);
    }
}
