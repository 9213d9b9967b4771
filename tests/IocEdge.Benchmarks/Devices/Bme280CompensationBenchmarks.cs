using BenchmarkDotNet.Attributes;
using IocEdge.Benchmarks.Modbus;
using IocEdge.Devices;

namespace IocEdge.Benchmarks.Devices;

/// <summary>
/// BME280 compensation of one measurement (T int32, P int64, H int32; datasheet section 4.2.3) with the worked-example
/// trimming, against a baseline that only unpacks the three raw words from the 8-byte data burst.
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks --artifacts-path /tmp/art-b -- --filter '*Bme280CompensationBenchmarks*'
/// </summary>
[Config(typeof(CodecBenchmarkConfig))]
public class Bme280CompensationBenchmarks
{
    private readonly Bme280Calibration _calibration = new(27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500,
        -14600, 6000, 75, 362, 0, 313, 50, 30);

    // press 415148, temp 519888, hum 30000 as they sit in registers 0xF7-0xFE.
    private readonly byte[] _burst = [0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30];

    [Benchmark(Baseline = true, Description = "unpack raw words (baseline)")]
    public int Unpack()
    {
        var b = _burst;
        var adcP = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4);
        var adcT = (b[3] << 12) | (b[4] << 4) | (b[5] >> 4);
        var adcH = (b[6] << 8) | b[7];
        return adcP ^ adcT ^ adcH;
    }

    [Benchmark(Description = "unpack + compensate T, P, H")]
    public double Compensate()
    {
        var b = _burst;
        var adcP = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4);
        var adcT = (b[3] << 12) | (b[4] << 4) | (b[5] >> 4);
        var adcH = (b[6] << 8) | b[7];
        var t = _calibration.CompensateTemperature(adcT, out var tFine);
        var p = _calibration.CompensatePressure(adcP, tFine);
        var h = _calibration.CompensateHumidity(adcH, tFine);
        return t + (p / 256.0) + (h / 1024.0);
    }
}
