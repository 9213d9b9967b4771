using System.Globalization;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

/// <summary>
/// Three slaves on one RTU line: pymodbus 3.0 (a Modbus implementation we did not write) serves units 1 and 2 as an
/// RTU serial server on one end of a socat pty pair; unit 3 is configured in the poller but nobody answers for it
/// (pymodbus's RTU framer drops frames for units it does not host, as an absent device would). Our poller reads all
/// three through our RTU serial master on the other end. Peers: PyModbusServer and SocatPtyPair (tests/IocEdge.Testing).
/// </summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "modbus")]
public sealed class PollerRtuLineTests
{
    /// <summary>Registers 0-10 of a unit: 101·n (uint16), 20.5 + n (float32 ABCD), -12.3·n (int16 × 0.1 at register 10).</summary>
    private static PyModbusUnit UnitRegisters(byte n)
    {
        var hr = new ushort[11];
        hr[0] = (ushort)(101 * n);
        ModbusValueCodec.Encode(20.5 + n, ModbusDataType.Float32, ModbusByteOrder.ABCD, hr.AsSpan(1, 2));
        ModbusValueCodec.Encode(-12.3 * n, ModbusDataType.Int16, ModbusByteOrder.ABCD, hr.AsSpan(10, 1), scale: 0.1);
        return new PyModbusUnit { HoldingRegisters = hr };
    }

    private static ModbusPointDefinition[] PointsOf(byte unit) =>
    [
        new() { Id = $"u{unit}.count", UnitId = unit, Kind = RegisterKind.HoldingRegister, Address = 0 },
        new() { Id = $"u{unit}.temp", UnitId = unit, Kind = RegisterKind.HoldingRegister, Address = 1, DataType = ModbusDataType.Float32 },
        new()
        {
            Id = $"u{unit}.level", UnitId = unit, Kind = RegisterKind.HoldingRegister, Address = 10, DataType = ModbusDataType.Int16,
            Scale = 0.1,
        },
    ];

    [Fact]
    public async Task Two_live_slaves_keep_their_poll_rate_while_the_dead_one_costs_a_bounded_number_of_timeouts()
    {
        await using var ptys = await SocatPtyPair.StartAsync();
        await using var pymodbus = await PyModbusServer.StartRtuAsync(ptys.PathA, new PyModbusServerOptions
        {
            Units = new Dictionary<byte, PyModbusUnit> { [1] = UnitRegisters(1), [2] = UnitRegisters(2) },
        });

        var timeout = TimeSpan.FromMilliseconds(250);
        await using var master = ModbusMaster.CreateSerial(new ModbusSerialOptions
        {
            PortName = ptys.PathB, BaudRate = 9600, Timeout = timeout, Retries = 1,
        });
        // pymodbus reports READY once its port is open; make sure unit 1 answers before the measured cycles start.
        await Eventually.True(async () =>
        {
            try
            {
                return (await master.ReadHoldingRegistersAsync(1, 0, 1))[0] == 101;
            }
            catch (ModbusException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), $"pymodbus to serve unit 1 on {ptys.PathA}. Its output: {pymodbus.Output}");

        var options = new ModbusPollerOptions
        {
            DefaultPollPeriod = TimeSpan.FromMilliseconds(100),
            BreakerFailureThreshold = 2,
            BreakerInitialBackoff = TimeSpan.FromSeconds(1),
            BreakerMaxBackoff = TimeSpan.FromSeconds(2),
        };
        var poller = new ModbusPoller(master, [.. PointsOf(1), .. PointsOf(2), .. PointsOf(3)], options, TimeProvider.System);

        const int Cycles = 30;
        var cycles = new List<IReadOnlyList<PointReading>>();
        var started = TimeProvider.System.GetTimestamp();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var cycle in poller.RunAsync(cts.Token))
        {
            cycles.Add(cycle);
            if (cycles.Count == Cycles)
            {
                break;
            }
        }

        var elapsed = TimeProvider.System.GetElapsedTime(started);

        // Units 1 and 2: every point, every cycle, Good, with pymodbus's values.
        foreach (byte unit in new byte[] { 1, 2 })
        {
            foreach (var cycle in cycles)
            {
                var readings = cycle.Where(r => r.PointId.StartsWith($"u{unit}.", StringComparison.Ordinal)).ToArray();
                Assert.Equal(3, readings.Length);
                Assert.All(readings, r => Assert.Equal(PointQuality.Good, r.Quality));
                Assert.Equal(101 * unit, readings[0].Value);
                Assert.Equal(20.5 + unit, readings[1].Value);
                Assert.Equal(-12.3 * unit, readings[2].Value, 9);
            }
        }

        // Unit 3: a reading for each of its points every cycle (never nothing), none of them Good.
        Assert.All(cycles, c => Assert.Equal(3, c.Count(r => r.PointId.StartsWith("u3.", StringComparison.Ordinal))));
        Assert.All(cycles.SelectMany(c => c).Where(r => r.PointId.StartsWith("u3.", StringComparison.Ordinal)),
            r => Assert.Equal(PointQuality.CommFailure, r.Quality));

        // Its cost is bounded by the breaker, not by the number of cycles: 2 failed requests open it, then one probe per
        // back-off (1 s, then 2 s, the cap). Each unit's three points are read by one request (registers 0-10).
        var status = poller.GetSlaveStatus().Single(s => s.UnitId == 3);
        var probes = (int)Math.Ceiling(elapsed.TotalSeconds / options.BreakerInitialBackoff.TotalSeconds) + 1;
        Assert.InRange(status.Requests, options.BreakerFailureThreshold, options.BreakerFailureThreshold + probes);
        Assert.True(status.SkippedCycles >= Cycles - status.Requests,
            string.Create(CultureInfo.InvariantCulture, $"unit 3 skipped {status.SkippedCycles} of {Cycles} cycles, asked {status.Requests} times"));
        Assert.All(poller.GetSlaveStatus().Where(s => s.UnitId != 3), s =>
        {
            Assert.Equal(0, s.CommFailures);
            Assert.Equal(Cycles, s.Requests);
        });
    }
}
