using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Benchmarks.Modbus;

/// <summary>How the station is read in one cycle.</summary>
public enum WireTimeStrategy
{
    /// <summary>The poller with the planner (default gap of 16 registers).</summary>
    Planned,

    /// <summary>One request per value, sent directly through the master.</summary>
    PerValue,
}

/// <summary>
/// One poll cycle of the station map (<see cref="PlannerStationMap"/>) over a 9600 baud 8N1 line simulated on the
/// real clock (<see cref="WireTimeSerialLine"/>): our poller over our RTU master (the Stream-based factory), our
/// server on the other end. The "Minimum" column is the theoretical line time of the same requests in one isolated
/// cycle: <see cref="ModbusRtuWireTime.Minimum"/> (characters of both frames, the slave's turnaround of t3.5 plus its
/// processing, and t3.5 before the next request, per exchange) less the one t3.5 that precedes the cycle's first
/// request, because the line is already idle when a measured cycle starts. "Median/Minimum" is the measured median
/// divided by it. Each cycle is one invocation on the real clock, in process (no child build).
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks -- --filter '*WireTimeBenchmarks*'
/// </summary>
[Config(typeof(WireTimeConfig))]
public class WireTimeBenchmarks
{
    private WireTimeSerialLine? _line;
    private ModbusServer? _server;
    private IModbusMaster? _master;
    private ModbusPoller? _poller;
    private long _cycles;

    [Params(WireTimeStrategy.Planned, WireTimeStrategy.PerValue)]
    public WireTimeStrategy Strategy { get; set; }

    /// <summary>The slave's processing time after t3.5 before it answers.</summary>
    [Params(0, 5)]
    public int SlaveProcessingMs { get; set; }

    [GlobalSetup]
    public async Task SetUp()
    {
        _line = new WireTimeSerialLine(9600, 10, TimeSpan.FromMilliseconds(SlaveProcessingMs));
        var store = new ModbusDataStore();
        WireTimeStation.Fill(store);
        _server = new ModbusServer(new Dictionary<byte, ModbusDataStore> { [PlannerStationMap.Unit] = store });
        // The line keeps the slave's turnaround (t3.5 + processing); the server answers as soon as it has decoded.
        await _server.StartSerialAsync(_line.Slave, ModbusSerialMode.Rtu, line: null);
        _master = ModbusMaster.CreateRtu(_line.Master, new ModbusSerialLineSettings { BaudRate = 9600 });
        var points = PlannerStationMap.Points.Select(p => p with { PollPeriod = TimeSpan.FromMilliseconds(1) });
        _poller = new ModbusPoller(_master, points, new ModbusPollerOptions(), TimeProvider.System);
    }

    [Benchmark]
    public async Task<int> PollCycle()
    {
        _cycles++;
        if (Strategy == WireTimeStrategy.Planned)
        {
            var readings = await _poller!.PollAsync();
            if (readings.Count != PlannerStationMap.Points.Length || readings.Any(r => r.Quality != PointQuality.Good))
            {
                throw new InvalidOperationException("A cycle did not read every point Good; the figures would be meaningless.");
            }

            return readings.Count;
        }

        var read = 0;
        foreach (var r in PlannerStationMap.OneRequestPerValue)
        {
            var values = r.Kind == RegisterKind.InputRegister
                ? await _master!.ReadInputRegistersAsync(PlannerStationMap.Unit, r.Address, r.Count)
                : await _master!.ReadHoldingRegistersAsync(PlannerStationMap.Unit, r.Address, r.Count);
            read += values.Length;
        }

        return read;
    }

