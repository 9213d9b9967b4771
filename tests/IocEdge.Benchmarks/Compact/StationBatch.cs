using IocEdge.Protocols.Mqtt;

namespace IocEdge.Benchmarks.Compact;

/// <summary>
/// A typical 100-channel batch for the bytes-per-reading comparison (issue 14): 100 channels × 1 Hz × 10 s = 1 000
/// readings, built from the repository's instrument profiles (devices/IocEdge.Devices.Profiles/profiles): 5
/// env-stations (4 points, 0.1 resolution), 3 gas analysers (9 points: ppb integers, 0.1 PM/temperature/pressure),
/// 2 water sondes (6 Float32 points, 2 bits), 3 weather stations (10 points, 0.1 and 0.001 resolution) and 7 door/flood
/// inputs (state 0/1). Values: each profile's simulation mean plus its noise as an independent Gaussian per sample
/// (harsher than a real signal, which drifts), quantised as the gateway does: an integer register × scale rounded to
/// the scale's places, a Float32 register widened to double and rounded to 15 places (ModbusLinkSource.Decimals).
/// Each device's points share the timestamp of its block read; devices are read 40 ms apart with 0-3 ms of jitter.
/// The third gas analyser does not answer for 2 s (comm_failure), one air temperature reads a sentinel (invalid) and
/// one humidity is out of range. Deterministic (seeded).
/// </summary>
public static class StationBatch
{
    /// <summary>2026-11-22T03:15:00Z.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 3, 15, 0, TimeSpan.Zero);

    private sealed record Point(string Name, string Unit, double Scale, double Mean, double Noise, bool Float = false, bool Bit = false);

    private static readonly Point[] EnvStation =
    [
        new("pm2_5", "ug/m3", 0.1, 45, 4), new("pm10", "ug/m3", 0.1, 75, 6), new("temperature", "degC", 0.1, 29.5, 0.3),
        new("humidity", "%RH", 0.1, 78, 1.5),
    ];

    private static readonly Point[] GasAnalyser =
    [
        new("no2", "ppb", 1, 25, 4), new("so2", "ppb", 1, 6, 1.5), new("co", "ppb", 1, 900, 60), new("o3", "ppb", 1, 30, 4),
        new("pm2_5", "ug/m3", 0.1, 45, 4), new("pm10", "ug/m3", 0.1, 75, 6), new("air_temperature", "degC", 0.1, 29.5, 0.3),
        new("relative_humidity", "%RH", 0.1, 78, 1.5), new("air_pressure", "hPa", 0.1, 1008, 0.3),
    ];

    private static readonly Point[] WaterSonde =
    [
        new("ph", "pH", 0, 7.2, 0.03, Float: true), new("dissolved_oxygen", "mg/L", 0, 5.5, 0.2, Float: true),
        new("conductivity", "uS/cm", 0, 450, 10, Float: true), new("turbidity", "NTU", 0, 25, 3, Float: true),
        new("water_temperature", "degC", 0, 29, 0.1, Float: true), new("do_saturation", "%sat", 0, 72, 2, Float: true),
        new("sensor_fault", "1", 1, 0, 0, Bit: true), new("wiper_active", "1", 1, 0.2, 0.4, Bit: true),
    ];

    private static readonly Point[] WeatherStation =
    [
        new("wind_speed", "m/s", 0.1, 2.5, 0.8), new("wind_direction", "deg", 0.1, 150, 20), new("air_temperature", "degC", 0.1, 29, 0.3),
        new("relative_humidity", "%RH", 0.1, 78, 1.5), new("dew_point", "degC", 0.1, 24.5, 0.3), new("air_pressure", "hPa", 0.1, 1008, 0.3),
        new("precipitation_total", "mm", 0.1, 12.4, 0), new("precipitation_total_fine", "mm", 0.001, 12.437, 0.0005),
        new("precipitation_intensity", "mm/min", 0.001, 0.006, 0.004), new("global_radiation", "W/m2", 0.1, 250, 30),
    ];

    private static readonly Point[] DoorInput = [new("door", "state", 1, 0.05, 0, Bit: true)];
    private static readonly Point[] FloodInput = [new("flood", "state", 1, 0, 0, Bit: true)];

    /// <summary>(device id, its points) in read order: 100 channels.</summary>
    private static IEnumerable<(string Device, Point[] Points)> Devices() =>
        Enumerable.Range(1, 5).Select(i => ($"env{i}", EnvStation))
            .Concat(Enumerable.Range(1, 3).Select(i => ($"gas{i}", GasAnalyser)))
            .Concat(Enumerable.Range(1, 2).Select(i => ($"wq{i}", WaterSonde)))
            .Concat(Enumerable.Range(1, 3).Select(i => ($"met{i}", WeatherStation)))
            .Concat(Enumerable.Range(1, 5).Select(i => ($"pole{i}", DoorInput)))
            .Concat(Enumerable.Range(1, 2).Select(i => ($"drain{i}", FloodInput)));

    /// <summary>Number of distinct channels in <see cref="Build"/>'s batch.</summary>
    public static int Channels => Devices().Sum(d => d.Points.Length);

    /// <summary>The batch: <paramref name="seconds"/> × 100 readings, sequence numbers from <paramref name="firstSeq"/>.</summary>
    public static ReadingBatch Build(int seconds = 10, long firstSeq = 1_000_001, int seed = 14)
    {
        var random = new Random(seed);
        var readings = new List<SequencedReading>(seconds * 100);
        var seq = firstSeq;
        var devices = Devices().ToArray();
        for (var s = 0; s < seconds; s++)
        {
            for (var d = 0; d < devices.Length; d++)
            {
                var (device, points) = devices[d];
                var ts = Start.AddMilliseconds((s * 1000) + (d * 40) + random.Next(0, 4));
                var silent = device == "gas3" && s is 4 or 5;
                foreach (var p in points)
                {
                    var channel = $"{device}/{p.Name}";
                    Reading r;
                    if (silent)
                    {
                        r = new Reading(channel, ts, null, p.Unit, Quality.CommFailure);
                    }
                    else if (channel == "met2/air_temperature" && s == 7)
                    {
                        r = new Reading(channel, ts, null, p.Unit, Quality.Invalid); // 0x8000 sentinel (§4.2)
                    }
                    else
                    {
                        var v = Sample(random, p);
                        var quality = channel == "env3/humidity" && s == 2 ? Quality.OutOfRange : Quality.Good;
                        r = new Reading(channel, ts, quality == Quality.OutOfRange ? 3276.7 : v, p.Unit, quality);
                    }

                    readings.Add(new SequencedReading(seq++, r));
                }
            }
        }

        return new ReadingBatch("gw-thuda-mot-07", "k8f2q0w5m1c3", readings);
    }

    private static double Sample(Random random, Point p)
    {
        var gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var x = p.Mean + (p.Noise * gauss);
        if (p.Bit)
        {
            return x >= 0.5 || (p.Noise > 0 && random.NextDouble() < p.Mean) ? 1 : 0;
        }

        if (p.Float)
        {
            return Math.Round((double)(float)x, 15);
        }

        var places = p.Scale switch { 1 => 0, 0.1 => 1, _ => 3 };
        var raw = Math.Round(Math.Max(0, x) / p.Scale);
        return Math.Round(raw * p.Scale, places);
    }
}
