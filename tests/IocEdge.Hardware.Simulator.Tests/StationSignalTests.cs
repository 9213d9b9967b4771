using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>Signals on a FakeTimeProvider: daily cycle, determinism, noise bounds, clamping, counters, stuck, drift.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class StationSignalTests
{
    [Fact]
    public async Task The_daily_cycle_peaks_at_the_local_peak_hour_and_bottoms_twelve_hours_later()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon); // 14:00 in Ho Chi Minh City
        await using var sim = await TestProfiles.StartAsync(time, instruments: (TestProfiles.Single(mean: 30, amplitude: 4, peakHour: 14), 1));

        Assert.Equal(34, sim.CurrentValue(1, "t"), 4);
        Assert.Equal(70 + 15 * Math.Cos(2 * Math.PI * (14 - 5) / 24.0), sim.CurrentValue(1, "rh"), 3);

        time.Advance(TimeSpan.FromHours(6)); // 20:00 local
        Assert.Equal(30, sim.CurrentValue(1, "t"), 4);

        time.Advance(TimeSpan.FromHours(6)); // 02:00 local: trough
        Assert.Equal(26, sim.CurrentValue(1, "t"), 4);

        time.Advance(TimeSpan.FromHours(12)); // a day later: the same peak
        Assert.Equal(34, sim.CurrentValue(1, "t"), 4);
    }

    [Fact]
    public async Task The_cycle_follows_local_time_UTC_plus_7_by_default()
    {
        // 14:00 UTC is 21:00 in Vietnam, not the 14:00 peak.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 14, 0, 0, TimeSpan.Zero));
        await using var sim = await TestProfiles.StartAsync(time, instruments: (TestProfiles.Single(mean: 30, amplitude: 4, peakHour: 14), 1));

        Assert.Equal(30 + 4 * Math.Cos(2 * Math.PI * 7 / 24.0), sim.CurrentValue(1, "t"), 4);
    }

    [Fact]
    public async Task Values_move_only_when_the_test_advances_time()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await TestProfiles.StartAsync(time, TimeSpan.FromSeconds(1),
            instruments: (TestProfiles.Single(noise: 2), 1));
        var first = sim.CurrentValue(1, "t");

        await Task.Delay(50); // real time passes; the fake clock does not
        Assert.Equal(first, sim.CurrentValue(1, "t"));
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(first, sim.CurrentValue(1, "t"));

        time.Advance(TimeSpan.FromMilliseconds(1)); // the 1 s timer fires
        Assert.NotEqual(first, sim.CurrentValue(1, "t"));
    }

    [Fact]
    public async Task One_seed_serves_one_series_and_another_seed_another()
    {
        var catalog = ProfileCatalog.LoadBuiltIn();
        var instruments = catalog.Profiles.Select((p, i) => (p, (byte)(i + 1))).ToArray();
        var t1 = new FakeTimeProvider(TestProfiles.Afternoon);
        var t2 = new FakeTimeProvider(TestProfiles.Afternoon);
        var t3 = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var a = await TestProfiles.StartAsync(t1, seed: 42, instruments: instruments);
        await using var b = await TestProfiles.StartAsync(t2, seed: 42, instruments: instruments);
        await using var c = await TestProfiles.StartAsync(t3, seed: 7, instruments: instruments);

        var differs = 0;
        for (var step = 0; step < 12; step++)
        {
            foreach (var (profile, unit) in instruments)
            {
                foreach (var point in profile.Points.Where(p => p.Type != ModbusDataType.String))
                {
                    Assert.Equal(a.CurrentValue(unit, point.Name), b.CurrentValue(unit, point.Name));
                    differs += a.CurrentValue(unit, point.Name) != c.CurrentValue(unit, point.Name) ? 1 : 0;
                }
            }

            foreach (var t in new[] { t1, t2, t3 })
            {
                t.Advance(TimeSpan.FromMinutes(50));
            }
        }

        Assert.True(differs > 100, $"only {differs} values differ between seeds 42 and 7");
    }

    [Fact]
    public void Noise_stays_within_its_bound_and_moves_smoothly()
    {
        var samples = Enumerable.Range(0, 20_000)
            .Select(i => StationSignal.Noise(3, 1, "pm2_5", TestProfiles.Afternoon.AddSeconds(i)))
            .ToArray();

        Assert.All(samples, s => Assert.InRange(s, -1.0, 1.0));
        // Linear between knots 30 s apart: one second moves it by at most 2/30.
        Assert.All(samples.Zip(samples.Skip(1)), pair => Assert.True(Math.Abs(pair.Second - pair.First) <= 2.0 / 30 + 1e-12));
        var mean = samples.Average();
        var sd = Math.Sqrt(samples.Average(s => (s - mean) * (s - mean)));
        Assert.InRange(mean, -0.2, 0.2);
        Assert.True(sd > 0.3, $"noise standard deviation {sd} is too small to be noise");
    }

    [Fact]
    public async Task Values_are_clamped_to_the_plausible_range()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await TestProfiles.StartAsync(time,
            instruments: (TestProfiles.Single(mean: 95, amplitude: 10, peakHour: 14, noise: 3, min: 0, max: 100), 1));

        Assert.Equal(100, sim.CurrentValue(1, "t"));
        for (var i = 0; i < 48; i++)
        {
            time.Advance(TimeSpan.FromMinutes(30));
            Assert.InRange(sim.CurrentValue(1, "t"), 0, 100);
        }
    }

    [Fact]
    public async Task Integer_points_serve_what_a_master_decodes_after_scaling()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon.AddMinutes(17));
        var station = ProfileCatalog.LoadBuiltIn().Get("env-station");
        await using var sim = await TestProfiles.StartAsync(time, instruments: (station, 1));

        foreach (var point in station.Points)
        {
            var value = sim.CurrentValue(1, point.Name);
            var registers = sim.GetDataStore(1).GetHoldingRegisters((ushort)point.Address, 1);
            Assert.Equal(TestProfiles.Decode(point, registers), value, 9);
            Assert.Equal(Math.Round(value * 10), value * 10, 6); // quantised to 0.1
        }
    }

    [Fact]
    public async Task Counters_grow_at_their_rate_from_the_start()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        var weather = ProfileCatalog.LoadBuiltIn().Get("weather-station");
        await using var sim = await TestProfiles.StartAsync(time, instruments: (weather, 2));
        Assert.Equal(0, sim.CurrentValue(2, "precipitation_total"));

        time.Advance(TimeSpan.FromHours(10));

        Assert.Equal(4.0, sim.CurrentValue(2, "precipitation_total"), 6);
        Assert.Equal(4.0, sim.CurrentValue(2, "precipitation_total_fine"), 6);
    }

    [Fact]
    public async Task A_stuck_point_freezes_while_the_others_move_and_resumes_when_cleared()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await TestProfiles.StartAsync(time, instruments: (TestProfiles.Single(noise: 1), 1));
        time.Advance(TimeSpan.FromMinutes(10));
        var frozen = sim.CurrentValue(1, "t");
        var rh = sim.CurrentValue(1, "rh");

        sim.SetFault(SimulatorFault.Stuck(1, "t"));
        time.Advance(TimeSpan.FromHours(5));

        Assert.Equal(frozen, sim.CurrentValue(1, "t"));
        Assert.NotEqual(rh, sim.CurrentValue(1, "rh"));

        sim.ClearFaults(1);
        sim.Update();
        Assert.NotEqual(frozen, sim.CurrentValue(1, "t"));
    }

    [Fact]
    public async Task A_drift_adds_its_rate_per_hour_from_when_it_began()
    {
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await TestProfiles.StartAsync(time, instruments: (TestProfiles.Single(mean: 30, amplitude: 0), 1));
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(30, sim.CurrentValue(1, "t"), 5);

        sim.SetFault(SimulatorFault.Drifting(1, perHour: 2.0, point: "t"));
        time.Advance(TimeSpan.FromHours(3));

        Assert.Equal(36, sim.CurrentValue(1, "t"), 4);
        Assert.Equal(70 + 15 * Math.Cos(2 * Math.PI * (18 - 5) / 24.0), sim.CurrentValue(1, "rh"), 3); // untouched
    }

    [Fact]
    public async Task Bad_options_are_refused_with_the_option_and_the_fix()
    {
        var profile = TestProfiles.Single();
        var time = new FakeTimeProvider(TestProfiles.Afternoon);

        var duplicate = await Assert.ThrowsAsync<ArgumentException>(() => TestProfiles.StartAsync(time, instruments: [(profile, 1), (profile, 1)]));
        Assert.Contains("own unit id", duplicate.Message, StringComparison.Ordinal);

        // 248-254 are reserved (MODBUS over Serial Line V1.02, 2.2); 0 and 255 are a TCP device's own address (field faults).
        var reserved = await Assert.ThrowsAsync<ArgumentException>(() => TestProfiles.StartAsync(time, instruments: (profile, 250)));
        Assert.Contains("1-247", reserved.Message, StringComparison.Ordinal);

        var noTransport = await Assert.ThrowsAsync<ArgumentException>(() => StationSimulator.StartAsync(
            new StationSimulatorOptions { Instruments = { new SimulatedInstrument(profile, 1) } }, time));
        Assert.Contains("127.0.0.1:1502", noTransport.Message, StringComparison.Ordinal);

        await using var sim = await TestProfiles.StartAsync(time, instruments: (profile, 1));
        var unknownPoint = Assert.Throws<ArgumentException>(() => sim.SetFault(SimulatorFault.Stuck(1, "pm25")));
        Assert.Contains("rh", unknownPoint.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => sim.SetFault(SimulatorFault.NoAnswer(9)));
        Assert.Throws<KeyNotFoundException>(() => sim.CurrentValue(1, "nope"));
    }

    [Fact]
    public async Task An_invalid_profile_built_in_code_is_refused_at_start()
    {
        var bad = new InstrumentProfile
        {
            Id = "bad",
            Name = "Bad",
            Source = "invented",
            Points = [new ProfilePoint { Name = "x", Quantity = "x", Unit = "furlong", Address = 0, Min = 0, Max = 1 }],
        };

        var ex = await Assert.ThrowsAsync<ProfileValidationException>(() =>
            TestProfiles.StartAsync(new FakeTimeProvider(TestProfiles.Afternoon), instruments: (bad, 1)));
        Assert.Equal("$.points[0].unit", Assert.Single(ex.Problems).Path);
    }
}