    [GlobalCleanup]
    public async Task CleanUp()
    {
        var line = _line!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// WireTime {Strategy} processing {SlaveProcessingMs} ms: {line.BytesToSlave / (double)_cycles:0} bytes to the slave and " +
            $"{line.BytesToMaster / (double)_cycles:0} to the master per cycle; master's silence before a request: " +
            $"median {line.MasterGapMedian.TotalMilliseconds:0.000} ms, shortest {line.MasterGapMinimum.TotalMilliseconds:0.000} ms, " +
            $"{line.MasterGapsShorterThan(ModbusRtuWireTime.T35(9600))} of {line.MasterGapCount} shorter than t3.5 = {ModbusRtuWireTime.T35(9600).TotalMilliseconds:0.000} ms; " +
            $"slave's answer written late by median {line.SlaveLatenessMedian.TotalMilliseconds:0.000} ms."));
        await _master!.DisposeAsync();
        await _server!.DisposeAsync();
    }

    /// <summary>The theoretical minimum of a cycle for a benchmark case's parameters.</summary>
    internal static TimeSpan Minimum(WireTimeStrategy strategy, int processingMs)
    {
        IReadOnlyList<ModbusReadRequest> requests = strategy == WireTimeStrategy.Planned
            ? ModbusPollPlanner.Plan(PlannerStationMap.Ranges, new ModbusPollPlannerOptions()).Requests
            : PlannerStationMap.OneRequestPerValue;
        return ModbusRtuWireTime.Minimum(requests, 9600, TimeSpan.FromMilliseconds(processingMs)) - ModbusRtuWireTime.T35(9600);
    }

    private sealed class WireTimeConfig : ManualConfig
    {
        public WireTimeConfig()
        {
            AddJob(Job.Default
                .WithStrategy(RunStrategy.Monitoring)
                .WithLaunchCount(1)
                .WithWarmupCount(3)
                .WithIterationCount(25)
                .WithInvocationCount(1)
                .WithUnrollFactor(1)
                .WithToolchain(InProcessEmitToolchain.Instance));
            AddColumn(StatisticColumn.Median, new MinimumColumn(ratio: false), new MinimumColumn(ratio: true));
        }
    }

    /// <summary>The theoretical minimum (ms), or the measured median divided by it.</summary>
    private sealed class MinimumColumn(bool ratio) : IColumn
    {
        public string Id => ratio ? "WireTimeRatio" : "WireTimeMinimum";

        public string ColumnName => ratio ? "Median/Minimum" : "Minimum";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => ratio ? 1 : 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => ratio
            ? "Measured median cycle time / theoretical minimum line time"
            : "Theoretical minimum line time of one cycle (ms): frames + turnaround (t3.5 + processing) per exchange + t3.5 between exchanges";

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var strategy = (WireTimeStrategy)benchmarkCase.Parameters[nameof(Strategy)];
            var processing = (int)benchmarkCase.Parameters[nameof(SlaveProcessingMs)];
            var minimum = WireTimeBenchmarks.Minimum(strategy, processing);
            if (!ratio)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{minimum.TotalMilliseconds:0.0} ms");
            }

            var median = summary[benchmarkCase]?.ResultStatistics?.Median;
            return median is null
                ? "-"
                : string.Create(CultureInfo.InvariantCulture, $"{median.Value / 1e6 / minimum.TotalMilliseconds:0.000}");
        }
    }
}

/// <summary>Fills a register file with plausible values for every point of the station map.</summary>
internal static class WireTimeStation
{
    public static void Fill(ModbusDataStore store)
    {
        var registers = new ushort[8];
        var i = 0;
        foreach (var p in PlannerStationMap.Points)
        {
            i++;
            var span = registers.AsSpan(0, p.Range.Count);
            span.Clear();
            switch (p.DataType)
            {
                case ModbusDataType.String:
                    ModbusValueCodec.EncodeString("SN" + i.ToString(CultureInfo.InvariantCulture), p.ByteOrder, span);
                    break;
                case ModbusDataType.Bit:
                    var current = p.Kind == RegisterKind.InputRegister
                        ? store.GetInputRegisters(p.Address, 1)[0]
                        : store.GetHoldingRegisters(p.Address, 1)[0];
                    span[0] = ModbusValueCodec.EncodeBit(current, p.BitIndex, i % 2 == 0);
                    break;
                default:
                    ModbusValueCodec.Encode(i * 10 * p.Scale, p.DataType, p.ByteOrder, span, p.Scale);
                    break;
            }

            if (p.Kind == RegisterKind.InputRegister)
            {
                store.SetInputRegisters(p.Address, span);
            }
            else
            {
                store.SetHoldingRegisters(p.Address, span);
            }
        }
    }
}
