using System.Net.Http.Json;
using System.Text.Json;
using IocEdge.Aggregator;
using IocEdge.Aggregator.Broker;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace IocEdge.Testing;

/// <summary>
/// A real aggregator (the same host its Main runs) on loopback, free ports and a SQLite file under a temp folder.
/// It can be stopped and started again on the same ports and files, as an operator would restart the service.
/// </summary>
public sealed class TestAggregator : IAsyncDisposable
{
    private readonly Action<WebApplicationBuilder>? _configure;
    private WebApplication? _app;

    private TestAggregator(string dataDirectory, int mqttPort, int httpPort, Action<WebApplicationBuilder>? configure)
    {
        DataDirectory = dataDirectory;
        MqttPort = mqttPort;
        HttpPort = httpPort;
        _configure = configure;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
    }

    public string DataDirectory { get; }

    public int MqttPort { get; }

    public int HttpPort { get; }

    public HttpClient Http { get; }

    public string Url => $"http://127.0.0.1:{HttpPort}/";

    public IngestMetrics Metrics => _app!.Services.GetRequiredService<IngestMetrics>();

    public IServiceProvider Services => _app!.Services;

    public IReadingStore Store => _app!.Services.GetRequiredService<IReadingStore>();

    public IngestPipeline Pipeline => _app!.Services.GetRequiredService<IngestPipeline>();

    public IocEdge.Aggregator.Live.LiveFeed Live => _app!.Services.GetRequiredService<IocEdge.Aggregator.Live.LiveFeed>();

    public static async Task<TestAggregator> StartAsync(string dataDirectory, Action<WebApplicationBuilder>? configure = null)
    {
        var a = new TestAggregator(dataDirectory, FreePort.Next(), FreePort.Next(), configure);
        await a.StartAgainAsync();
        return a;
    }

    public async Task StartAgainAsync()
    {
        _app = AggregatorHost.Build(
        [
            $"--Aggregator:DataDirectory={DataDirectory}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{HttpPort}",
            $"--Aggregator:Mqtt:Port={MqttPort}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
        ], _configure);
        await _app.StartAsync();
        _ = _app.Services.GetRequiredService<EmbeddedBroker>();
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri(path, UriKind.Relative)));
        return doc.RootElement.Clone();
    }

    /// <summary>GET /api/v1/latest as channel → (value, quality).</summary>
    public async Task<Dictionary<string, (double? Value, string Quality, string Unit)>> LatestAsync(string gateway)
    {
        var json = await GetJsonAsync($"/api/v1/latest?gateway={gateway}");
        return json.GetProperty("readings").EnumerateArray().ToDictionary(
            r => r.GetProperty("channel").GetString()!,
            r => (r.GetProperty("value").ValueKind == JsonValueKind.Null ? (double?)null : r.GetProperty("value").GetDouble(),
                r.GetProperty("quality").GetString()!, r.GetProperty("unit").GetString()!));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Http.Dispose();
    }
}
