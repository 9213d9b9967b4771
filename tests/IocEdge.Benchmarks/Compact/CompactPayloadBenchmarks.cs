using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Benchmarks.Compact;

/// <summary>
/// The compact payload (contract §8) against the JSON payload and gzip-compressed JSON of the same batch, measured in
/// the same run: the typical 100-channel station batch (<see cref="StationBatch"/>: 100 channels × 1 Hz × 10 s =
/// 1 000 readings). One operation = one message. The "B/reading" column is the payload size on the wire / 1 000.
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks -- --filter '*CompactPayloadBenchmarks*'
/// </summary>
[Config(typeof(CompactConfig))]
public class CompactPayloadBenchmarks
{
    private ReadingBatch _batch = null!;
    private CompactBatch _compactBatch = null!;
    private CompactChannel[] _channels = [];
    private int[] _channelOf = [];
    private byte[] _json = [];
    private byte[] _gzip = [];
    private byte[] _compact = [];
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly CompactWriter _writer = new(128);

    [GlobalSetup]
    public void Setup()
    {
        _batch = StationBatch.Build();
        _compactBatch = ReadingBatchCompact.ToCompact(_batch);
        _json = ReadingBatchJson.Encode(_batch);
        _gzip = Gzip(_json);
        _compact = CompactCodec.Encode(_compactBatch);
        var names = _batch.Readings.Select(r => (r.Reading.Channel, r.Reading.Unit)).Distinct().ToList();
        _channels = names.Select(n => new CompactChannel(n.Channel, n.Unit, _compactBatch.Readings
            .Where(r => r.Channel == n.Channel && r.Value is not null).Select(r => Math.Max(0, CompactFormat.MinimalDecimals(r.Value!.Value))).DefaultIfEmpty(0).Max())).ToArray();
        _channelOf = _batch.Readings.Select(r => names.IndexOf((r.Reading.Channel, r.Reading.Unit))).ToArray();
        SizeColumn.Sizes[nameof(JsonEncode)] = _json.Length;
        SizeColumn.Sizes[nameof(JsonDecode)] = _json.Length;
        SizeColumn.Sizes[nameof(GzipEncode)] = _gzip.Length;
        SizeColumn.Sizes[nameof(GzipDecode)] = _gzip.Length;
        SizeColumn.Sizes[nameof(CompactEncode)] = _compact.Length;
        SizeColumn.Sizes[nameof(CompactWrite)] = _compact.Length;
        SizeColumn.Sizes[nameof(CompactDecode)] = _compact.Length;
    }

    [Benchmark(Baseline = true, Description = "JSON encode (baseline)")]
    [BenchmarkCategory("encode")]
    public int JsonEncode() => ReadingBatchJson.Encode(_batch).Length;

    [Benchmark(Description = "JSON encode + gzip")]
    [BenchmarkCategory("encode")]
    public int GzipEncode() => Gzip(ReadingBatchJson.Encode(_batch)).Length;

    [Benchmark(Description = "compact encode (CompactCodec.Encode)")]
    [BenchmarkCategory("encode")]
    public int CompactEncode() => CompactCodec.Encode(ReadingBatchCompact.ToCompact(_batch)).Length;

    [Benchmark(Description = "compact encode (CompactWriter, caller's buffer)")]
    [BenchmarkCategory("encode")]
    public int CompactWrite()
    {
        _writer.Begin(_buffer, 0, _buffer.Length, _compactBatch.StreamId, 0, _channels);
        var readings = _compactBatch.Readings;
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            _ = r.Value is { } v
                ? _writer.TryAdd(r.Sequence, _channelOf[i], r.TimestampMs, v, r.Quality)
                : _writer.TryAddWithoutValue(r.Sequence, _channelOf[i], r.TimestampMs, r.Quality);
        }

        return _writer.Finish();
    }

    [Benchmark(Baseline = true, Description = "JSON decode")]
    [BenchmarkCategory("decode")]
    public int JsonDecode() => ReadingBatchJson.TryDecode(_json, _batch.GatewayId, out var b, out _) ? b!.Readings.Count : 0;

    [Benchmark(Description = "gunzip + JSON decode")]
    [BenchmarkCategory("decode")]
    public int GzipDecode()
    {
        using var input = new GZipStream(new MemoryStream(_gzip), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return ReadingBatchJson.TryDecode(output.GetBuffer().AsSpan(0, (int)output.Length), _batch.GatewayId, out var b, out _) ? b!.Readings.Count : 0;
    }

    [Benchmark(Description = "compact decode")]
    [BenchmarkCategory("decode")]
    public int CompactDecode() => ReadingBatchCompact.ToReadingBatch(_batch.GatewayId, CompactCodec.Decode(_compact)).Readings.Count;

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Payload bytes per reading of what each benchmark writes or reads.</summary>
    private sealed class SizeColumn : IColumn
    {
        public static readonly Dictionary<string, int> Sizes = [];

        public string Id => "BytesPerReading";
        public string ColumnName => "B/reading";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "payload bytes on the wire / 1 000 readings";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            Sizes.TryGetValue(benchmarkCase.Descriptor.WorkloadMethod.Name, out var bytes)
                ? (bytes / 1000.0).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)
                : "?";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
    }

    private sealed class CompactConfig : ManualConfig
    {
        public CompactConfig()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
            AddDiagnoser(MemoryDiagnoser.Default);
            AddColumn(StatisticColumn.Median, new SizeColumn());
            AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }
}
