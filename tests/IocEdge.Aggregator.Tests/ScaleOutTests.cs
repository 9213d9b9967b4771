using System.Diagnostics;
using System.Text.Json;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, proof "Scale-out: mosquitto + two aggregator instances on a shared subscription + [one store]; 200
/// simulated gateways; one instance killed mid-run; every reading stored exactly once." The instances are the real
/// iocedge-aggregator executable run as processes (SIGKILL is a crash: no shutdown code runs), restarted after the
/// kill as systemd's Restart=always would; the gateways are MQTT 5 clients publishing contract v1 batches at QoS 1.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ScaleOutTests : IAsyncLifetime
{
    private const int Gateways = 200;
    private const int MessagesPerGateway = 10;
    private const int ReadingsPerMessage = 50;
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-aggregator.dll");

    private readonly ITestOutputHelper _log;
    private readonly TempDirectory _dir = new("scale-out");
    private readonly PeerProcess?[] _instances = new PeerProcess?[2];
    private readonly int[] _httpPorts = [FreePort.Next(), FreePort.Next()];
    private Mosquitto _broker = null!;

    public ScaleOutTests(ITestOutputHelper log) => _log = log;

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync(persistenceDirectory: _dir.File("mosquitto-db"));

    public async Task DisposeAsync()
    {
        foreach (var p in _instances)
        {
            if (p is not null)
            {
                await p.DisposeAsync();
            }
        }

        await _broker.DisposeAsync();
        _dir.Dispose();
    }

    private async Task StartInstanceAsync(int i, IEnumerable<string> storeArgs)
    {
        _instances[i] = PeerProcess.Start("dotnet",
        [
            Dll,
            $"--Aggregator:DataDirectory={Path.Combine(_dir.Path, "aggregator")}",
            $"--Aggregator:HttpUrls=http://127.0.0.1:{_httpPorts[i]}",
            "--Aggregator:ExternalBroker:Host=127.0.0.1",
            $"--Aggregator:ExternalBroker:Port={_broker.Port}",
            $"--Aggregator:ExternalBroker:ClientId=agg-{i + 1}",
            "--Aggregator:ExternalBroker:ReconnectMaxDelay=00:00:02",
            "--Logging:LogLevel:Default=Warning",
            .. storeArgs,
        ]);
        await _instances[i]!.WaitForTcpAsync(_httpPorts[i], TimeSpan.FromSeconds(30));
    }

    private static string GatewayId(int g) => $"gw-scale-{g:D3}";

    private static ReadingBatch Batch(string gateway, DateTimeOffset t0, long firstSeq, int count) =>
        new(gateway, "s1", Enumerable.Range(0, count)
            .Select(i => new SequencedReading(firstSeq + i,
                new Reading("env1/pm2_5", t0.AddMilliseconds(firstSeq + i), 12.5, "ug/m3", Quality.Good)))
            .ToArray());

    private async Task PublishAllAsync(int gateway, DateTimeOffset t0)
    {
        var id = GatewayId(gateway);
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _broker.Port).WithClientId(id).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        for (var m = 0; m < MessagesPerGateway; m++)
        {
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(Topics.Readings(id))
                .WithPayload(ReadingBatchJson.Encode(Batch(id, t0, 1 + (m * ReadingsPerMessage), ReadingsPerMessage)))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            Assert.True(result.IsSuccess);
        }

        await client.DisconnectAsync();
    }

    /// <summary>Per gateway, the readings the store counts as stored (new keys only: a duplicate is not counted).</summary>
    private async Task<Dictionary<string, long>> StoredPerGatewayAsync(int instance)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_httpPorts[instance]}") };
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/gateways", UriKind.Relative)));
        return doc.RootElement.GetProperty("gateways").EnumerateArray()
            .ToDictionary(g => g.GetProperty("gateway").GetString()!, g => g.GetProperty("readings").GetInt64());
    }

    /// <summary>Both instances share one SQLite file here (WAL; one writer at a time across processes).</summary>
    [Fact]
    public Task Two_instances_one_killed_mid_run_store_every_reading_of_200_gateways_exactly_once_sqlite() => RunAsync([]);

    /// <summary>
    /// The production layout of the issue's proof: both instances write to one PostgreSQL server (started by the test on
    /// loopback), whose <c>reading_keys</c> guard keeps a key once whichever instance commits it first.
    /// </summary>
    [Fact]
    public async Task Two_instances_one_killed_mid_run_store_every_reading_of_200_gateways_exactly_once_postgresql()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var connectionString = await postgres.CreateDatabaseAsync();
        await RunAsync(["--Aggregator:Store:Engine=postgresql", $"--Aggregator:Store:ConnectionString={connectionString}"]);
    }

    private async Task RunAsync(string[] storeArgs)
    {
        await StartInstanceAsync(0, storeArgs);
        await StartInstanceAsync(1, storeArgs);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-1);
        var clock = Stopwatch.StartNew();

        var publishing = Task.WhenAll(Enumerable.Range(0, Gateways).Select(g => Task.Run(() => PublishAllAsync(g, t0))));
        // Kill instance 1 once some of the load has arrived, while gateways are still publishing.
        await Eventually.True(async () => (await StoredPerGatewayAsync(1)).Values.Sum() > 5_000, TimeSpan.FromSeconds(60),
            "ingest has started");
        Process.GetProcessById(_instances[0]!.Pid).Kill();
        await _instances[0]!.WaitForExitAsync();
        _log.WriteLine($"killed instance 1 at {clock.Elapsed.TotalSeconds:F1} s");
        await publishing;
        await _instances[0]!.DisposeAsync();
        await StartInstanceAsync(0, storeArgs);

        const long expected = (long)MessagesPerGateway * ReadingsPerMessage;
        await Eventually.True(async () => (await StoredPerGatewayAsync(1)).Values.Sum() >= Gateways * expected,
            TimeSpan.FromSeconds(90), "every reading is stored");
        _log.WriteLine($"all {Gateways * expected} readings stored after {clock.Elapsed.TotalSeconds:F1} s");

        var stored = await StoredPerGatewayAsync(1);
        Assert.Equal(Gateways, stored.Count);
        foreach (var (gateway, count) in stored)
        {
            // Stored counts new keys only, and keys are (gateway, stream, seq) with seq 1..expected: equal means every
            // reading once, none missing, none twice.
            Assert.True(count == expected, $"{gateway}: {count} readings stored, expected {expected}");
        }

        Assert.Equal(stored, await StoredPerGatewayAsync(0));
    }
}
