using System.Diagnostics;
using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using IocEdge.Hardware.Simulator;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace IocEdge.EndToEnd.Tests;

/// <summary>
/// Issue 14, proof 1: "kill -9 the gateway repeatedly during a backlog drain and at random moments; the broker
/// restarted mid-drain: every committed reading is stored exactly once (count = distinct = contiguous per stream)".
/// The gateway is the real iocedge-gateway executable run as a process (SIGKILL is what a power cut looks like to
/// the outbox file), reading a simulated env-station over Modbus TCP, forwarding to the real aggregator (its embedded
/// broker and SQLite store). The backlog is a pre-filled outbox (20,000 readings) plus what the gateway samples while
/// the aggregator is down; backfill is rate-limited so that the drain lasts long enough to be killed several times.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class KillDuringDrainTests : IAsyncLifetime
{
    private const string GatewayId = "gw-kill";
    private const int Backlog = 20_000;
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
    private static readonly (string Channel, string Unit)[] Channels =
        [("env1/pm2_5", "ug/m3"), ("env1/pm10", "ug/m3"), ("env1/temperature", "degC"), ("env1/humidity", "%RH")];

    private readonly ITestOutputHelper _log;
    private readonly TempDirectory _dir = new("e2e-kill");
    private StationSimulator _station = null!;
    private TestAggregator _aggregator = null!;
    private PeerProcess? _gateway;

    public KillDuringDrainTests(ITestOutputHelper log) => _log = log;

    private string OutboxPath => Path.Combine(_dir.Path, "gateway", "outbox.db");

    public async Task InitializeAsync()
    {
        _station = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            Instruments = { new SimulatedInstrument(ProfileCatalog.LoadBuiltIn().Get("env-station"), 1) },
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            Seed = 11,
        });
        _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "aggregator"));
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await _aggregator.DisposeAsync();
        await _station.DisposeAsync();
        _dir.Dispose();
    }

    private async Task StartGatewayAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        var config = _dir.File("gateway.json");
        _gateway = PeerProcess.Start("dotnet", [Dll, "--config", config, "--Logging:LogLevel:Default=Warning"]);
    }

    /// <summary>SIGKILL (Process.Kill on Linux), as a power cut: no shutdown code runs.</summary>
    private async Task KillGatewayAsync()
    {
        var p = Process.GetProcessById(_gateway!.Pid);
        p.Kill();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _gateway.WaitForExitAsync(cts.Token);
        Assert.True(_gateway.ExitCode is 137 or -1 or 128 + 9, $"the gateway died of SIGKILL, not {_gateway.ExitCode}:\n{_gateway.Output}");
    }

    /// <summary>
    /// One read transaction on the gateway's outbox file (a second connection, as sqlite3 would open it): the highest
    /// sequence ever numbered and the rows still waiting, from the same snapshot.
    /// </summary>
    private (long Last, long Waiting, string Stream, long Oldest) Snapshot()
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = OutboxPath, Pooling = false, DefaultTimeout = 5 }.ToString());
        c.Open();
        using var tx = c.BeginTransaction(deferred: true);
        long Scalar(string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }

        var last = Scalar("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)");
        var waiting = Scalar("SELECT count(*) FROM outbox");
        var oldest = Scalar("SELECT coalesce(min(seq), 9223372036854775807) FROM outbox");
        using var s = c.CreateCommand();
        s.Transaction = tx;
        s.CommandText = "SELECT value FROM meta WHERE key = 'stream'";
        var stream = (string)s.ExecuteScalar()!;
        return (last, waiting, stream, oldest);
    }

    [Fact]
    public async Task Five_kill_9_during_a_backlog_drain_and_an_aggregator_restart_store_every_committed_reading_once()
    {
        // The backlog: 20,000 readings stamped over the last ~8 minutes, as if the link had been down (4 channels).
        Directory.CreateDirectory(Path.GetDirectoryName(OutboxPath)!);
        var t0 = TimeProvider.System.GetUtcNow().AddMinutes(-9);
        string stream;
        using (var outbox = new SqliteOutbox(OutboxPath))
        {
            for (var start = 0; start < Backlog; start += 1000)
            {
                outbox.Append(Enumerable.Range(start, 1000).Select(i =>
                    new Reading(Channels[i % 4].Channel, t0.AddMilliseconds(25.0 * i), 10 + (i % 97), Channels[i % 4].Unit, Quality.Good)).ToArray());
            }

            stream = outbox.StreamId;
        }

        await File.WriteAllTextAsync(_dir.File("gateway.json"), $$"""
            {
              "Gateway": {
                "Id": "{{GatewayId}}",
                "DataDirectory": "{{_dir.Path}}/gateway",
                "Mqtt": { "Host": "127.0.0.1", "Port": {{_aggregator.MqttPort}}, "BatchSize": 50, "MaxInFlight": 8,
                          "BackfillReadingsPerSecond": 800,
                          "ReconnectDelayMin": "00:00:00.1", "ReconnectDelayMax": "00:00:00.5" },
                "Modbus": {
                  "Links": [ { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{_station.TcpEndPoint!.Port}} } ],
                  "Devices": [ { "Id": "env1", "Link": "station", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.1" } ]
                }
              }
            }
            """);

        // The aggregator is down while the gateway starts: live readings join the backlog.
        await _aggregator.StopAsync();
        await StartGatewayAsync();
        await Eventually.True(() => File.Exists(OutboxPath) && Snapshot().Last >= Backlog + 40, TimeSpan.FromSeconds(30),
            "the gateway to sample into its outbox while the aggregator is down");
        await _aggregator.StartAgainAsync();

        // Chaos, about 20 s: five SIGKILLs at random moments (the drain is under way from the first one), one
        // aggregator stop/start between the second and third. The seed is logged so a failure can be replayed.
        var seed = Environment.TickCount;
        var random = new Random(seed);
        _log.WriteLine($"seed {seed}");
        var waitingAtKill = new List<long>();
        for (var kill = 1; kill <= 5; kill++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1000, 3500)));
            waitingAtKill.Add(Snapshot().Waiting);
            await KillGatewayAsync();
            if (kill == 2)
            {
                await StartGatewayAsync();
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1500, 2500)));
                await _aggregator.StopAsync();
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1000)));
                await _aggregator.StartAgainAsync();
                continue;
            }

            await StartGatewayAsync();
        }

        _log.WriteLine($"waiting at each kill: {string.Join(", ", waitingAtKill)}");
        Assert.True(waitingAtKill.Count(w => w > 0) >= 3, $"most kills hit a drain in progress ({string.Join(", ", waitingAtKill)})");

        // The gateway keeps sampling, and an acknowledged row is deleted by the next append's transaction (one commit
        // per cycle), so the file never shows an empty table: "drained" is every sequence numbered by now deleted from
        // the file, i.e. acknowledged after its PUBACK, i.e. committed at the aggregator.
        var highest = Snapshot().Last;
        await Eventually.True(() =>
        {
            Assert.False(_gateway!.HasExited, $"the gateway exited:\n{_gateway.Output}");
            return Snapshot().Oldest > highest;
        }, TimeSpan.FromSeconds(40), "the outbox to drain after the last kill");
        Assert.Equal(stream, Snapshot().Stream); // kill -9 never quarantined the file nor started a new stream

        var stored = Channels.SelectMany(c => _aggregator.Store.History(GatewayId, c.Channel)).Select(h => h.Sequence)
            .Where(s => s <= highest).ToList();
        _log.WriteLine($"highest {highest}, stored {stored.Count}, distinct {stored.Distinct().Count()}");
        Assert.True(highest > Backlog + 40);
        Assert.Equal(stored.Count, stored.Distinct().Count());
        var missing = Enumerable.Range(1, (int)highest).Select(i => (long)i).Except(stored).Take(10).ToList();
        Assert.True(missing.Count == 0, $"sequences acknowledged by the gateway but not stored: {string.Join(", ", missing)}...");
        Assert.Equal(highest, stored.Count);
    }
}
