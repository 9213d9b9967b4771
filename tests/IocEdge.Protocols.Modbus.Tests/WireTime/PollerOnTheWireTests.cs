using System.IO.Pipelines;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.WireTime;

/// <summary>
/// The poller over our RTU master and our server, joined by an in-memory byte pipe that counts every byte: the values
/// survive the whole stack, a hole in the device's map is learned from real exception-02 frames, and the bytes that
/// cross the line per cycle are exactly what <see cref="ModbusRtuWireTime"/> says (the figures in docs/BENCHMARKS.md
/// rest on that).
/// </summary>
[Trait("Category", "Unit")]
public sealed class PollerOnTheWireTests
{
    [Fact]
    public async Task A_cycle_puts_exactly_the_modelled_bytes_on_the_line_and_learns_the_device_s_hole()
    {
        var toSlave = new Pipe();
        var toMaster = new Pipe();
        var masterEnd = new CountingDuplexStream(toMaster.Reader.AsStream(), toSlave.Writer.AsStream());
        var slaveEnd = new CountingDuplexStream(toSlave.Reader.AsStream(), toMaster.Writer.AsStream());

        var store = new ModbusDataStore();
        var registers = new ushort[16];
        ModbusValueCodec.Encode(35.25, ModbusDataType.Float32, ModbusByteOrder.CDAB, registers.AsSpan(0, 2));
        ModbusValueCodec.Encode(-4.5, ModbusDataType.Int16, ModbusByteOrder.ABCD, registers.AsSpan(2, 1), scale: 0.1);
        ModbusValueCodec.EncodeString("ST-07", ModbusByteOrder.ABCD, registers.AsSpan(8, 3));
        registers[12] = 0b100;
        store.SetHoldingRegisters(100, registers);
        store.MarkNonExistent(RegisterKind.HoldingRegister, 104, 3); // the device's map has a hole at 104-106
        store.SetInputRegisters(7, [4321]);
        await using var server = new ModbusServer(new Dictionary<byte, ModbusDataStore> { [5] = store });
        await server.StartSerialAsync(slaveEnd, ModbusSerialMode.Rtu, line: null);
        // No line timing: the pipe has no baud rate, and the test must not wait for silences on the real clock.
        await using var master = ModbusMaster.CreateSerial(masterEnd,
            new ModbusStreamMasterOptions { Mode = ModbusSerialMode.Rtu, Line = null, Retries = 0 });

        ModbusPointDefinition[] points =
        [
            new() { Id = "pm25", UnitId = 5, Kind = RegisterKind.HoldingRegister, Address = 100, DataType = ModbusDataType.Float32, ByteOrder = ModbusByteOrder.CDAB },
            new() { Id = "temp", UnitId = 5, Kind = RegisterKind.HoldingRegister, Address = 102, DataType = ModbusDataType.Int16, Scale = 0.1 },
            new() { Id = "site", UnitId = 5, Kind = RegisterKind.HoldingRegister, Address = 108, DataType = ModbusDataType.String, StringRegisters = 3 },
            new() { Id = "door", UnitId = 5, Kind = RegisterKind.HoldingRegister, Address = 112, DataType = ModbusDataType.Bit, BitIndex = 2 },
            new() { Id = "count", UnitId = 5, Kind = RegisterKind.InputRegister, Address = 7 },
        ];
        var time = new FakeTimeProvider();
        var poller = new ModbusPoller(master, points, new ModbusPollerOptions(), time);

        // Cycle 1: the planner joins 100-112 across the hole; the server refuses it; the poller splits and learns.
        var first = await poller.PollAsync();
        Assert.All(first, r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.Equal(35.25, first[0].Value);
        Assert.Equal(-4.5, first[1].Value, 9);
        Assert.Equal("ST-07", first[2].Text);
        Assert.Equal(1, first[3].Value);
        Assert.Equal(4321, first[4].Value);
        Assert.Contains(new ModbusAddressRange(RegisterKind.HoldingRegister, 103, 5), poller.GetSlaveStatus()[0].RefusedAddresses);

        // Cycle 2: the learned plan; every byte on the line is accounted for by the model.
        var refused = new ModbusRefusedAddresses();
        foreach (var range in poller.GetSlaveStatus()[0].RefusedAddresses)
        {
            refused.Add(range.Kind, range.Address, range.Count);
        }

        var plan = ModbusPollPlanner.Plan(points.Select(p => p.Range).ToArray(), new ModbusPollPlannerOptions(), refused);
        Assert.Equal(3, plan.Requests.Count);
        var (sentBefore, receivedBefore) = (masterEnd.BytesWritten, masterEnd.BytesRead);
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await poller.PollAsync();

        Assert.All(second, r => Assert.Equal(PointQuality.Good, r.Quality));
        Assert.Equal(plan.Requests.Sum(ModbusRtuWireTime.RequestBytes), masterEnd.BytesWritten - sentBefore);
        Assert.Equal(plan.Requests.Sum(ModbusRtuWireTime.ResponseBytes), masterEnd.BytesRead - receivedBefore);
        Assert.Equal(0, server.MalformedFramesDropped);
    }

    /// <summary>One end of a byte pipe: reads from one pipe, writes to the other, and counts both.</summary>
    private sealed class CountingDuplexStream(Stream input, Stream output) : Stream
    {
        private long _read;
        private long _written;

        public long BytesRead => Interlocked.Read(ref _read);

        public long BytesWritten => Interlocked.Read(ref _written);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await input.ReadAsync(buffer, cancellationToken);
            Interlocked.Add(ref _read, n);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Add(ref _written, buffer.Length);
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
