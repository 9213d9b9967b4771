using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Hardware.Simulator;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.EndToEnd.Tests;

/// <summary>
/// Issue 2's acceptance: one reading travels station → gateway → aggregator → GET /api/v1/latest, and an aggregator
/// outage loses nothing and duplicates nothing. Every part is the real one: the simulated station is a Modbus TCP slave
/// on loopback, the gateway and aggregator are the hosts their executables run, MQTT and HTTP go over sockets, and both
/// stores are SQLite files on disk.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "foundation")]
public sealed class FoundationTests : IAsyncLifetime
{
    private static readonly string[] Points = ["pm2_5", "pm10", "temperature", "humidity"];
    private readonly TempDirectory _dir = new("e2e");
    // The station's signals move only when the test says so, so "the station's current value" is exact.
    private readonly FakeTimeProvider _stationClock = new(new DateTimeOffset(2026, 11, 22, 1, 0, 0, TimeSpan.Zero));
    private StationSimulator _station = null!;
    private TestAggregator _aggregator = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        var profile = ProfileCatalog.LoadBuiltIn().Get("env-station");
        _station = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            Instruments = { new SimulatedInstrument(profile, 1) },
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            Seed = 7,
        }, _stationClock);
        _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "aggregator"));
        _gateway = await TestGateway.StartAsync(_dir.File("gateway.json"), $$"""
            {
              "Gateway": {
                "Id": "gw-e2e",
                "DataDirectory": "{{_dir.Path}}/gateway",
                "Mqtt": { "Host": "127.0.0.1", "Port": {{_aggregator.MqttPort}}, "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:01" },
                "Modbus": {
                  "Links": [ { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{_station.TcpEndPoint!.Port}} } ],
                  "Devices": [ { "Id": "env1", "Link": "station", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.2" } ]
                }
              }
            }
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _aggregator.DisposeAsync();
        await _station.DisposeAsync();
        _dir.Dispose();
    }

    private async Task WaitUntilLatestShowsStationValuesAsync()
    {
        var expected = Points.ToDictionary(p => "env1/" + p, p => _station.CurrentValue(1, p));
        await Eventually.True(async () =>
        {
            var latest = await _aggregator.LatestAsync("gw-e2e");
            return expected.All(e => latest.TryGetValue(e.Key, out var l) && l.Quality == "good" &&
                                     Math.Abs(l.Value!.Value - e.Value) < 1e-9);
        }, TimeSpan.FromSeconds(20), "GET /api/v1/latest to show the station's current values " +
                                     string.Join(", ", expected.Select(e => $"{e.Key}={e.Value}")));
    }

    [Fact]
    public async Task The_station_current_values_appear_in_latest_and_follow_the_station()
    {
        await WaitUntilLatestShowsStationValuesAsync();
        var before = _station.CurrentValue(1, "temperature");

        _stationClock.Advance(TimeSpan.FromHours(5)); // the daily cycle moves every channel
        _station.Update();

        Assert.NotEqual(before, _station.CurrentValue(1, "temperature"));
        await WaitUntilLatestShowsStationValuesAsync();
        var latest = await _aggregator.LatestAsync("gw-e2e");
        Assert.Equal("ug/m3", latest["env1/pm2_5"].Unit);
        Assert.Equal("degC", latest["env1/temperature"].Unit);
        Assert.Equal("%RH", latest["env1/humidity"].Unit);
    }

    [Fact]
    public async Task Readings_taken_while_the_aggregator_is_down_are_stored_exactly_once_after_it_returns()
    {
        await WaitUntilLatestShowsStationValuesAsync();

        await _aggregator.StopAsync();
        var appendedAtStop = _gateway.Sampling.Appended;
        // The gateway keeps sampling into its outbox: wait for a good few readings taken during the outage.
        await Eventually.True(() => _gateway.Sampling.Appended >= appendedAtStop + 40 && _gateway.Outbox.Count >= 40,
            TimeSpan.FromSeconds(30), "the gateway to buffer readings while the aggregator is down");
        _stationClock.Advance(TimeSpan.FromHours(3));
        _station.Update();
        var takenDuringOutage = _gateway.Sampling.Appended - appendedAtStop;

        await _aggregator.StartAgainAsync();

        // The gateway keeps sampling, so "drained" is a moment: every sequence numbered before the outbox was seen empty
        // was acknowledged, hence committed. (Read the highest sequence first, then see the outbox empty.)
        long highest = 0;
        await Eventually.True(() =>
        {
            highest = _gateway.Outbox.LastSequence;
            return _gateway.Outbox.Count == 0 && _gateway.Forwarder.IsConnected;
        }, TimeSpan.FromSeconds(30), "the outbox to drain after the aggregator returned");
        await WaitUntilLatestShowsStationValuesAsync();

        // Everything the outbox numbered up to that moment is stored, each sequence once (later ones may be in flight).
        var stored = Points.SelectMany(p => _aggregator.Store.History("gw-e2e", "env1/" + p)).Select(h => h.Sequence)
            .Where(s => s <= highest).ToList();
        Assert.True(takenDuringOutage >= 40);
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, (int)highest).Select(i => (long)i), stored.Order());
        Assert.True(highest >= appendedAtStop + takenDuringOutage,
            $"highest stored sequence {highest} covers the {takenDuringOutage} readings taken during the outage");
        Assert.Equal(0, _gateway.Outbox.DeadLetterCount());
    }
}
