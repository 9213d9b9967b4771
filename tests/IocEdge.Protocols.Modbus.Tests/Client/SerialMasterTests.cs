using System.IO.Ports;
using System.Net;
using System.Net.Sockets;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Client;

/// <summary>Two connected in-memory-ish streams (a loopback socket pair) standing for the two ends of a serial line.</summary>
internal sealed class StreamPair : IDisposable
{
    private readonly TcpClient _a;
    private readonly TcpClient _b;

    private StreamPair(TcpClient a, TcpClient b)
    {
        _a = a;
        _b = b;
    }

    public Stream Master => _a.GetStream();

    public Stream Slave => _b.GetStream();

    public static async Task<StreamPair> CreateAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var a = new TcpClient { NoDelay = true };
        var connect = a.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var b = await listener.AcceptTcpClientAsync();
        await connect;
        return new StreamPair(a, b);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }
}

/// <summary>The serial-framed master (RTU and ASCII) over a stream, against our server on the other end.</summary>
[Trait("Category", "Unit")]
public sealed class SerialMasterTests
{
    private static Dictionary<byte, ModbusDataStore> TwoUnits() => new() { [1] = new(), [2] = new() };

    [Theory]
    [InlineData(ModbusSerialMode.Rtu)]
    [InlineData(ModbusSerialMode.Ascii)]
    public async Task Reads_and_writes_two_slaves_on_one_line(ModbusSerialMode mode)
    {
        using var line = await StreamPair.CreateAsync();
        var units = TwoUnits();
        await using var server = new ModbusServer(units);
        await server.StartSerialAsync(line.Slave, mode);
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions { Mode = mode });

        await master.WriteMultipleRegistersAsync(1, 0, new ushort[] { 10, 11 });
        await master.WriteMultipleRegistersAsync(2, 0, new ushort[] { 20, 21 });
        await master.WriteMultipleCoilsAsync(2, 3, new[] { true, false, true });
        Assert.Equal(new ushort[] { 10, 11 }, await master.ReadHoldingRegistersAsync(1, 0, 2));
        Assert.Equal(new ushort[] { 20, 21 }, await master.ReadHoldingRegistersAsync(2, 0, 2));
        Assert.Equal(new[] { true, false, true }, await master.ReadCoilsAsync(2, 3, 3));
        await master.MaskWriteRegisterAsync(1, 0, 0xFFF0, 0x0005);
        Assert.Equal(new ushort[] { 5, 11 }, await master.ReadWriteMultipleRegistersAsync(1, 0, 2, 10, new ushort[] { 1 }));
        Assert.Equal("IocEdge", (await master.ReadDeviceIdentificationAsync(2))[0]);
    }

    [Fact]
    public async Task A_broadcast_writes_every_slave_gets_no_answer_and_holds_the_line_for_the_turnaround_delay()
    {
        var time = new FakeTimeProvider();
        using var line = await StreamPair.CreateAsync();
        var units = TwoUnits();
        await using var server = new ModbusServer(units, timeProvider: time);
        await server.StartSerialAsync(line.Slave, ModbusSerialMode.Rtu);
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions
        {
            Line = new ModbusSerialLineSettings { BaudRate = 9600 },
            TurnaroundDelay = TimeSpan.FromMilliseconds(200),
        }, time);

        await time.DriveAsync(master.WriteSingleRegisterAsync(0, 7, 77).AsTask(), TimeSpan.FromMilliseconds(1));
        await IocEdge.Testing.Eventually.True(() => units[2].GetHoldingRegisters(7, 1)[0] == 77, TimeSpan.FromSeconds(10), "the broadcast to land");
        Assert.Equal(77, units[1].GetHoldingRegisters(7, 1)[0]);
        Assert.Equal(0, server.ResponsesSent);

        // The next request waits out the turnaround delay on the line's clock.
        var read = master.ReadHoldingRegistersAsync(1, 7, 1).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(150));
        await Task.Delay(100);
        Assert.Equal(1, server.RequestsServed); // only the broadcast so far
        time.Advance(TimeSpan.FromMilliseconds(60));
        Assert.Equal(new ushort[] { 77 }, await time.DriveAsync(read, TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public async Task Each_request_waits_for_t35_of_silence_after_the_last_byte()
    {
        var time = new FakeTimeProvider();
        var settings = new ModbusSerialLineSettings { BaudRate = 9600, Parity = Parity.Even }; // t3.5 ≈ 4.01 ms
        using var line = await StreamPair.CreateAsync();
        await using var server = new ModbusServer(TwoUnits(), timeProvider: time);
        await server.StartSerialAsync(line.Slave, ModbusSerialMode.Rtu);
        await using var master = ModbusMaster.CreateRtu(line.Master, settings, time);

        time.Advance(settings.T35);
        await time.DriveAsync(master.ReadHoldingRegistersAsync(1, 0, 1).AsTask(), TimeSpan.FromMilliseconds(1));

        var second = master.ReadHoldingRegistersAsync(1, 0, 1).AsTask();
        time.Advance(settings.T35 - TimeSpan.FromMicroseconds(100));
        await Task.Delay(100);
        Assert.Equal(1, server.RequestsServed);
        time.Advance(TimeSpan.FromMicroseconds(100));
        await time.DriveAsync(second, TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, server.RequestsServed);
    }

    [Fact]
    public async Task Reads_may_not_be_broadcast()
    {
        using var line = await StreamPair.CreateAsync();
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions { Line = null });
        await Assert.ThrowsAsync<ArgumentException>(async () => await master.ReadCoilsAsync(0, 0, 1));
    }

    [Fact]
    public async Task An_unknown_function_code_on_rtu_is_answered_illegal_function()
    {
        using var line = await StreamPair.CreateAsync();
        await using var server = new ModbusServer(TwoUnits());
        await server.StartSerialAsync(line.Slave, ModbusSerialMode.Rtu);
        var frame = new byte[16];
        var length = ModbusRtuFraming.Encode(frame, 1, Convert.FromHexString("080000A537")); // FC 08 diagnostics
        await line.Master.WriteAsync(frame.AsMemory(0, length));
        var answer = new byte[16];
        var read = await line.Master.ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var expected = new byte[8];
        var expectedLength = ModbusRtuFraming.Encode(expected, 1, Convert.FromHexString("8801")); // exception 01
        Assert.Equal(expected[..expectedLength], answer[..read]);
    }

    [Fact]
    public async Task Every_frame_is_logged_as_hex_at_debug()
    {
        var logger = new ListLogger();
        await using var slave = await LoopbackModbus.StartAsync();
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = slave.Endpoint.Port }, logger: logger);
        slave.Store.SetHoldingRegisters(0, [0x2A]);
        await master.ReadHoldingRegistersAsync(1, 0, 1);

        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Debug && l.Text.EndsWith("TX 000100000006010300000001", StringComparison.Ordinal));
        Assert.True(logger.Lines.Any(l => l.Level == LogLevel.Debug && l.Text.EndsWith("RX 000100000005010302002A", StringComparison.Ordinal)), string.Join("\n", logger.Lines));
    }
}

internal sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, string Text)> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Lines)
        {
            Lines.Add((logLevel, formatter(state, exception)));
        }
    }
}
