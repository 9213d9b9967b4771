using BenchmarkDotNet.Attributes;
using IocEdge.Benchmarks.Modbus;
using IocEdge.Devices;

namespace IocEdge.Benchmarks.Devices;

/// <summary>
/// The particulate sensors' pure frame decoders over a 64 KiB capture: clean PMS5003 frames, the same frames with
/// random line noise (a quarter of the bytes, with false 0x42 start bytes) between them, and clean SDS011 frames.
/// The baseline sums every byte of the clean capture once: the floor any decoder pays to touch the bytes.
/// One sensor sends at most 32 bytes every 200 ms; these figures say how much headroom the gateway has.
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks --artifacts-path /tmp/art-b -- --filter '*UartFrameBenchmarks*'
/// </summary>
[Config(typeof(CodecBenchmarkConfig))]
public class UartFrameBenchmarks
{
    private const int CaptureBytes = 64 * 1024;
    private byte[] _pmsClean = [];
    private byte[] _pmsNoisy = [];
    private byte[] _sdsClean = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var clean = new List<byte>();
        var noisy = new List<byte>();
        while (clean.Count < CaptureBytes)
        {
            var frame = new Pms5003Frame(10, 20, 30, 10, 20, 30, 1000, 300, 100, 10, 2, 1).Encode();
            clean.AddRange(frame);
            var noise = new byte[random.Next(0, 21)];
            random.NextBytes(noise);
            if (noise.Length > 0)
            {
                noise[0] = 0x42;
            }

            noisy.AddRange(noise);
            noisy.AddRange(frame);
        }

        _pmsClean = [.. clean];
        _pmsNoisy = [.. noisy];
        var sds = new List<byte>();
        while (sds.Count < CaptureBytes)
        {
            sds.AddRange(new Sds011Frame(Sds011Frame.MeasurementId, [0xD4, 0x04, 0x3A, 0x0A, 0xA1, 0x60]).Encode());
        }

        _sdsClean = [.. sds];
    }

    [Benchmark(Baseline = true, Description = "sum 64 KiB (baseline)")]
    public int SumBytes()
    {
        var sum = 0;
        foreach (var b in _pmsClean)
        {
            sum += b;
        }

        return sum;
    }

    [Benchmark(Description = "PMS5003 decode 64 KiB clean")]
    public int Pms5003Clean() => DecodeAll<Pms5003Frame>(_pmsClean, Pms5003Frame.Decode);

    [Benchmark(Description = "PMS5003 decode 64 KiB + 25 % noise")]
    public int Pms5003Noisy() => DecodeAll<Pms5003Frame>(_pmsNoisy, Pms5003Frame.Decode);

    [Benchmark(Description = "SDS011 decode 64 KiB clean")]
    public int Sds011Clean() => DecodeAll<Sds011Frame>(_sdsClean, Sds011Frame.Decode);

    private delegate FrameDecodeStatus Decoder<T>(ReadOnlySpan<byte> buffer, out T? frame, out int consumed);

    private static int DecodeAll<T>(byte[] capture, Decoder<T> decode)
    {
        var frames = 0;
        var span = capture.AsSpan();
        while (span.Length > 0)
        {
            var status = decode(span, out _, out var consumed);
            if (status == FrameDecodeStatus.NeedMoreData)
            {
                break;
            }

            if (status == FrameDecodeStatus.Frame)
            {
                frames++;
            }

            span = span[consumed..];
        }

        return frames;
    }
}
