using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Benchmarks.Foundation;

/// <summary>
/// The foundation's ingest path, per 500-reading message (the gateway's default batch): the contract codec against a
/// bare JSON token scan of the same bytes, and the aggregator's exactly-once store (dedupe key, series, latest value,
/// gateway counters, synchronous=FULL) against a bare insert of the same rows into a plain table with the same
/// durability. The ratios say what the contract's validation and the exactly-once bookkeeping cost.
/// </summary>
[Config(typeof(IngestConfig))]
public class IngestBenchmarks
{
    private const int BatchSize = 500;
    private byte[] _payload = [];
    private ReadingBatch _batch = null!;
    private string _dir = string.Empty;
    private ReadingStore _store = null!;
    private ReadingStore _storeNoRollups = null!;
    private SqliteConnection _plain = null!;
    private long _nextSeq = 1;

    [GlobalSetup]
    public void Setup()
    {
        var t = new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
        _batch = new ReadingBatch("gw-bench", "s1", Enumerable.Range(1, BatchSize)
            .Select(i => new SequencedReading(i, new Reading($"env{i % 4}/pm2_5", t.AddSeconds(i), 35.2 + i, "ug/m3", Quality.Good)))
            .ToArray());
        _payload = ReadingBatchJson.Encode(_batch);
        _dir = Directory.CreateTempSubdirectory("iocedge-bench-").FullName;
        _store = new ReadingStore(Path.Combine(_dir, "aggregator.db"), NullLogger<ReadingStore>.Instance);
        _storeNoRollups = new ReadingStore(Path.Combine(_dir, "no-rollups.db"), NullLogger<ReadingStore>.Instance) { RollupsEnabled = false };
        _plain = new SqliteConnection($"Data Source={Path.Combine(_dir, "plain.db")}");
        _plain.Open();
        using var cmd = _plain.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE r(seq INTEGER, channel TEXT, ts INTEGER, value REAL, unit TEXT, quality INTEGER);";
        cmd.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _storeNoRollups.Dispose();
        _plain.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "JSON token scan (baseline)")]
    [BenchmarkCategory("codec")]
    public int ScanJson()
    {
        var reader = new Utf8JsonReader(_payload);
        var tokens = 0;
        while (reader.Read())
        {
            tokens++;
        }

        return tokens;
    }

    [Benchmark(Description = "contract decode + validate")]
    [BenchmarkCategory("codec")]
    public int Decode() => ReadingBatchJson.TryDecode(_payload, "gw-bench", out var b, out _) ? b!.Readings.Count : 0;

    [Benchmark(Description = "contract encode")]
    [BenchmarkCategory("codec")]
    public int Encode() => ReadingBatchJson.Encode(_batch).Length;

    [Benchmark(Description = "plain insert, same rows (baseline)")]
    [BenchmarkCategory("store")]
    public void PlainInsert()
    {
        using var tx = _plain.BeginTransaction();
        using var cmd = _plain.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO r VALUES ($s, $c, $t, $v, $u, $q)";
        var ps = new[] { "$s", "$c", "$t", "$v", "$u", "$q" }.Select(n => cmd.Parameters.Add(new SqliteParameter(n, null))).ToArray();
        foreach (var (seq, r) in _batch.Readings)
        {
            ps[0].Value = _nextSeq++;
            ps[1].Value = r.Channel;
            ps[2].Value = r.Timestamp.ToUnixTimeMilliseconds();
            ps[3].Value = r.Value;
            ps[4].Value = r.Unit;
            ps[5].Value = (int)r.Quality;
            cmd.ExecuteNonQuery();
        }

        tx.Commit();
    }

    [Benchmark(Description = "exactly-once store")]
    [BenchmarkCategory("store")]
    public int Store()
    {
        var first = _nextSeq;
        _nextSeq += BatchSize;
        var fresh = _batch with { Readings = _batch.Readings.Select((r, i) => r with { Sequence = first + i }).ToArray() };
        return _store.Store([fresh], DateTimeOffset.UtcNow)[0].Stored;
    }

    [Benchmark(Description = "exactly-once store, rollups off")]
    [BenchmarkCategory("store")]
    public int StoreWithoutRollups()
    {
        var first = _nextSeq;
        _nextSeq += BatchSize;
        var fresh = _batch with { Readings = _batch.Readings.Select((r, i) => r with { Sequence = first + i }).ToArray() };
        return _storeNoRollups.Store([fresh], DateTimeOffset.UtcNow)[0].Stored;
    }

    private sealed class IngestConfig : ManualConfig
    {
        public IngestConfig()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
            AddDiagnoser(MemoryDiagnoser.Default);
            AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
            AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }
}
