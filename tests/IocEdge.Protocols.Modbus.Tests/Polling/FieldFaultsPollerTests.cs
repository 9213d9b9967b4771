using System.IO.Pipelines;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Polling;

/// <summary>
/// Issue 13 ("Field faults"), Modbus data classes, through the whole stack: our RTU master and our ModbusServer joined
/// by an in-memory pipe (and pymodbus over TCP for the weather station), the poller on a fake clock.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "field-faults")]
public sealed class FieldFaultsPollerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Weather-station points at input registers 400 (air temperature) and 600 (relative humidity), Int16 × 0.1
    /// (LAMBRECHT meteo 16131-5 manual, table 5.6.1: registers 30401 and 30601, factor 10).</summary>
    internal static ModbusPointDefinition[] WeatherPoints(bool sentinelsOnHumidity = false) =>
    [
        new()
        {
            Id = "air_temperature", UnitId = 1, Kind = RegisterKind.InputRegister, Address = 400,
            DataType = ModbusDataType.Int16, Scale = 0.1, Sentinels = [0x8000, 0x7FFF, 0xD8F1], ValidMin = -40, ValidMax = 70,
        },
        new()
        {
            // A valid range and no sentinels: 0x7FFF × 0.1 = 3276.7 %RH must still not pass as Good.
            Id = "relative_humidity", UnitId = 1, Kind = RegisterKind.InputRegister, Address = 600,
            DataType = ModbusDataType.Int16, Scale = 0.1, ValidMin = 0, ValidMax = 100,
            Sentinels = sentinelsOnHumidity ? [0x7FFF] : [],
        },
    ];

    [Fact]
    public async Task Sentinel_and_out_of_range_words_are_not_good_readings()
    {
        await using var rig = await Rig.StartAsync(store =>
        {
            store.SetInputRegisters(400, [0x8000]);
            store.SetInputRegisters(600, [0x7FFF]);
        });
        var poller = new ModbusPoller(rig.Master, WeatherPoints(), new ModbusPollerOptions(), rig.Time);

        var cycle = await poller.PollAsync();

        Assert.Equal(PointQuality.Invalid, cycle[0].Quality);
        Assert.True(double.IsNaN(cycle[0].Value)); // no value: -3276.8 degC is not a temperature
        Assert.Equal(PointQuality.OutOfRange, cycle[1].Quality);
        Assert.Equal(3276.7, cycle[1].Value); // value kept, flagged

        // The instrument recovers: Good again, with the real values (29.5 degC, 78.0 %RH).
        rig.Store.SetInputRegisters(400, [295]);
        rig.Store.SetInputRegisters(600, [780]);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        var next = await poller.PollAsync();
        Assert.Equal([(PointQuality.Good, 29.5), (PointQuality.Good, 78.0)], next.Select(r => (r.Quality, r.Value)));
    }

    [Fact]
    public async Task A_nan_or_infinite_float_register_is_invalid_and_the_last_good_value_survives_it()
    {
        await using var rig = await Rig.StartAsync(store => store.SetHoldingRegisters(0, [0x40FC, 0xCCCD])); // 7.9f
        ModbusPointDefinition[] points =
        [
            new() { Id = "do", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0, DataType = ModbusDataType.Float32 },
        ];
        var poller = new ModbusPoller(rig.Master, points, new ModbusPollerOptions(), rig.Time);
        var first = (await poller.PollAsync())[0];
        Assert.Equal((PointQuality.Good, 7.9), (first.Quality, first.Value));

        foreach (ushort[] word in (ushort[][])[[0x7FC0, 0x0000], [0x7F80, 0x0000], [0xFF80, 0x0000]]) // NaN, +inf, -inf (IEEE 754)
        {
            rig.Store.SetHoldingRegisters(0, word);
            rig.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(PointQuality.Invalid, (await poller.PollAsync())[0].Quality);
        }

        // While the device is then silent for one cycle, what is repeated is the last good value, never the NaN.
        rig.Faults = ModbusFault.ExceptionResponse(ModbusExceptionCode.ServerDeviceFailure);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        var failed = (await poller.PollAsync())[0];
        Assert.Equal(PointQuality.DeviceException, failed.Quality);
        Assert.Equal(7.9, failed.Value);
    }

    [Fact]
    public async Task Float32_values_leave_the_poller_as_their_shortest_decimal()
    {
        // 7.9f is 0x40FCCCCD = 7.900000095367431640625 exactly; 460.93304f is 0x43E6776E (IEEE 754 binary32).
        await using var rig = await Rig.StartAsync(store => store.SetHoldingRegisters(0, [0x40FC, 0xCCCD, 0x43E6, 0x776E]));
        ModbusPointDefinition[] points =
        [
            new() { Id = "a", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0, DataType = ModbusDataType.Float32 },
            new() { Id = "b", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 2, DataType = ModbusDataType.Float32 },
            new() { Id = "b2", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 2, DataType = ModbusDataType.Float32, Decimals = 2 },
        ];
        var poller = new ModbusPoller(rig.Master, points, new ModbusPollerOptions(), rig.Time);

        var cycle = await poller.PollAsync();

        Assert.Equal("7.9", cycle[0].Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("460.93304", cycle[1].Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("460.93", cycle[2].Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>30 Float32 points over holding registers 0-59: one 60-register read the meter refuses.</summary>
    private static ModbusPointDefinition[] ThirtyFloats(RegisterKind kind = RegisterKind.HoldingRegister) =>
        Enumerable.Range(0, 30).Select(i => new ModbusPointDefinition
        {
            Id = $"v{i}", UnitId = 1, Kind = kind, Address = (ushort)(2 * i), DataType = ModbusDataType.Float32,
        }).ToArray();

    [Theory]
    [InlineData(ModbusExceptionCode.IllegalDataValue, RegisterKind.HoldingRegister)]
    [InlineData(ModbusExceptionCode.IllegalDataAddress, RegisterKind.HoldingRegister)]
    [InlineData(ModbusExceptionCode.IllegalDataValue, RegisterKind.InputRegister)]
    public async Task A_device_that_refuses_more_than_50_registers_is_learned_and_never_asked_again(
        ModbusExceptionCode refusal, RegisterKind kind)
    {
        await using var rig = await Rig.StartAsync(store =>
        {
            for (var i = 0; i < 30; i++)
            {
                var words = new ushort[2];
                ModbusValueCodec.Encode(i + 0.5, ModbusDataType.Float32, ModbusByteOrder.ABCD, words);
                store.SetHoldingRegisters((ushort)(2 * i), words);
                store.SetInputRegisters((ushort)(2 * i), words);
            }
        });
        // The meter: any read of more than 50 registers is answered with the exception (MODBUS Application Protocol
        // V1.1b3, 6.3: 03 when the quantity is out of the device's range).
        rig.Decide = r => r.Count > 50 ? ModbusFault.ExceptionResponse(refusal) : ModbusFault.None;
        var poller = new ModbusPoller(rig.Master, ThirtyFloats(kind), new ModbusPollerOptions(), rig.Time);

        for (var cycle = 0; cycle < 5; cycle++)
        {
            var readings = await poller.PollAsync();
            Assert.All(readings, r => Assert.Equal(PointQuality.Good, r.Quality));
            Assert.Equal(Enumerable.Range(0, 30).Select(i => i + 0.5), readings.Select(r => r.Value));
            rig.Time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(1, rig.Seen.Count(r => r.Count > 50)); // the refused request went out once, in the first cycle
        var limits = poller.GetSlaveStatus()[0].LearnedRequestLimits;
        Assert.True(limits[kind] is > 0 and <= 50);
    }

    [Fact]
    public async Task A_device_that_refuses_more_than_100_coils_is_learned_too()
    {
        await using var rig = await Rig.StartAsync(store => store.SetCoils(0, Enumerable.Range(0, 300).Select(i => i % 3 == 0).ToArray()));
        rig.Decide = r => r.FunctionCode == 0x01 && r.Count > 100 ? ModbusFault.ExceptionResponse(ModbusExceptionCode.IllegalDataValue) : ModbusFault.None;
        var points = Enumerable.Range(0, 300).Select(i => new ModbusPointDefinition
        {
            Id = $"c{i}", UnitId = 1, Kind = RegisterKind.Coil, Address = (ushort)i, DataType = ModbusDataType.Bit,
        }).ToArray();
        var poller = new ModbusPoller(rig.Master, points, new ModbusPollerOptions(), rig.Time);

        var refusedInFirstCycle = 0;
        for (var cycle = 0; cycle < 3; cycle++)
        {
            var readings = await poller.PollAsync();
            Assert.All(readings, r => Assert.Equal(PointQuality.Good, r.Quality));
            Assert.Equal(Enumerable.Range(0, 300).Select(i => i % 3 == 0 ? 1.0 : 0.0), readings.Select(r => r.Value));
            rig.Time.Advance(TimeSpan.FromSeconds(1));
            refusedInFirstCycle = cycle == 0 ? rig.Seen.Count(r => r.Count > 100) : refusedInFirstCycle;
        }

        // 300 bits, then its halves of 150 are refused while the poller bisects, in the first cycle only.
        Assert.Equal(3, refusedInFirstCycle);
        Assert.Equal(refusedInFirstCycle, rig.Seen.Count(r => r.Count > 100));
        Assert.Equal(75, poller.GetSlaveStatus()[0].LearnedRequestLimits[RegisterKind.Coil]);
    }

    [Fact]
    public async Task A_configured_slave_limit_keeps_every_request_within_it_from_the_first_cycle()
    {
        await using var rig = await Rig.StartAsync(_ => { });
        rig.Decide = r => r.Count > 50 ? ModbusFault.ExceptionResponse(ModbusExceptionCode.IllegalDataValue) : ModbusFault.None;
        var options = new ModbusPollerOptions
        {
            SlaveLimits = new Dictionary<byte, ModbusRequestLimits> { [1] = new(MaxRegistersPerRequest: 50) },
        };
        var poller = new ModbusPoller(rig.Master, ThirtyFloats(), options, rig.Time);

        var readings = await poller.PollAsync();

        Assert.All(readings, r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.All(rig.Seen, r => Assert.True(r.Count <= 50));
        Assert.Equal(2, rig.Seen.Count);
    }

    [Fact]
    public void A_slave_limit_outside_the_specification_is_refused_with_its_key()
    {
        var options = new ModbusPollerOptions
        {
            SlaveLimits = new Dictionary<byte, ModbusRequestLimits> { [7] = new(MaxRegistersPerRequest: 126) },
        };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("SlaveLimits[7].MaxRegistersPerRequest", error.Message, StringComparison.Ordinal);
        Assert.Contains("1 to 125", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Our RTU master and ModbusServer over an in-memory pipe, with a fault hook that sees every request.</summary>
    private sealed class Rig : IAsyncDisposable, IModbusFaultInjector
    {
        private readonly ModbusServer _server;

        private Rig(ModbusServer server, IModbusMaster master, ModbusDataStore store)
        {
            _server = server;
            Master = master;
            Store = store;
        }

        public IModbusMaster Master { get; }

        public ModbusDataStore Store { get; }

        public FakeTimeProvider Time { get; } = new(T0);

        public List<ModbusRequestInfo> Seen { get; } = [];

        public Func<ModbusRequestInfo, ModbusFault> Decide { get; set; } = _ => ModbusFault.None;

        public ModbusFault? Faults { get; set; }

        public static async Task<Rig> StartAsync(Action<ModbusDataStore> seed)
        {
            var toSlave = new Pipe();
            var toMaster = new Pipe();
            var store = new ModbusDataStore();
            seed(store);
            var server = new ModbusServer(new Dictionary<byte, ModbusDataStore> { [1] = store });
            await server.StartSerialAsync(new DuplexStream(toSlave.Reader.AsStream(), toMaster.Writer.AsStream()), ModbusSerialMode.Rtu, line: null);
            var master = ModbusMaster.CreateSerial(new DuplexStream(toMaster.Reader.AsStream(), toSlave.Writer.AsStream()),
                // The rig's slave always answers (its faults are exception responses), so the timeout only has to outlast a
                // loaded machine: at 1 s (the default) a first poll slowed by the JIT was once a timeout, and NaN, in CI.
                new ModbusStreamMasterOptions { Mode = ModbusSerialMode.Rtu, Line = null, Retries = 0, Timeout = TimeSpan.FromSeconds(10) });
            var rig = new Rig(server, master, store);
            server.FaultInjector = rig;
            return rig;
        }

        ModbusFault IModbusFaultInjector.Decide(in ModbusRequestInfo request)
        {
            lock (Seen)
            {
                Seen.Add(request);
            }

            return Faults ?? Decide(request);
        }

        public async ValueTask DisposeAsync()
        {
            await Master.DisposeAsync();
            await _server.DisposeAsync();
        }
    }

    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await output.WriteAsync(buffer, cancellationToken);
            await output.FlushAsync(cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        public override void Flush() => throw new NotSupportedException("Asynchronous only.");

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous only.");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous only.");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>The weather-station example against pymodbus 3.0, a Modbus server we did not write.</summary>
[Trait("Category", "Integration")]
[Trait("Acceptance", "field-faults")]
public sealed class FieldFaultsPyModbusTests
{
    [Fact]
    public async Task Weather_station_sentinels_against_pymodbus()
    {
        var ir = new ushort[1000];
        ir[400] = 0x8000;
        ir[600] = 0x7FFF;
        await using var peer = await PyModbusServer.StartTcpAsync(new PyModbusServerOptions
        {
            Units = new Dictionary<byte, PyModbusUnit> { [1] = new() { InputRegisters = ir } },
        });
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions
        {
            Host = "127.0.0.1", Port = peer.Port, Timeout = TimeSpan.FromSeconds(3),
        });
        var poller = new ModbusPoller(master, FieldFaultsPollerTests.WeatherPoints(), new ModbusPollerOptions(), TimeProvider.System);

        var cycle = await poller.PollAsync();

        Assert.Equal(PointQuality.Invalid, cycle[0].Quality);
        Assert.True(double.IsNaN(cycle[0].Value));
        Assert.Equal(PointQuality.OutOfRange, cycle[1].Quality);
        Assert.Equal(3276.7, cycle[1].Value);
    }
}
