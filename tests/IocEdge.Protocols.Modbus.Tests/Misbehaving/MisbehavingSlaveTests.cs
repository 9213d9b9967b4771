using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Server;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Misbehaving;

/// <summary>
/// Slaves that misbehave on purpose (our server's fault hook), against our masters, on Modbus TCP and on RTU frames
/// (over a TCP tunnel, so no pty is needed). What the specification asks of a master:
/// a frame with a bad checksum, from another unit, or cut short is discarded, the attempt times out and the request is
/// retried ("MODBUS over Serial Line V1.02" section 2.4.1 and 2.5.1.2); a late answer or a stale transaction id is
/// never taken for the current request ("Messaging on TCP/IP Implementation Guide V1.0b" 3.1.3, transaction pairing);
/// an exception response is a typed error (Application Protocol V1.1b3 section 7). Timeouts run on a FakeTimeProvider.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "modbus")]
public sealed class MisbehavingSlaveTests
{
    public static TheoryData<ModbusServerTransport> Transports => new() { ModbusServerTransport.Tcp, ModbusServerTransport.RtuOverTcp };

    [Fact]
    public async Task A_late_tcp_answer_is_discarded_and_the_retry_answer_is_the_one_returned()
    {
        var time = new FakeTimeProvider();
        ModbusDataStore? store = null;
        // Request 1 is answered 1.5 s late with 111; when request 2 (the retry) arrives the value is 222.
        var faults = ModbusFaultInjector.From(r =>
        {
            if (r.Sequence == 1)
            {
                return ModbusFault.Delayed(TimeSpan.FromSeconds(1.5));
            }

            store!.SetHoldingRegisters(0, [222]);
            return ModbusFault.None;
        });
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.Tcp, time, faults);
        store = slave.Store;
        store.SetHoldingRegisters(0, [111]);
        await using var master = slave.CreateMaster(time, TimeSpan.FromSeconds(1));

        var value = await time.DriveAsync(master.ReadHoldingRegistersAsync(1, 0, 1).AsTask());

