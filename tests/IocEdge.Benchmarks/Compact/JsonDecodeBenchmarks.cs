using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Benchmarks.Compact;

/// <summary>
/// The aggregator's decode of one <c>iocedge/v1/{gateway}/readings</c> JSON message (contract §4,
/// <see cref="ReadingBatchJson.TryDecode"/>: decode + validate + pooled channel ids and units) against a bare
/// <see cref="Utf8JsonReader"/> scan of the same bytes measured in the same run (every token read, no value taken): what
/// the contract's decode costs above reading the JSON at all. The payload is the typical 100-channel station batch
/// (<see cref="StationBatch"/>: 1 000 readings, 121 bytes a reading) as a gateway encodes it. One operation = one
/// message. Run: dotnet run -c Release --project tests/IocEdge.Benchmarks -- --filter '*JsonDecodeBenchmarks*'
/// (in process, 5 warm-ups and 20 iterations: more than ShortRun's 3, because on the shared 2-core machine a neighbour's
/// burst moves a 3-iteration median by 2x).
/// </summary>
[Config(typeof(JsonDecodeConfig))]
public class JsonDecodeBenchmarks
{
    private byte[] _json = [];
    private string _gatewayId = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        var batch = StationBatch.Build();
        _json = ReadingBatchJson.Encode(batch);
        _gatewayId = batch.GatewayId;
        if (!ReadingBatchJson.TryDecode(_json, _gatewayId, out var back, out var error) || back!.Readings.Count != batch.Readings.Count)
        {
            throw new InvalidOperationException($"The station batch does not decode: {error}");
        }
    }

    [Benchmark(Baseline = true, Description = "Utf8JsonReader token scan (baseline)")]
    public int Scan()
    {
        var reader = new Utf8JsonReader(_json, new JsonReaderOptions { MaxDepth = 8 });
        var tokens = 0;
        while (reader.Read())
        {
            tokens++;
        }

        return tokens;
    }

    [Benchmark(Description = "ReadingBatchJson.TryDecode")]
    public int Decode() => ReadingBatchJson.TryDecode(_json, _gatewayId, out var b, out _) ? b!.Readings.Count : 0;

    private sealed class JsonDecodeConfig : ManualConfig
    {
        public JsonDecodeConfig()
        {
            AddJob(Job.ShortRun.WithWarmupCount(5).WithIterationCount(20).WithToolchain(InProcessEmitToolchain.Instance));
            AddDiagnoser(MemoryDiagnoser.Default);
            AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }
}
