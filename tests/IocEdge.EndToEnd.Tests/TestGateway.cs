using IocEdge.Edge;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IocEdge.Testing;

/// <summary>A real gateway host (what iocedge-gateway runs) with a configuration file written by the test.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly IHost _host;

    private TestGateway(IHost host) => _host = host;

    public SqliteOutbox Outbox => _host.Services.GetRequiredService<SqliteOutbox>();

    public MqttForwarder Forwarder => _host.Services.GetRequiredService<MqttForwarder>();

    public SamplingService Sampling => _host.Services.GetRequiredService<SamplingService>();

    public static async Task<TestGateway> StartAsync(string configPath, string json, Action<HostApplicationBuilder>? configure = null)
    {
        await File.WriteAllTextAsync(configPath, json);
        var host = GatewayHost.Build(["--config", configPath, "--Logging:LogLevel:Default=Warning"], configure);
        await host.StartAsync();
        return new TestGateway(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