        // The late answer carried transaction 1 and arrived while the master waited for transaction 2.
        Assert.Equal(new ushort[] { 222 }, value);
        Assert.Equal(2, slave.Server.RequestsServed);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_late_answer_arriving_after_the_timeout_is_not_taken_for_the_next_request(ModbusServerTransport transport)
    {
        // RTU has no transaction id; the serial-line master drops what arrives while it is not waiting for a reply
        // (serial line spec 2.4.1, master state diagram). TCP matches transaction ids.
        var time = new FakeTimeProvider();
        ModbusDataStore? store = null;
        var faults = ModbusFaultInjector.From(r =>
        {
            if (r.Sequence == 1)
            {
                return ModbusFault.Delayed(TimeSpan.FromSeconds(1.5));
            }

            store!.SetHoldingRegisters(0, [222]);
            return ModbusFault.None;
        });
        await using var slave = await LoopbackModbus.StartAsync(transport, time, faults);
        store = slave.Store;
        store.SetHoldingRegisters(0, [111]);
        await using var master = slave.CreateMaster(time, TimeSpan.FromSeconds(1), retries: 0);

        await Assert.ThrowsAsync<ModbusTimeoutException>(() => time.DriveAsync(master.ReadHoldingRegistersAsync(1, 0, 1).AsTask()));
        time.Advance(TimeSpan.FromSeconds(1));
        await IocEdge.Testing.Eventually.True(() => slave.Server.ResponsesSent == 1, TimeSpan.FromSeconds(10), "the late answer to be sent");

        Assert.Equal(new ushort[] { 222 }, await time.DriveAsync(master.ReadHoldingRegistersAsync(1, 0, 1).AsTask()));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_bad_checksum_is_discarded_and_the_request_retried(ModbusServerTransport transport)
    {
        var time = new FakeTimeProvider();
        await using var slave = await LoopbackModbus.StartAsync(transport, time, ModbusFaultInjector.Sequence(ModbusFault.BadChecksum));
        slave.Store.SetInputRegisters(3, [77]);
        await using var master = slave.CreateMaster(time);

        Assert.Equal(new ushort[] { 77 }, await time.DriveAsync(master.ReadInputRegistersAsync(1, 3, 1).AsTask()));
        Assert.Equal(2, slave.Server.RequestsServed);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task An_answer_from_another_unit_is_discarded_and_the_request_retried(ModbusServerTransport transport)
    {
        var time = new FakeTimeProvider();
        await using var slave = await LoopbackModbus.StartAsync(transport, time, ModbusFaultInjector.Sequence(ModbusFault.FromUnit(9)));
        slave.Store.SetCoils(0, [true]);
        await using var master = slave.CreateMaster(time);

        Assert.Equal(new[] { true }, await time.DriveAsync(master.ReadCoilsAsync(1, 0, 1).AsTask()));
        Assert.Equal(2, slave.Server.RequestsServed);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_truncated_frame_is_discarded_and_the_request_retried(ModbusServerTransport transport)
    {
        var time = new FakeTimeProvider();
        await using var slave = await LoopbackModbus.StartAsync(transport, time, ModbusFaultInjector.Sequence(ModbusFault.Truncated()));
        slave.Store.SetHoldingRegisters(10, [1, 2, 3, 4]);
        await using var master = slave.CreateMaster(time);

        Assert.Equal(new ushort[] { 1, 2, 3, 4 }, await time.DriveAsync(master.ReadHoldingRegistersAsync(1, 10, 4).AsTask()));
        // And the link is aligned again: the next exchange needs no retry.
        Assert.Equal(new ushort[] { 1, 2 }, await time.DriveAsync(master.ReadHoldingRegistersAsync(1, 10, 2).AsTask()));
        Assert.Equal(3, slave.Server.RequestsServed);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task An_exception_response_is_a_typed_error_and_not_retried(ModbusServerTransport transport)
    {
        await using var slave = await LoopbackModbus.StartAsync(transport, faults: ModbusFaultInjector.Sequence(
            ModbusFault.ExceptionResponse(ModbusExceptionCode.ServerDeviceBusy)));
        await using var master = slave.CreateMaster();

        var error = await Assert.ThrowsAsync<ModbusDeviceException>(async () => await master.WriteSingleRegisterAsync(1, 5, 9));
        Assert.Equal(ModbusExceptionCode.ServerDeviceBusy, error.Code);
        Assert.Equal(0x06, error.FunctionCode);
        Assert.Equal(1, slave.Server.RequestsServed);
        Assert.Equal(new ushort[] { 0 }, slave.Store.GetHoldingRegisters(5, 1)); // refused, so not written
    }

    [Fact]
    public async Task A_stale_transaction_id_is_skipped_and_the_current_answer_taken_without_a_retry()
    {
        await using var slave = await LoopbackModbus.StartAsync(faults: ModbusFaultInjector.From(r =>
            r.Sequence == 2 ? ModbusFault.Stale : ModbusFault.None));
        await using var master = slave.CreateMaster();
        slave.Store.SetHoldingRegisters(0, [1]);
        Assert.Equal(new ushort[] { 1 }, await master.ReadHoldingRegistersAsync(1, 0, 1));

        // The second request is answered first with the first answer again (old transaction id, value 1), then with
        // its own (value 2). A master that paired by arrival order would return 1 and stay one answer behind.
        slave.Store.SetHoldingRegisters(0, [2]);
        Assert.Equal(new ushort[] { 2 }, await master.ReadHoldingRegistersAsync(1, 0, 1));
        slave.Store.SetHoldingRegisters(0, [3]);
        Assert.Equal(new ushort[] { 3 }, await master.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal(3, slave.Server.RequestsServed);
    }

    [Fact]
    public async Task A_stale_answer_on_an_rtu_link_is_skipped_when_it_answers_another_request()
    {
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.RtuOverTcp, faults: ModbusFaultInjector.From(r =>
            r.Sequence == 2 ? ModbusFault.Stale : ModbusFault.None));
        await using var master = slave.CreateMaster();
        slave.Store.SetCoils(0, [true]);
        Assert.Equal(new[] { true }, await master.ReadCoilsAsync(1, 0, 1));

        // RTU has no transaction id: the repeated FC 01 answer must be told apart by its function code.
        slave.Store.SetHoldingRegisters(0, [5]);
        Assert.Equal(new ushort[] { 5 }, await master.ReadHoldingRegistersAsync(1, 0, 1));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Malformed_frames_sent_to_the_server_are_counted_and_dropped_while_good_ones_flow(ModbusServerTransport transport)
    {
        await using var slave = await LoopbackModbus.StartAsync(transport);
        slave.Store.SetHoldingRegisters(0, [42]);
        using var raw = new System.Net.Sockets.TcpClient();
        await raw.ConnectAsync(slave.Endpoint);
        var stream = raw.GetStream();
        var pdu = Convert.FromHexString("03000000"); // FC 03 missing a byte
        var good = ModbusRequest.ReadHoldingRegisters(0, 1).ToArray();
        var buffer = new byte[300];
        int length;
        if (transport == ModbusServerTransport.Tcp)
        {
            length = ModbusTcpFraming.Encode(buffer, 1, 1, pdu);
            length += ModbusTcpFraming.Encode(buffer.AsSpan(length), 2, 1, good);
        }
        else
        {
            length = ModbusRtuFraming.Encode(buffer, 1, good);
            buffer[length - 1] ^= 0xFF; // bad CRC
            length += ModbusRtuFraming.Encode(buffer.AsSpan(length), 1, good);
        }

        await stream.WriteAsync(buffer.AsMemory(0, length));
        if (transport == ModbusServerTransport.Tcp)
        {
            // The MBAP length bounds the short FC 03: it is refused with exception 03 (issue 13), not dropped.
            var refusal = new byte[9];
            await stream.ReadExactlyAsync(refusal).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(Convert.FromHexString("000100000003018303"), refusal);
        }

        var answer = new byte[64];
        var read = await stream.ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(read >= 7);
        Assert.Equal(42, answer[read - (transport == ModbusServerTransport.Tcp ? 1 : 3)]);
        if (transport == ModbusServerTransport.Tcp)
        {
            Assert.Equal(1, slave.Server.MalformedRequestsRefused);
        }
        else
        {
            Assert.True(slave.Server.MalformedFramesDropped >= 1);
        }
    }
}
