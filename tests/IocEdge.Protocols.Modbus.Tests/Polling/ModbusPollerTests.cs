using CsCheck;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

[Trait("Category", "Unit")]
public sealed class ModbusPollerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero));

    private static ModbusPointDefinition Hr(string id, byte unit, ushort address, ModbusDataType type = ModbusDataType.UInt16) =>
        new() { Id = id, UnitId = unit, Kind = RegisterKind.HoldingRegister, Address = address, DataType = type };

    private static readonly ModbusPollerOptions Options = new()
    {
        DefaultPollPeriod = TimeSpan.FromSeconds(1),
        BreakerFailureThreshold = 3,
        BreakerInitialBackoff = TimeSpan.FromSeconds(10),
        BreakerMaxBackoff = TimeSpan.FromSeconds(40),
        Planner = new ModbusPollPlannerOptions { MaxRegisterGap = 8 },
    };

    /// <summary>Runs the poller on the fake clock: jump to the next due time, poll, repeat until <paramref name="until"/>.</summary>
    private async Task<List<IReadOnlyList<PointReading>>> RunUntil(ModbusPoller poller, DateTimeOffset until)
    {
        var cycles = new List<IReadOnlyList<PointReading>>();
        while (true)
        {
            if (poller.NextDueTime > _time.GetUtcNow())
            {
                _time.SetUtcNow(poller.NextDueTime);
            }

            if (_time.GetUtcNow() >= until)
            {
                return cycles;
            }

            cycles.Add(await poller.PollAsync());
        }
    }

    private static PointReading Get(IReadOnlyList<PointReading> cycle, string id) => Assert.Single(cycle, r => r.PointId == id);

    [Fact]
    public async Task One_cycle_decodes_every_type_from_the_fewest_requests_with_the_clock_s_timestamp()
    {
        var line = new FakeModbusLine(_time);
        var analyser = line.Add(1);
        analyser.Set(0, 35.2f, ModbusDataType.Float32, ModbusByteOrder.CDAB);
        analyser.Set(2, -12.3, ModbusDataType.Int16, scale: 0.1);
        ModbusValueCodec.EncodeString("AQM-01", ModbusByteOrder.ABCD, analyser.HoldingRegisters.AsSpan(10, 4));
        analyser.HoldingRegisters[14] = 0b1000;
        ModbusValueCodec.Encode(4_000_000_000, ModbusDataType.UInt32, ModbusByteOrder.ABCD, analyser.InputRegisters.AsSpan(0, 2));
        analyser.Coils[5] = true;

        ModbusPointDefinition[] points =
        [
            Hr("pm25", 1, 0, ModbusDataType.Float32) with { ByteOrder = ModbusByteOrder.CDAB },
            Hr("temp", 1, 2, ModbusDataType.Int16) with { Scale = 0.1 },
            Hr("model", 1, 10, ModbusDataType.String) with { StringRegisters = 4 },
            Hr("alarm", 1, 14, ModbusDataType.Bit) with { BitIndex = 3 },
            Hr("ok", 1, 14, ModbusDataType.Bit) with { BitIndex = 2 },
            new() { Id = "energy", UnitId = 1, Kind = RegisterKind.InputRegister, Address = 0, DataType = ModbusDataType.UInt32 },
            new() { Id = "pump", UnitId = 1, Kind = RegisterKind.Coil, Address = 5, DataType = ModbusDataType.Bit },
        ];
        var poller = new ModbusPoller(line, points, Options, _time);
        var t0 = _time.GetUtcNow();

        var cycle = await poller.PollAsync();

        Assert.Equal(points.Select(p => p.Id), cycle.Select(r => r.PointId));
        Assert.All(cycle, r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.Equal(35.2f, (float)Get(cycle, "pm25").Value);
        Assert.Equal(-12.3, Get(cycle, "temp").Value, 9);
        Assert.Equal("AQM-01", Get(cycle, "model").Text);
        Assert.Equal(1, Get(cycle, "alarm").Value);
        Assert.Equal(0, Get(cycle, "ok").Value);
        Assert.Equal(4_000_000_000, Get(cycle, "energy").Value);
        Assert.Equal(1, Get(cycle, "pump").Value);
        // Holding 0-14 in one request (gaps of 7 and 0 registers), one input-register request, one coil request.
        Assert.Equal([(1, 0x01, 5, 1), (1, 0x03, 0, 15), (1, 0x04, 0, 2)],
            line.Requests.Select(r => ((int)r.Unit, (int)r.Function, (int)r.Address, (int)r.Count)).Order());
        // Requests go coils, discrete inputs, input registers, holding registers; each exchange takes 30 ms of line
        // time, so the holding registers' answer is stamped 90 ms into the cycle and the coil's 30 ms.
        Assert.Equal(t0 + TimeSpan.FromMilliseconds(90), Get(cycle, "pm25").Timestamp);
        Assert.Equal(t0 + TimeSpan.FromMilliseconds(30), Get(cycle, "pump").Timestamp);
    }

    [Fact]
    public async Task A_dead_slave_costs_one_timeout_a_cycle_then_is_backed_off_while_the_others_keep_their_rate()
    {
        var line = new FakeModbusLine(_time);
        for (byte unit = 1; unit <= 3; unit++)
        {
            var slave = line.Add(unit);
            slave.Set(0, unit * 10, ModbusDataType.UInt16);
            slave.Set(50, unit * 100, ModbusDataType.UInt16);
            slave.Set(100, unit * 1000, ModbusDataType.UInt16);
        }

        // Three far-apart blocks per slave: three requests a cycle.
        var points = Enumerable.Range(1, 3).SelectMany(u => new[]
        {
            Hr($"u{u}.a", (byte)u, 0), Hr($"u{u}.b", (byte)u, 50), Hr($"u{u}.c", (byte)u, 100),
        }).ToArray();
        var poller = new ModbusPoller(line, points, Options, _time);
        var start = _time.GetUtcNow();

        var healthy = await RunUntil(poller, start + TimeSpan.FromSeconds(5));
        Assert.Equal(5, healthy.Count);
        Assert.All(healthy.SelectMany(c => c), r => Assert.Equal(PointQuality.Good, r.Quality));

        line[3].Dead = true;
        var requestsBefore = line.RequestsTo(3);
        var deadStart = _time.GetUtcNow();
        var cycles = await RunUntil(poller, deadStart + TimeSpan.FromSeconds(120));

        // Units 1 and 2: Good in every cycle, and a cycle every second (each cycle lasts 6 × 30 ms, plus at most
        // one 1 s timeout, so some cycles start late but none is skipped for long).
        Assert.All(cycles.SelectMany(c => c).Where(r => !r.PointId.StartsWith("u3", StringComparison.Ordinal)),
            r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.InRange(cycles.Count, 110, 120);

        // Unit 3: CommFailure for the cycles in which it was asked, Stale with the last good value while backed off.
        var u3 = cycles.Select(c => Get(c, "u3.b")).ToArray();
        Assert.All(u3, r => Assert.Equal(300, r.Value));
        Assert.Equal([PointQuality.CommFailure, PointQuality.CommFailure, PointQuality.CommFailure, PointQuality.Stale],
            u3.Take(4).Select(r => r.Quality));
        Assert.True(u3.Count(r => r.Quality == PointQuality.Stale) > 100);

        // Its cost: 3 timeouts to open the breaker, then one probe after each back-off of 10, 20, 40, 40 s (cap).
        var timeouts = line.RequestsTo(3) - requestsBefore;
        Assert.InRange(timeouts, 3 + 3, 3 + 4);
        var status = poller.GetSlaveStatus().Single(s => s.UnitId == 3);
        Assert.Equal(ModbusBreakerState.Open, status.Breaker);
        Assert.Equal(timeouts, status.CommFailures);

        // It comes back: the next probe succeeds and it is polled normally again.
        line[3].Dead = false;
        line[3].Set(50, 333, ModbusDataType.UInt16);
        var back = await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(45));
        Assert.Equal(PointQuality.Good, Get(back[^1], "u3.b").Quality);
        Assert.Equal(333, Get(back[^1], "u3.b").Value);
        Assert.Equal(ModbusBreakerState.Closed, poller.GetSlaveStatus().Single(s => s.UnitId == 3).Breaker);
    }

    [Fact]
    public async Task A_slave_that_never_answered_reports_comm_failure_not_stale()
    {
        var line = new FakeModbusLine(_time);
        line.Add(1).Set(0, 7, ModbusDataType.UInt16);
        var poller = new ModbusPoller(line, [Hr("alive", 1, 0), Hr("ghost", 9, 0)], Options, _time);

        var cycles = await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(20));

        Assert.All(cycles, c => Assert.Equal(PointQuality.Good, Get(c, "alive").Quality));
        Assert.All(cycles, c => Assert.Equal(PointQuality.CommFailure, Get(c, "ghost").Quality));
        Assert.All(cycles, c => Assert.True(double.IsNaN(Get(c, "ghost").Value)));
    }

    [Fact]
    public async Task An_exception_response_marks_only_that_request_s_points_and_keeps_the_slave_in_the_poll()
    {
        var line = new FakeModbusLine(_time);
        line.Add(1).Set(0, 11, ModbusDataType.UInt16);
        line.Add(2).ForcedException = ModbusExceptionCode.ServerDeviceFailure;
        var poller = new ModbusPoller(line, [Hr("a", 1, 0), Hr("b", 2, 0)], Options, _time);

        var cycles = await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(10));

        Assert.Equal(10, cycles.Count);
        Assert.All(cycles, c => Assert.Equal(PointQuality.Good, Get(c, "a").Quality));
        Assert.All(cycles, c =>
        {
            Assert.Equal(PointQuality.DeviceException, Get(c, "b").Quality);
            Assert.Equal(ModbusExceptionCode.ServerDeviceFailure, Get(c, "b").ExceptionCode);
        });
        // An exception response proves the slave is alive: it is asked every cycle, never backed off.
        Assert.Equal(10, line.RequestsTo(2));
        Assert.Equal(ModbusBreakerState.Closed, poller.GetSlaveStatus().Single(s => s.UnitId == 2).Breaker);
    }

    [Fact]
    public async Task A_gateway_s_no_response_exception_counts_as_a_silent_slave()
    {
        var line = new FakeModbusLine(_time);
        line.Add(4).ForcedException = ModbusExceptionCode.GatewayTargetDeviceFailedToRespond;
        var poller = new ModbusPoller(line, [Hr("behind-gateway", 4, 0)], Options, _time);

        var cycles = await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(8));

        Assert.All(cycles, c => Assert.Equal(PointQuality.CommFailure, c[0].Quality));
        Assert.Equal(ModbusExceptionCode.GatewayTargetDeviceFailedToRespond, cycles[0][0].ExceptionCode);
        Assert.Equal(3, line.RequestsTo(4));
        Assert.Equal(ModbusBreakerState.Open, poller.GetSlaveStatus()[0].Breaker);
    }

    [Fact]
    public async Task A_refused_gap_is_found_by_splitting_in_the_first_cycle_and_avoided_afterwards()
    {
        var line = new FakeModbusLine(_time);
        var slave = line.Add(1);
        slave.Set(0, 1, ModbusDataType.UInt16);
        slave.Set(6, 2, ModbusDataType.UInt16);
        slave.Refused.Add((RegisterKind.HoldingRegister, 3)); // a hole in the device's map, between the two points
        var poller = new ModbusPoller(line, [Hr("a", 1, 0), Hr("b", 1, 6)], Options, _time);

        var first = await poller.PollAsync();
        Assert.All(first, r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.Equal([1.0, 2.0], first.Select(r => r.Value));
        Assert.Equal([(0, 7), (0, 1), (6, 1)], line.Requests.Select(r => ((int)r.Address, (int)r.Count)));
        Assert.Equal([new ModbusAddressRange(RegisterKind.HoldingRegister, 1, 5)], poller.GetSlaveStatus()[0].RefusedAddresses);

        line.Requests.Clear();
        await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(5));
        Assert.Equal(10, line.Requests.Count);
        Assert.Equal(1, poller.GetSlaveStatus()[0].DeviceExceptions);
    }

    [Fact]
    public async Task A_refused_point_gets_device_exception_once_learned_without_costing_its_neighbours()
    {
        var line = new FakeModbusLine(_time);
        var slave = line.Add(1);
        slave.Set(0, 10, ModbusDataType.UInt16);
        slave.Set(4, 40, ModbusDataType.UInt16);
        slave.Refused.Add((RegisterKind.HoldingRegister, 2));
        var poller = new ModbusPoller(line, [Hr("a", 1, 0), Hr("b", 1, 2), Hr("c", 1, 4)], Options, _time);

        var first = await poller.PollAsync();
        Assert.Equal(PointQuality.Good, Get(first, "a").Quality);
        Assert.Equal(PointQuality.DeviceException, Get(first, "b").Quality);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, Get(first, "b").ExceptionCode);
        Assert.Equal(40, Get(first, "c").Value);

        line.Requests.Clear();
        _time.SetUtcNow(poller.NextDueTime);
        var second = await poller.PollAsync();
        Assert.Equal(PointQuality.DeviceException, Get(second, "b").Quality);
        Assert.Equal(PointQuality.Good, Get(second, "c").Quality);
        // Learned: register 2 is never asked again, so a and c are read alone and nothing is refused.
        Assert.Equal([(0, 1), (4, 1)], line.Requests.Select(r => ((int)r.Address, (int)r.Count)));

        poller.ForgetRefusedAddresses(1);
        Assert.Empty(poller.GetSlaveStatus()[0].RefusedAddresses);
    }

    [Fact]
    public async Task Each_point_is_read_at_its_own_period()
    {
        var line = new FakeModbusLine(_time);
        line.Add(1);
        var poller = new ModbusPoller(line,
            [Hr("fast", 1, 0), Hr("slow", 1, 1) with { PollPeriod = TimeSpan.FromSeconds(5) }], Options, _time);

        var cycles = await RunUntil(poller, _time.GetUtcNow() + TimeSpan.FromSeconds(10));

        Assert.Equal(10, cycles.Count(c => c.Any(r => r.PointId == "fast")));
        Assert.Equal(2, cycles.Count(c => c.Any(r => r.PointId == "slow")));
        // When both are due they share a request; alone, "fast" is read alone.
        Assert.Equal(2, line.Requests.Count(r => r.Count == 2));
        Assert.Equal(8, line.Requests.Count(r => r.Count == 1));
    }

    [Fact]
    public async Task RunAsync_waits_on_the_time_provider_between_cycles()
    {
        var line = new FakeModbusLine(_time);
        line.Add(1);
        var poller = new ModbusPoller(line, [Hr("a", 1, 0) with { PollPeriod = TimeSpan.FromSeconds(10) }], Options, _time);
        using var cts = new CancellationTokenSource();
        await using var cycles = poller.RunAsync(cts.Token).GetAsyncEnumerator();

        Assert.True(await cycles.MoveNextAsync());
        var next = cycles.MoveNextAsync();
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await next);
        Assert.Equal(2, line.Requests.Count);
    }

    [Fact]
    public void Bad_definitions_are_all_listed_with_their_key_and_fix()
    {
        var line = new FakeModbusLine(_time);
        ModbusPointDefinition[] points =
        [
            Hr("dup", 1, 0), Hr("dup", 1, 1),
            Hr("s", 1, 2, ModbusDataType.String),
            Hr("k", 1, 3) with { Scale = 0 },
            new() { Id = "coil", UnitId = 1, Kind = RegisterKind.Coil, Address = 0, DataType = ModbusDataType.Float32 },
            Hr("bit", 1, 4, ModbusDataType.Bit) with { BitIndex = 16 },
            Hr("end", 1, 65535, ModbusDataType.Float32),
        ];

        var ex = Assert.Throws<ArgumentException>(() => new ModbusPoller(line, points, Options, _time));

        foreach (var expected in new[]
                 {
                     "'dup': the id appears more than once", "'s': StringRegisters", "'k': Scale", "'coil'", "set DataType to Bit",
                     "'bit': BitIndex", "'end': Address 65535",
                 })
        {
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        }

        var bad = Assert.Throws<ArgumentException>(() =>
            new ModbusPoller(line, [Hr("a", 1, 0)], Options with { BreakerFailureThreshold = 0 }, _time));
        Assert.Contains("BreakerFailureThreshold", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_ends_the_cycle()
    {
        var line = new FakeModbusLine(_time);
        line.Add(1);
        var poller = new ModbusPoller(line, [Hr("a", 1, 0)], Options, _time);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var unused in poller.RunAsync(cts.Token))
            {
            }
        });
    }

    /// <summary>
    /// Whatever the slaves do (answer, die, refuse addresses, answer with exceptions), every cycle returns exactly one
    /// reading per due point, and a Good reading carries the value in the device's registers.
    /// </summary>
    [Fact]
    public async Task Every_due_point_gets_exactly_one_reading_whatever_the_slaves_do()
    {
        var behaviour = Gen.Int[0, 3];
        var point = Gen.Select(Gen.Int[1, 3], Gen.Int[0, 60], Gen.Int[1, 3]);
        await Gen.Select(point.Array[1, 25], behaviour.Array[3], Gen.Int[0, 60].Array[0, 3], Gen.Int[0, 8])
            .SampleAsync(async (pointSpecs, behaviours, holes, gap) =>
            {
                var time = new FakeTimeProvider();
                var line = new FakeModbusLine(time);
                for (byte u = 1; u <= 3; u++)
                {
                    var s = line.Add(u);
                    for (var a = 0; a < 100; a++)
                    {
                        s.HoldingRegisters[a] = (ushort)(u * 1000 + a);
                    }

                    s.Dead = behaviours[u - 1] == 1;
                    s.ForcedException = behaviours[u - 1] == 2 ? ModbusExceptionCode.ServerDeviceBusy : null;
                    foreach (var h in holes)
                    {
                        s.Refused.Add((RegisterKind.HoldingRegister, h));
                    }
                }

                var points = pointSpecs.Select((p, i) => Hr($"p{i}", (byte)p.Item1, (ushort)p.Item2)
                    with { PollPeriod = TimeSpan.FromSeconds(p.Item3) }).ToArray();
                var options = Options with { Planner = new ModbusPollPlannerOptions { MaxRegisterGap = gap } };
                var poller = new ModbusPoller(line, points, options, time);
                var counts = new int[points.Length];
                for (var cycle = 0; cycle < 12; cycle++)
                {
                    time.SetUtcNow(poller.NextDueTime > time.GetUtcNow() ? poller.NextDueTime : time.GetUtcNow());
                    var dueBefore = points.Length;
                    var readings = await poller.PollAsync();
                    Assert.NotEmpty(readings);
                    Assert.Equal(readings.Count, readings.Select(r => r.PointId).Distinct().Count());
                    Assert.InRange(readings.Count, 1, dueBefore);
                    foreach (var r in readings)
                    {
                        var i = int.Parse(r.PointId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                        counts[i]++;
                        if (r.Quality == PointQuality.Good)
                        {
                            Assert.Equal(points[i].UnitId * 1000 + points[i].Address, r.Value);
                        }
                        else if (behaviours[points[i].UnitId - 1] == 0)
                        {
                            // A healthy slave's point is only ever refused when it sits on a hole of the map.
                            Assert.Equal(PointQuality.DeviceException, r.Quality);
                            Assert.Contains(points[i].Address, holes);
                        }
                    }
                }

                Assert.All(counts, c => Assert.True(c >= 1));
            }, iter: 60);
    }
}
