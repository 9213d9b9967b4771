using System.Collections.Concurrent;
using System.Net;
using IocEdge.Aggregator.Ingest;
using IocEdge.Devices.Profiles;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Hardware.Simulator;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace IocEdge.EndToEnd.Tests;

/// <summary>
/// Issue 14, "Clock": readings taken before the clock was trusted are corrected when sync arrives in the same boot, or
/// flagged for the aggregator (contract §4.4). The real forwarder sends a real outbox to the real aggregator, in JSON
/// and with the compact payload (whose flagged readings go as JSON, §4.4).
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class ClockUntrustedWireTests : IAsyncLifetime
{
    private const string Gateway = "gw-clock";
    private const string Channel = "env1/pm2_5";
    private readonly TempDirectory _dir = new("e2e-clock");
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "aggregator"));

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(MqttPayload.Json)]
    [InlineData(MqttPayload.Compact)]
    public async Task Uncorrectable_readings_arrive_flagged_never_latest_and_corrected_ones_arrive_unflagged_with_corrected_ts(MqttPayload payload)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var path = Path.Combine(_dir.Path, "gateway", "outbox.db");
        var options = new OutboxOptions { MaxAge = TimeSpan.Zero, MinFreeBytes = 0 };

        // Boot a: an RTC running 2 minutes fast, no NTP before the power cut. Plausible to §4.3 (within MaxFuture), and
        // newer than anything else: without the mark these would become the channel's latest value.
        var time = new StepClock { Wall = now.AddMinutes(2), MonotonicMs = 1_000 };
        using (var bootA = new SqliteOutbox(path, options, time, new Sync { BootId = "boot-a" }))
        {
            bootA.Append([.. Enumerable.Range(0, 3).Select(i => new Reading(Channel, time.Wall.AddSeconds(i), 100 + i, "ug/m3", Quality.Good))]);
        }

        // Boot b: the clock starts an hour behind; two readings; then NTP syncs 5 s (monotonic) later.
        var sync = new Sync { BootId = "boot-b" };
        var wrong = now.AddHours(-1);
        time.Wall = wrong;
        using var outbox = new SqliteOutbox(path, options, time, sync);
        outbox.Append([new Reading(Channel, wrong, 4, "ug/m3", Quality.Good), new Reading(Channel, wrong.AddSeconds(1), 5, "ug/m3", Quality.Good)]);
        time.MonotonicMs += 5_000;
        time.Wall = now;
        sync.IsSynchronized = true;
        outbox.Append([new Reading(Channel, now, 6, "ug/m3", Quality.Good)]); // corrects seq 4 and 5

        using var forwarder = new MqttForwarder(Options.Create(new GatewayOptions
        {
            Id = Gateway,
            DataDirectory = Path.GetDirectoryName(path)!,
            Mqtt = new GatewayMqttOptions
            {
                Host = "127.0.0.1",
                Port = _aggregator.MqttPort,
                Payload = payload,
                ReconnectDelayMin = TimeSpan.FromMilliseconds(50),
                ReconnectDelayMax = TimeSpan.FromMilliseconds(200),
            },
        }), outbox, TimeProvider.System, NullLogger<MqttForwarder>.Instance);
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => outbox.Count == 0 && _aggregator.Store.Count() == 6, TimeSpan.FromSeconds(20), "the six readings to be stored");
        await forwarder.StopAsync(CancellationToken.None);

        var stored = _aggregator.Store.Readings(Gateway, Channel, 10).OrderBy(r => r.Sequence).ToList();
        Assert.Equal([1L, 2, 3, 4, 5, 6], stored.Select(r => r.Sequence));
        Assert.All(stored.Take(3), r => Assert.Equal(TimestampStatus.ClockUntrusted, r.TimestampStatus));
        Assert.Equal(now.AddMinutes(2), stored[0].Timestamp); // kept as taken: the offset is unknown
        Assert.All(stored.Skip(3), r => Assert.Equal(TimestampStatus.Ok, r.TimestampStatus));
        Assert.Equal([now.AddSeconds(-5), now.AddSeconds(-4), now], stored.Skip(3).Select(r => r.Timestamp));

        var latest = Assert.Single(_aggregator.Store.Latest(Gateway), l => l.Channel == Channel);
        Assert.Equal((6L, 6.0), (latest.Sequence, latest.Value!.Value)); // not seq 3, whose ts is 2 minutes newer
        var gw = Assert.Single(_aggregator.Store.Gateways(), g => g.Gateway == Gateway);
        Assert.Equal(3, gw.TimestampsFlagged.ClockUntrusted);
        Assert.Equal(3, _aggregator.Metrics.Flagged(Gateway, TimestampStatus.ClockUntrusted));
    }

    private sealed class StepClock : TimeProvider
    {
        public DateTimeOffset Wall { get; set; }

        public long MonotonicMs { get; set; }

        public override DateTimeOffset GetUtcNow() => Wall;

        public override long GetTimestamp() => MonotonicMs;

        public override long TimestampFrequency => 1000;
    }

    private sealed class Sync : IClockSync
    {
        public bool IsSynchronized { get; set; }

        public required string BootId { get; init; }
    }
}

