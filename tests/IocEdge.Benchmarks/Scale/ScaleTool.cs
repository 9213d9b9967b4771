using System.Diagnostics;
using System.Globalization;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Benchmarks.Scale;

/// <summary>
/// Issue 15 benchmark "Scale: the whole of Bình Dương's IOC (28,881 data connections) as 1,000 simulated gateways × 29
/// channels at 1 Hz on one aggregator: no backlog growth; aggregator RSS ≤ 300 MB with 5,000 gateways connected".
/// A load tool: the real aggregator runs as its own process (its RSS is read from /proc/PID/status), on loopback and a
/// fresh data directory; this process simulates the gateways as MQTT 5 clients (MQTTnet) that each publish one QoS 1
/// message of <c>channels</c> readings per second (random phase) with up to <c>window</c> messages awaiting their
/// PUBACK, as the gateway's forwarder does (Gateway:Mqtt:MaxInFlight, 32 by default; a full window makes a gateway fall
/// behind its schedule), plus <c>idle</c> gateways that only stay connected.
/// Reports: offered and published readings/s over the window, how many of the published were stored (after the
/// in-flight messages drained), the lag (readings published but not yet acknowledged)
/// at the start and the end of the window (growth = backlog), PUBACK latency p50/p99 (a PUBACK leaves after the commit,
/// so this is publish-to-stored), and the aggregator's RSS idle (the same-run baseline), with all gateways connected,
/// and at its peak.
/// Usage: <c>dotnet run -c Release --project tests/IocEdge.Benchmarks -- scale [--gateways 1000] [--channels 29]
/// [--seconds 60] [--idle 4000] [--window 32] [--aggregator-arg --Aggregator:Key=value]...</c>.
/// </summary>
internal static class ScaleTool
{
    public static async Task<int> RunAsync(string[] args)
    {
        var gateways = ToolArgs.Int(args, "--gateways", 1000);
        var channels = ToolArgs.Int(args, "--channels", 29);
        var seconds = ToolArgs.Int(args, "--seconds", 60);
        var idle = ToolArgs.Int(args, "--idle", 4000);
        var window = ToolArgs.Int(args, "--window", new IocEdge.Edge.Configuration.GatewayMqttOptions().MaxInFlight);
        var extra = args.Select((a, i) => (a, i)).Where(p => p.a == "--aggregator-arg" && p.i + 1 < args.Length)
            .Select(p => args[p.i + 1]).ToList();

        using var dir = new TempDirectory("scale-bench");
        await using var aggregator = await AggregatorProcess.StartAsync(dir.Path, extra).ConfigureAwait(false);
        await Task.Delay(2000).ConfigureAwait(false);
        var rssIdle = aggregator.RssMb();
        Console.WriteLine($"aggregator pid {aggregator.Pid} idle RSS {rssIdle:0.0} MB; {Environment.ProcessorCount} cores; " +
                          $"{gateways} gateways x {channels} channels at 1 Hz + {idle} idle gateways, {seconds} s");

        var sw = Stopwatch.StartNew();
        var clients = new IMqttClient[gateways + idle];
        var factory = new MqttClientFactory();
        using (var gate = new SemaphoreSlim(64))
        {
            await Task.WhenAll(Enumerable.Range(0, clients.Length).Select(async i =>
            {
                await gate.WaitAsync().ConfigureAwait(false);
                try
                {
                    clients[i] = await ConnectAsync(factory, aggregator.MqttPort, $"gw-scale-{i:D5}").ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
        }

        Console.WriteLine($"connected {clients.Length} gateways in {sw.Elapsed.TotalSeconds:0.0} s; RSS {aggregator.RssMb():0.0} MB");

        var latencies = new List<double>[gateways];
        long published = 0, acknowledged = 0, failed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var peakRss = 0.0;
        var lagSamples = new List<(double At, long Lag)>();
        var sampler = Task.Run(async () =>
        {
            var start = Stopwatch.GetTimestamp();
            while (!stop.IsCancellationRequested)
            {
                peakRss = Math.Max(peakRss, aggregator.RssMb());
                lagSamples.Add((Stopwatch.GetElapsedTime(start).TotalSeconds,
                    (Interlocked.Read(ref published) - Interlocked.Read(ref acknowledged)) * channels));
                try
                {
                    await Task.Delay(1000, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        // One PUBLISH awaiting its PUBACK, as the forwarder sends it; frees its slot in the gateway's window when answered.
        async Task PublishAsync(IMqttClient client, string id, byte[] payload, List<double> latencies, SemaphoreSlim slots)
        {
            var t = Stopwatch.GetTimestamp();
            try
            {
                var r = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings(id))
                    .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())
                    .ConfigureAwait(false);
                if (r.IsSuccess)
                {
                    Interlocked.Increment(ref acknowledged);
                    lock (latencies)
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                    }
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                slots.Release();
            }
        }

        var storedBefore = await aggregator.StoredAsync().ConfigureAwait(false);
        var (writtenBefore, cpuBefore) = (aggregator.WrittenBytes(), aggregator.CpuSeconds());
        var commitsBefore = await aggregator.CommitsAsync().ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, gateways).Select(g => Task.Run(async () =>
        {
            var id = $"gw-scale-{g:D5}";
            var lat = latencies[g] = [];
            var period = TimeSpan.FromSeconds(1);
            var next = Stopwatch.GetTimestamp() + (long)(Random.Shared.NextDouble() * Stopwatch.Frequency);
            long seq = 0;
            using var slots = new SemaphoreSlim(window, window);
            var inFlight = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                next += (long)(period.TotalSeconds * Stopwatch.Frequency);
                var now = DateTimeOffset.UtcNow;
                var readings = new SequencedReading[channels];
                for (var c = 0; c < channels; c++)
                {
                    readings[c] = new SequencedReading(++seq, new Reading($"ch{c:D2}/value", now, 20 + (c * 0.5), "ug/m3", Quality.Good));
                }

                var payload = ReadingBatchJson.Encode(new ReadingBatch(id, "s1", readings));
                // As the gateway's forwarder does: up to `window` messages await their PUBACK (Gateway:Mqtt:MaxInFlight);
                // a gateway whose window is full waits (and falls behind its schedule: that is backlog).
                try
                {
                    await slots.WaitAsync(stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                Interlocked.Increment(ref published);
                inFlight.Add(PublishAsync(clients[g], id, payload, lat, slots));
            }

            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }))).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var (written, cpu) = (aggregator.WrittenBytes() - writtenBefore, aggregator.CpuSeconds() - cpuBefore);
        var commits = await aggregator.CommitsAsync().ConfigureAwait(false) - commitsBefore;
        await sampler.ConfigureAwait(false);
        await Task.Delay(3000).ConfigureAwait(false);
        var storedAfter = await aggregator.StoredAsync().ConfigureAwait(false);
        var rssEnd = aggregator.RssMb();

        var all = latencies.Where(l => l is not null).SelectMany(l => l).Order().ToArray();
        var steady = lagSamples.Where(s => s.At >= 5).ToList();
        var lagStart = steady.Count > 0 ? steady.Take(Math.Max(1, steady.Count / 4)).Average(s => s.Lag) : 0;
        var lagEnd = steady.Count > 0 ? steady.Skip(steady.Count * 3 / 4).Average(s => s.Lag) : 0;
        var offered = (double)gateways * channels;
        var sent = (double)published * channels;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"offered {offered:N0} readings/s; published {published:N0} messages, acknowledged {acknowledged:N0}, failed {failed:N0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"published {sent / seconds:N0} readings/s in the {seconds} s window = {sent / seconds / offered:0.00}x offered (a full window holds a gateway back); " +
            $"stored {storedAfter - storedBefore:N0} of the {sent:N0} published ({(storedAfter - storedBefore) / Math.Max(1, sent):0.000}), " +
            $"the last {elapsed - seconds:0.0} s after the window draining what was in flight"));
        Console.WriteLine("lag every 2 s: " + string.Join(" ", lagSamples.Where((_, i) => i % 2 == 0)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.At:0}s:{x.Lag / 1000.0:0}k"))));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lag (readings published, not yet acknowledged): first quarter {lagStart:N0}, last quarter {lagEnd:N0} (growth {lagEnd - lagStart:N0})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"PUBACK latency ms: p50 {Pct(all, 0.50):0.0}, p99 {Pct(all, 0.99):0.0}, max {(all.Length > 0 ? all[^1] : 0):0.0} ({all.Length:N0} samples)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"aggregator RSS MB: idle {rssIdle:0.0} (baseline), peak {peakRss:0.0}, end {rssEnd:0.0} with {clients.Length} gateways connected"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"aggregator in the window: {cpu / elapsed:0.00} cores of CPU, {written / elapsed / 1e6:0.0} MB/s written to storage " +
            $"({written / Math.Max(1.0, sent):N0} bytes per published reading); {commits / elapsed:0.0} commits/s"));

        foreach (var c in clients)
        {
            c?.Dispose();
        }

        return 0;
    }


    private static async Task<IMqttClient> ConnectAsync(MqttClientFactory factory, int port, string id)
    {
        var client = factory.CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .WithTimeout(TimeSpan.FromSeconds(30)).Build()).ConfigureAwait(false);
        return client;
    }

    private static double Pct(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
