using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using IocEdge.Aggregator;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IocEdge.Benchmarks.Api;

/// <summary>
/// Issue 15 benchmarks "latest for 1,000 channels" (p99 one at a time and at 50 concurrent), "history of one channel,
/// one day at 1 Hz, step=1h" (p99) and "publish-to-visible on SSE" (p99 at a target rate). A load tool: a real
/// aggregator host (the one Main runs) on loopback with a fresh SQLite store, readings submitted to its ingest
/// pipeline (the broker is not measured here), HTTP over a real socket with HttpClient. Baseline in the same run: a
/// bare Kestrel (slim builder) endpoint on another port returning the very same response bytes, measured by the same
/// client, so the ratio shows what the API adds over the HTTP stack. Usage:
/// <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- api-latency [--requests N] [--rate R] [--seconds S]
/// [--prefill READINGS] [--encodings identity,gzip,br] [--wrk SECONDS]</c>. <c>--wrk</c> also times "latest, 50
/// concurrent" with wrk (Debian's <c>wrk</c> package: C, one thread, 50 keep-alive connections, closed loop, the
/// response bytes read but not decompressed) for that many seconds against the API and the baseline alternately, twice
/// each: the in-process HttpClient shares the server's two cores, threads and garbage collector, wrk only the cores. <c>--encodings</c> (default identity,gzip) times each request once per content coding the client accepts. <c>--prefill</c> first stores that many readings of another gateway (1,000 channels, one
/// reading every 10 s each, the newest a day old, 60,000 a commit straight into the store) so that the same requests
/// can be timed on a store of 1 M and of 100 M readings (issue 15: "within 1.5x").
/// </summary>
internal static class ApiLatencyTool
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = ToolArgs.Int(args, "--requests", 1000);
        var rate = ToolArgs.Int(args, "--rate", 10_000);
        var seconds = ToolArgs.Int(args, "--seconds", 5);
        var prefill = ToolArgs.Int(args, "--prefill", 0);
        var wrkSeconds = ToolArgs.Int(args, "--wrk", 0);
        var encodings = (ToolArgs.String(args, "--encodings") ?? "identity,gzip").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (encodings.FirstOrDefault(c => c is not ("identity" or "gzip" or "br")) is { } unknown)
        {
            Console.Error.WriteLine($"api-latency: --encodings: '{unknown}' is not identity, gzip or br.");
            return 64;
        }

        using var dir = new TempDirectory("api-latency");
        var httpPort = FreePort.Next();
        await using var app = AggregatorHost.Build(
        [
            $"--Aggregator:DataDirectory={dir.Path}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{httpPort}",
            $"--Aggregator:Mqtt:Port={FreePort.Next()}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        var pipeline = app.Services.GetRequiredService<IngestPipeline>();
        var now = DateTimeOffset.UtcNow;
        if (prefill > 0)
        {
            Prefill(app.Services.GetRequiredService<IReadingStore>(), prefill, now.AddDays(-1), dir.Path);
        }

        long seq = 0;

        // 1,000 channels with a latest value; one channel with a day of 1 Hz readings.
        await pipeline.SubmitAsync(new ReadingBatch("gw-bench", "s1", Enumerable.Range(0, 1000).Select(i => new SequencedReading(++seq,
            new Reading($"dev{i / 29:D3}/p{i % 29:D2}", now.AddSeconds(-1), i, "degC", Quality.Good))).ToArray()), CancellationToken.None);
        var dayStart = now.AddDays(-1);
        for (var s = 0; s < 86_400; s += 5_000)
        {
            var n = Math.Min(5_000, 86_400 - s);
            await pipeline.SubmitAsync(new ReadingBatch("gw-bench", "s1", Enumerable.Range(s, n).Select(i => new SequencedReading(++seq,
                new Reading("hist/t", dayStart.AddSeconds(i), i % 100, "degC", Quality.Good))).ToArray()), CancellationToken.None);
        }

        var apiBase = new Uri($"http://127.0.0.1:{httpPort}");
        using var http = new HttpClient { BaseAddress = apiBase };
        var latestUrl = "/api/v1/latest?gateway=gw-bench&limit=1000";
        var historyUrl = $"/api/v1/history?gateway=gw-bench&channel=hist/t&from={dayStart.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}&to={now.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}&step=1h&agg=avg";

        // Per content coding: the API's own bytes for the two requests as they come off the wire (compressed when the
        // client asks for it), which the baseline returns unchanged; the measuring client decompresses, as any must.
        var latestBodies = new Dictionary<string, byte[]>();
        var historyBodies = new Dictionary<string, byte[]>();
        foreach (var coding in encodings)
        {
            using var raw = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = apiBase };
            if (coding != "identity")
            {
                raw.DefaultRequestHeaders.AcceptEncoding.ParseAdd(coding);
            }

            latestBodies[coding] = await WireBytesAsync(raw, latestUrl, coding);
            historyBodies[coding] = await WireBytesAsync(raw, historyUrl, coding);
        }

        // Baseline: bare Kestrel returning the same bytes (with the same Content-Encoding).
        var basePort = FreePort.Next();
        var bb = WebApplication.CreateSlimBuilder();
        bb.WebHost.UseUrls($"http://127.0.0.1:{basePort}");
        bb.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning);
        await using var bare = bb.Build();
        bare.MapGet("/latest/{coding}", (string coding, HttpResponse r) => Bare(r, coding, latestBodies[coding]));
        bare.MapGet("/history/{coding}", (string coding, HttpResponse r) => Bare(r, coding, historyBodies[coding]));
        await bare.StartAsync();
        var baseUri = new Uri($"http://127.0.0.1:{basePort}");

        Console.WriteLine(string.Join("; ", encodings.Select(c =>
            $"{c}: latest {latestBodies[c].Length:N0} bytes (1000 channels), history {historyBodies[c].Length:N0} bytes (24 points from 86,400 readings)")));
        Console.WriteLine("what                                             p50 ms   p99 ms   baseline p50   baseline p99   p99 ratio");
        for (var round = 0; round < 2; round++)
        {
            // Round 0 warms both up (JIT, connections); round 1 is reported.
            var report = round == 1;
            foreach (var coding in encodings)
            {
                using var client = Client(apiBase, coding);
                using var baseClient = Client(baseUri, coding);
                await Row(report, $"latest 1000 ch, one at a time, {coding}", client, latestUrl, baseClient, $"/latest/{coding}", requests, 1);
                await Row(report, $"latest 1000 ch, 50 concurrent, {coding}", client, latestUrl, baseClient, $"/latest/{coding}", requests, 50);
                await Row(report, $"history 1 day 1 Hz step=1h, {coding}", client, historyUrl, baseClient, $"/history/{coding}", requests / 4, 1);
            }
        }

        if (wrkSeconds > 0)
        {
            Console.WriteLine($"wrk, 1 thread, 50 connections, {wrkSeconds} s a run, API and baseline alternately (p99 from wrk --latency):");
            foreach (var coding in encodings)
            {
                var api = new List<(double P50, double P99, double Rps)>();
                var baseline = new List<(double P50, double P99, double Rps)>();
                for (var run = 0; run < 2; run++)
                {
                    api.Add(await WrkAsync(new Uri(apiBase, latestUrl), coding, wrkSeconds));
                    baseline.Add(await WrkAsync(new Uri(baseUri, $"/latest/{coding}"), coding, wrkSeconds));
                }

                foreach (var (a, b) in api.Zip(baseline))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{"latest 1000 ch, 50 concurrent (wrk), " + coding,-48} {a.P50,7:0.00}  {a.P99,7:0.00}  {b.P50,13:0.00}  {b.P99,13:0.00}  {a.P99 / b.P99,9:0.0}x   {a.Rps:N0} vs {b.Rps:N0} req/s"));
                }
            }
        }

        await PublishToVisibleAsync(app, pipeline, http, rate, seconds, () => ++seq);
        await app.StopAsync();
        return 0;
    }

    private static void Prefill(IReadingStore store, int readings, DateTimeOffset newest, string dataDirectory)
    {
        const int Channels = 1000, PerChannelPerCommit = 60;
        var started = Stopwatch.GetTimestamp();
        var perChannel = readings / Channels;
        var first = newest.AddSeconds(-10.0 * perChannel);
        var channels = Enumerable.Range(0, Channels).Select(c => $"fill{c / 29:D3}/p{c % 29:D2}").ToArray();
        long seq = 0;
        for (var k = 0; k < perChannel; k += PerChannelPerCommit)
        {
            var n = Math.Min(PerChannelPerCommit, perChannel - k);
            var batch = new SequencedReading[n * Channels];
            var i = 0;
            for (var j = 0; j < n; j++)
            {
                var ts = first.AddSeconds(10.0 * (k + j));
                foreach (var channel in channels)
                {
                    batch[i++] = new SequencedReading(++seq, new Reading(channel, ts, (k + j) % 1000, "degC", Quality.Good));
                }
            }

            store.Store([new ReadingBatch("gw-fill", "s1", batch)], first.AddSeconds(10.0 * (k + n)));
        }

        var files = Directory.GetFiles(dataDirectory, "aggregator.db*", SearchOption.AllDirectories);
        var bytes = files.Sum(f => new FileInfo(f).Length);
        var wal = files.Where(f => f.EndsWith("-wal", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"prefilled {store.Count():N0} readings in {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s; store files {bytes / 1e6:N0} MB (WAL {wal / 1e6:N0} MB)");
    }

    private static HttpClient Client(Uri baseAddress, string coding) =>
        new(new SocketsHttpHandler
        {
            AutomaticDecompression = coding switch { "gzip" => DecompressionMethods.GZip, "br" => DecompressionMethods.Brotli, _ => DecompressionMethods.None },
        })
        { BaseAddress = baseAddress };

    private static async Task<byte[]> WireBytesAsync(HttpClient raw, string url, string coding)
    {
        using var response = await raw.GetAsync(new Uri(url, UriKind.Relative));
        response.EnsureSuccessStatusCode();
        var got = response.Content.Headers.ContentEncoding.FirstOrDefault() ?? "identity";
        if (got != coding)
        {
            throw new InvalidOperationException($"{url}: asked for {coding}, the API answered {got}.");
        }

        return await response.Content.ReadAsByteArrayAsync();
    }

    private static IResult Bare(HttpResponse response, string coding, byte[] body)
    {
        if (coding != "identity")
        {
            response.Headers.ContentEncoding = coding;
        }

        return Results.Bytes(body, "application/json");
    }

    private static async Task Row(bool report, string what, HttpClient http, string url, HttpClient baseHttp, string baseUrl, int n, int concurrency)
    {
        var api = await MeasureAsync(http, url, n, concurrency);
        var b = await MeasureAsync(baseHttp, baseUrl, n, concurrency);
        if (report)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{what,-48} {Pct(api, 0.5),7:0.00}  {Pct(api, 0.99),7:0.00}  {Pct(b, 0.5),13:0.00}  {Pct(b, 0.99),13:0.00}  {Pct(api, 0.99) / Pct(b, 0.99),9:0.0}x"));
        }
    }

    private static async Task<double[]> MeasureAsync(HttpClient http, string url, int n, int concurrency)
    {
        var times = new double[n];
        var next = -1;
        var uri = new Uri(url, UriKind.Relative);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                var start = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(uri);
                _ = await response.Content.ReadAsByteArrayAsync();
                response.EnsureSuccessStatusCode();
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }));
        Array.Sort(times);
        return times;
    }

    /// <summary>
    /// Runs wrk against <paramref name="url"/> (asking for <paramref name="coding"/>) and returns its p50 and p99 in ms
    /// and its requests/s. Throws when wrk is missing, fails, or saw non-2xx answers or socket errors.
    /// </summary>
    private static async Task<(double P50, double P99, double Rps)> WrkAsync(Uri url, string coding, int seconds)
    {
        var psi = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-t1", "-c50", $"-d{seconds}s", "--latency", "-H", $"Accept-Encoding: {coding}", url.ToString() })
        {
            psi.ArgumentList.Add(a);
        }

        using var wrk = Process.Start(psi) ?? throw new InvalidOperationException("wrk did not start (apt-get install wrk)");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        if (wrk.ExitCode != 0 || output.Contains("Non-2xx", StringComparison.Ordinal) || output.Contains("Socket errors", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"wrk {url}: exit {wrk.ExitCode}\n{output}{await wrk.StandardError.ReadToEndAsync()}");
        }

        double Percentile(string label)
        {
            var line = output.Split('\n').First(l => l.TrimStart().StartsWith(label, StringComparison.Ordinal)).Trim();
            var value = line[label.Length..].Trim();
            var unit = value.TrimStart("0123456789.".ToCharArray());
            var number = double.Parse(value[..^unit.Length], CultureInfo.InvariantCulture);
            return unit switch { "us" => number / 1000, "ms" => number, "s" => number * 1000, _ => throw new FormatException(line) };
        }

        var rps = double.Parse(output.Split('\n').First(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal))["Requests/sec:".Length..].Trim(),
            CultureInfo.InvariantCulture);
        return (Percentile("50%"), Percentile("99%"), rps);
    }

    private static double Pct(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    // Readings submitted at `rate`/s in 10 ms batches; the time from submission to the reading's event on the SSE stream.
    private static async Task PublishToVisibleAsync(WebApplication app, IngestPipeline pipeline, HttpClient http, int rate, int seconds, Func<long> nextSeq)
    {
        // What the store was doing meanwhile (a fold falling behind, a backstop fold, a large WAL), to tell a slow window's cause.
        var store = app.Services.GetRequiredService<IReadingStore>() as ReadingStore;
        var (unfoldedBefore, backstopsBefore) = (store?.UnfoldedReadings ?? 0, store?.BackstopFolds ?? 0);
        var (pauseBefore, gen2Before, heapBefore) = (GC.GetTotalPauseDuration(), GC.CollectionCount(2), GC.GetGCMemoryInfo().HeapSizeBytes);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stream?gateway=gw-bench&channel=sse/");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var sent = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        var latencies = new List<double>();
        var total = rate * seconds;
        var reading = Task.Run(async () =>
        {
            while (latencies.Count < total && await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: {\"gateway\"", StringComparison.Ordinal))
                {
                    var at = Stopwatch.GetTimestamp();
                    var i = line.IndexOf("\"seq\":", StringComparison.Ordinal) + 6;
                    var seq = long.Parse(line.AsSpan(i, line.IndexOf(',', i) - i), CultureInfo.InvariantCulture);
                    if (sent.TryGetValue(seq, out var t))
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(t, at).TotalMilliseconds);
                    }
                }
            }
        });
        await Task.Delay(200);
        var perBatch = Math.Max(1, rate / 100);
        var clock = Stopwatch.StartNew();
        var submits = new List<Task>();
        for (var b = 0; b < total / perBatch; b++)
        {
            var due = TimeSpan.FromMilliseconds(10.0 * b);
            if (clock.Elapsed < due)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            var batch = Enumerable.Range(0, perBatch).Select(k => new SequencedReading(nextSeq(),
                new Reading($"sse/c{k % 50:D2}", DateTimeOffset.UtcNow, k, "degC", Quality.Good))).ToArray();
            var t = Stopwatch.GetTimestamp();
            foreach (var r in batch)
            {
                sent[r.Sequence] = t;
            }

            submits.Add(pipeline.SubmitAsync(new ReadingBatch("gw-bench", "s2", batch), CancellationToken.None).AsTask());
        }

        await Task.WhenAll(submits);
        await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(10)));
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SSE publish-to-visible at {rate}/s for {seconds} s: {sorted.Length} of {total} events seen, p50 {Pct(sorted, 0.5):0.00} ms, p99 {Pct(sorted, 0.99):0.00} ms, max {sorted[^1]:0.00} ms (submission to the pipeline -> event read by an HttpClient on the stream)"));
        if (store is not null)
        {
            Console.WriteLine($"  store during the window: unfolded readings {unfoldedBefore:N0} -> {store.UnfoldedReadings:N0}, backstop folds {store.BackstopFolds - backstopsBefore}");
        }

        // The process's garbage collector meanwhile (the tool, its clients and the aggregator share it).
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  GC during the window: paused {(GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds:0} ms in all, {GC.CollectionCount(2) - gen2Before} gen2 collection(s), the last GC's pause {info.PauseDurations[0].TotalMilliseconds:0.0} ms (gen{info.Generation}, {info.PauseTimePercentage:0.0} % of time in pauses since start); heap {heapBefore / 1e6:N0} -> {info.HeapSizeBytes / 1e6:N0} MB"));
    }

}