/// <summary>
/// Issue 14, proof 1, "the broker restarted mid-drain": a real mosquitto (with persistence) between the real gateway
/// and a persistent-session consumer that stores each (stream, seq) once, as the aggregator's primary key does. The
/// broker is stopped by its pid (SIGTERM, as systemd does; it writes its persistence file) in the middle of a
/// 20,000-reading backlog drain and started again on the same port. Every reading the gateway committed must reach the
/// consumer: count = distinct = contiguous per stream, and a reading delivered twice (QoS 1 redelivery) is the same
/// reading both times.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class BrokerRestartMidDrainTests : IAsyncLifetime
{
    private const string GatewayId = "gw-brokerrestart";
    private const int Backlog = 20_000;
    private readonly ITestOutputHelper _log;
    private readonly TempDirectory _dir = new("e2e-brokerrestart");
    private readonly TempDirectory _persist = new("mqpersist"); // directly under /tmp: mosquitto runs as its own user
    private readonly int _port = FreePort.Next();
    private readonly ConcurrentDictionary<(string Stream, long Seq), (string Channel, DateTimeOffset Ts, double? Value)> _store = new();
    private readonly ConcurrentBag<(string Stream, long Seq)> _conflicts = [];
    private int _deliveries;
    private StationSimulator _station = null!;
    private Mosquitto _broker = null!;
    private IMqttClient _consumer = null!;

    public BrokerRestartMidDrainTests(ITestOutputHelper log) => _log = log;

    public async Task InitializeAsync()
    {
        _station = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            Instruments = { new SimulatedInstrument(ProfileCatalog.LoadBuiltIn().Get("env-station"), 1) },
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            Seed = 5,
        });
        _broker = await Mosquitto.StartAsync(_port, _persist.Path);
        _consumer = new MqttClientFactory().CreateMqttClient();
        _consumer.ApplicationMessageReceivedAsync += e =>
        {
            // The consumer's "commit": runs before the client sends the PUBACK (auto-acknowledge after the handler).
            Assert.True(Topics.TryParse(e.ApplicationMessage.Topic, out var gw, out _));
            var bytes = System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload);
            Assert.True(ReadingBatchJson.TryDecode(bytes, gw, out var batch, out var error), error);
            foreach (var (seq, r) in batch!.Readings)
            {
                Interlocked.Increment(ref _deliveries);
                var row = (r.Channel, r.Timestamp, r.Value);
                if (!_store.TryAdd((batch.StreamId, seq), row) && _store[(batch.StreamId, seq)] != row)
                {
                    _conflicts.Add((batch.StreamId, seq)); // one (stream, seq) naming two readings
                }
            }

            return Task.CompletedTask;
        };
        await ConnectConsumerAsync();
        await _consumer.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.AllReadings, MqttQualityOfServiceLevel.AtLeastOnce).Build());
    }

    public async Task DisposeAsync()
    {
        _consumer.Dispose();
        await _broker.DisposeAsync();
        await _station.DisposeAsync();
        _dir.Dispose();
        _persist.Dispose();
    }

    private Task<MqttClientConnectResult> ConnectConsumerAsync() => _consumer.ConnectAsync(new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _port)
        .WithClientId("ioc-ingest")
        .WithProtocolVersion(MqttProtocolVersion.V311)
        .WithCleanSession(false)
        .Build());

    [Fact]
    public async Task A_broker_restarted_mid_drain_delivers_every_committed_reading_once_per_stream()
    {
        var outboxPath = Path.Combine(_dir.Path, "gateway", "outbox.db");
        Directory.CreateDirectory(Path.GetDirectoryName(outboxPath)!);
        var t0 = TimeProvider.System.GetUtcNow().AddMinutes(-10);
        using (var backlog = new SqliteOutbox(outboxPath))
        {
            for (var start = 0; start < Backlog; start += 1000)
            {
                backlog.Append([.. Enumerable.Range(start, 1000).Select(i =>
                    new Reading("env9/pm2_5", t0.AddMilliseconds(25.0 * i), 10 + (i % 97), "ug/m3", Quality.Good))]);
            }
        }

        // Backfill at 4,000 readings/s: the drain lasts about 5 s, live readings (4 channels every 0.1 s) go first.
        await using var gateway = await TestGateway.StartAsync(_dir.File("gateway.json"), $$"""
            {
              "Gateway": {
                "Id": "{{GatewayId}}",
                "DataDirectory": "{{_dir.Path}}/gateway",
                "Mqtt": { "Host": "127.0.0.1", "Port": {{_port}}, "BatchSize": 100, "MaxInFlight": 8,
                          "BackfillReadingsPerSecond": 4000,
                          "ReconnectDelayMin": "00:00:00.1", "ReconnectDelayMax": "00:00:00.5" },
                "Modbus": {
                  "Links": [ { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{_station.TcpEndPoint!.Port}} } ],
                  "Devices": [ { "Id": "env1", "Link": "station", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.1" } ]
                }
              }
            }
            """);
        var outbox = gateway.Outbox;
        await Eventually.True(() => _store.Count >= 4_000, TimeSpan.FromSeconds(20), "the drain to be under way");

        // Mid-drain: stop the broker by its pid, keep it down for a moment, start it again on the same port.
        await _broker.StopGracefullyAsync();
        var waitingAtRestart = outbox.Count;
        await Task.Delay(500);
        await using var restarted = await Mosquitto.StartAsync(_port, _persist.Path);
        await Eventually.True(async () =>
        {
            if (!_consumer.IsConnected)
            {
                await ConnectConsumerAsync();
            }

            return true;
        }, TimeSpan.FromSeconds(10), "the consumer to reconnect to its persistent session");

        long highest = 0;
        try
        {
            await Eventually.True(() =>
            {
                highest = outbox.LastSequence;
                return outbox.Count == 0 && _store.Count >= highest;
            }, TimeSpan.FromSeconds(25), "the drain to finish through the restarted broker");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} outbox={outbox.Count} stored={_store.Count} highest={highest}\n" +
                $"FIRST:\n{_broker.Log}\nRESTARTED:\n{restarted.Log}", ex);
        }

        _log.WriteLine($"waiting at restart {waitingAtRestart}, highest {highest}, deliveries {_deliveries}, stored {_store.Count}");
        Assert.True(waitingAtRestart > 1_000, $"the restart hit a drain in progress ({waitingAtRestart} waiting)");
        var streams = _store.Keys.Select(k => k.Stream).Distinct().ToList();
        Assert.Single(streams); // the restart never started a new stream
        var seqs = _store.Keys.Select(k => k.Seq).Where(s => s <= highest).Order().ToList();
        Assert.Equal(Enumerable.Range(1, (int)highest).Select(i => (long)i), seqs); // count = distinct = contiguous
        Assert.Empty(_conflicts);
    }
}
