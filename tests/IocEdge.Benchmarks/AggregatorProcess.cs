using System.Globalization;
using System.Text.Json;
using IocEdge.Testing;

namespace IocEdge.Benchmarks;

/// <summary>
/// The real aggregator run as its own process, as deployed (<c>dotnet iocedge-aggregator.dll</c> from this tool's
/// output folder), on loopback, free ports and the given data directory: for the load tools that measure it from the
/// outside (drain, ingest-load, scale). <see cref="StartAsync"/> returns once its HTTP and MQTT ports accept connections.
/// </summary>
internal sealed class AggregatorProcess : IAsyncDisposable
{
    private readonly PeerProcess _process;
    private readonly HttpClient _http;

    private AggregatorProcess(PeerProcess process, int mqttPort, int httpPort)
    {
        _process = process;
        MqttPort = mqttPort;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
    }

    public int MqttPort { get; }

    public int Pid => _process.Pid;

    /// <param name="dataDirectory">Aggregator:DataDirectory (a fresh folder per run).</param>
    /// <param name="extraArguments">More command-line keys (<c>--Aggregator:Key=value</c>), after the tool's own.</param>
    public static async Task<AggregatorProcess> StartAsync(string dataDirectory, IEnumerable<string>? extraArguments = null)
    {
        var mqttPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var process = PeerProcess.Start("dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "iocedge-aggregator.dll"),
            $"--Aggregator:DataDirectory={dataDirectory}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{httpPort}",
            $"--Aggregator:Mqtt:Port={mqttPort}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
            .. extraArguments ?? [],
        ]);
        await process.WaitForTcpAsync(httpPort, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await process.WaitForTcpAsync(mqttPort, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return new AggregatorProcess(process, mqttPort, httpPort);
    }

    /// <summary>Readings stored so far, all gateways together (the <c>readings</c> counters of GET /api/v1/gateways).</summary>
    public async Task<long> StoredAsync()
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri("/api/v1/gateways", UriKind.Relative)).ConfigureAwait(false));
        return doc.RootElement.GetProperty("gateways").EnumerateArray().Sum(g => g.GetProperty("readings").GetInt64());
    }

    /// <summary>Store transactions so far (<c>iocedge_ingest_commits</c> on GET /metrics); -1 when not exposed.</summary>
    public Task<long> CommitsAsync() => MetricAsync("iocedge_ingest_commits");

    /// <summary>The first sample of metric <paramref name="name"/> on GET /metrics (a prefix: _total may follow); -1 when not exposed.</summary>
    public async Task<long> MetricAsync(string name)
    {
        var text = await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).ConfigureAwait(false);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.LastIndexOf(' ') is var at and > 0)
            {
                return (long)double.Parse(line.AsSpan(at + 1), CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    /// <summary>User + system CPU seconds of the process so far (proc(5): /proc/PID/stat fields 14 and 15, in clock ticks
    /// of 1/100 s, the USER_HZ of Linux on x86-64 and arm64).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>
    /// Bytes the process has caused to be written to storage so far (proc(5): /proc/PID/io, <c>write_bytes</c>): the
    /// store's WAL and checkpoint writes. 0 once it is gone.
    /// </summary>
    public long WrittenBytes()
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/io").FirstOrDefault(l => l.StartsWith("write_bytes:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.AsSpan("write_bytes:".Length).Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>VmRSS of the process in MB (proc(5): /proc/PID/status, kB); 0 once it is gone.</summary>
    public double RssMb()
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync().ConfigureAwait(false);
    }
}
