using System.Globalization;
using BenchmarkDotNet.Attributes;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Benchmarks.Modbus;

/// <summary>
/// The poll planner on the station map (<see cref="PlannerStationMap"/>): how long planning takes, and what the plan
/// costs on the wire against one request per value. The wire figures are printed as a table in the run's output
/// (they are arithmetic, not timings: RTU frame bytes and the 9600 baud 8N1 minimum line time of
/// <see cref="ModbusRtuWireTime"/>).
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks -- --filter '*PlannerBenchmarks*' (in process: no child build)
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[InProcess]
public class PlannerBenchmarks
{
    private static readonly ModbusPollPlannerOptions Default = new();

    [GlobalSetup]
    public void PrintWireFigures()
    {
        Console.WriteLine(WireTable());
    }

    /// <summary>Plans the whole station (60 points) with the default gap of 16 registers.</summary>
    [Benchmark]
    public int PlanStation() => ModbusPollPlanner.Plan(PlannerStationMap.Ranges, Default).Requests.Count;

    /// <summary>The same with a refused register inside block 2, so the planner must split around it.</summary>
    [Benchmark]
    public int PlanStationWithRefusedAddress() => ModbusPollPlanner.Plan(PlannerStationMap.Ranges, Default, Refused).Requests.Count;

    private static readonly ModbusRefusedAddresses Refused = CreateRefused();

    private static ModbusRefusedAddresses CreateRefused()
    {
        var refused = new ModbusRefusedAddresses();
        refused.Add(RegisterKind.HoldingRegister, 1015);
        return refused;
    }

    /// <summary>Requests, bytes and minimum 9600 baud line time per poll cycle, for several gaps and per value.</summary>
    public static string WireTable()
    {
        var rows = new List<(string Name, IReadOnlyList<ModbusReadRequest> Requests)>
        {
            ("one request per value", PlannerStationMap.OneRequestPerValue),
        };
        foreach (var gap in new[] { 0, 4, 8, 16 })
        {
            var plan = ModbusPollPlanner.Plan(PlannerStationMap.Ranges, new ModbusPollPlannerOptions { MaxRegisterGap = gap });
            rows.Add(($"planner, max gap {gap}", plan.Requests));
        }

        var baseline = rows[0].Requests;
        var baseTime = ModbusRtuWireTime.Minimum(baseline, 9600, TimeSpan.Zero);
        var lines = new List<string>
        {
            $"Station map: {PlannerStationMap.Points.Length} values, unit {PlannerStationMap.Unit}. RTU 9600 8N1, slave processing 0 ms.",
            "| Plan | Requests | Bytes on the wire | Minimum line time (ms) | vs one per value |",
            "|---|---:|---:|---:|---:|",
        };
        foreach (var (name, requests) in rows)
        {
            var bytes = requests.Sum(r => ModbusRtuWireTime.RequestBytes(r) + ModbusRtuWireTime.ResponseBytes(r));
            var time = ModbusRtuWireTime.Minimum(requests, 9600, TimeSpan.Zero);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {requests.Count} | {bytes} | {time.TotalMilliseconds:0.0} | {time / baseTime:P0} |"));
        }

        return string.Join(Environment.NewLine, lines);
    }
}
