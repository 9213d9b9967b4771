using System.Net;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Client;
using IocEdge.Protocols.Modbus.Tests.Server;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.FieldFaults;

/// <summary>
/// Issue 13, item 1: a slave that answers late (libmodbus's unit test: unit 17, register 0x172 answered after 500 ms)
/// must never have its late answer taken for the next request. Serial framing has no transaction id, so the master
/// waits out the late-answer window and then t3.5 of silence after any unanswered attempt.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "field-faults")]
public sealed class LateAnswerTests
{
    private const byte Unit = 17;
    private const ushort SlowRegister = 0x172;
    private const ushort Register = 0x160;

    /// <summary>The late answer from the field report: unit 0x11, FC 03, byte count 2, value 0x0000, CRC 79 87.</summary>
    private static readonly byte[] LateAnswer = [0x11, 0x03, 0x02, 0x00, 0x00, 0x79, 0x87];

    [Fact]
    public void The_reported_late_answer_has_a_valid_crc()
    {
        // MODBUS over Serial Line V1.02 section 6.2.2: CRC-16 (poly 0xA001 reflected, init 0xFFFF), low byte first.
        var crc = ModbusChecksums.Crc16(LateAnswer.AsSpan(0, 5));
        Assert.Equal(0x79, (byte)crc);
        Assert.Equal(0x87, (byte)(crc >> 8));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task A_late_answer_is_never_taken_for_the_next_read(int retries)
    {
        var time = new FakeTimeProvider();
        using var line = await StreamPair.CreateAsync();
        using var stop = new CancellationTokenSource();
        var slave = LateRtuSlaveAsync(line.Slave, time, stop.Token);
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions
        {
            Line = new ModbusSerialLineSettings { BaudRate = 9600 },
            Timeout = TimeSpan.FromMilliseconds(300),
            Retries = retries,
        }, time);

        await Assert.ThrowsAsync<ModbusTimeoutException>(() =>
            time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, SlowRegister, 1).AsTask(), TimeSpan.FromMilliseconds(25)));

        // The true value of 0x160 (libmodbus unit-test.h UT_REGISTERS_ADDRESS) on this slave is 0xBEEF, every time.
        for (var read = 0; read < 3; read++)
        {
            var value = await time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, Register, 1).AsTask(), TimeSpan.FromMilliseconds(25));
            Assert.Equal(0xBEEF, value[0]);
        }

        var statistics = (IModbusMasterStatistics)master;
        Assert.Equal(retries + 1, statistics.Timeouts);
        Assert.True(statistics.LateBytesDiscarded >= LateAnswer.Length, $"discarded {statistics.LateBytesDiscarded}");
        await stop.CancelAsync();
        await slave.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(ModbusSerialMode.Rtu)]
    [InlineData(ModbusSerialMode.Ascii)]
    public async Task Our_serial_masters_ignore_a_late_answer_from_a_slow_slave(ModbusSerialMode mode)
    {
        var time = new FakeTimeProvider();
        using var line = await StreamPair.CreateAsync();
        var store = new ModbusDataStore();
        store.SetHoldingRegisters(Register, [0xBEEF]);
        var faults = ModbusFaultInjector.From(r => r.Address == SlowRegister
            ? ModbusFault.Delayed(TimeSpan.FromMilliseconds(500))
            : ModbusFault.None);
        await using var server = new ModbusServer(new Dictionary<byte, ModbusDataStore> { [Unit] = store }, faults, time);
        await server.StartSerialAsync(line.Slave, mode);
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions
        {
            Mode = mode,
            Timeout = TimeSpan.FromMilliseconds(300),
            Retries = 0,
        }, time);

        await Assert.ThrowsAsync<ModbusTimeoutException>(() =>
            time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, SlowRegister, 1).AsTask(), TimeSpan.FromMilliseconds(25)));
        var value = await time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, Register, 1).AsTask(), TimeSpan.FromMilliseconds(25));
        Assert.Equal(0xBEEF, value[0]);
    }

    [Fact]
    public async Task The_rtu_over_tcp_master_ignores_a_late_answer_from_a_slow_slave() =>
        await ReadAfterALateAnswerOverALoopbackAsync(ModbusServerTransport.RtuOverTcp);

    [Fact]
    public async Task The_tcp_master_ignores_a_late_answer_by_its_transaction_id()
    {
        var master = await ReadAfterALateAnswerOverALoopbackAsync(ModbusServerTransport.Tcp);

        Assert.Equal(1, master.FramesDiscarded);
    }

    /// <summary>
    /// Over a loopback server of <paramref name="transport"/>: register <see cref="SlowRegister"/> answers 500 ms late
    /// against a 300 ms timeout with no retry; the next read of <see cref="Register"/> must return its own 0xBEEF.
    /// Returns the master's counters.
    /// </summary>
    private static async Task<IModbusMasterStatistics> ReadAfterALateAnswerOverALoopbackAsync(ModbusServerTransport transport)
    {
        var time = new FakeTimeProvider();
        var faults = ModbusFaultInjector.From(r => r.Address == SlowRegister
            ? ModbusFault.Delayed(TimeSpan.FromMilliseconds(500))
            : ModbusFault.None);
        await using var loopback = await LoopbackModbus.StartAsync(transport, time, faults, Unit);
        loopback.Units[Unit].SetHoldingRegisters(Register, [0xBEEF]);
        await using var master = loopback.CreateMaster(time, TimeSpan.FromMilliseconds(300), retries: 0);

        await Assert.ThrowsAsync<ModbusTimeoutException>(() =>
            time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, SlowRegister, 1).AsTask(), TimeSpan.FromMilliseconds(25)));
        var value = await time.DriveAsync(master.ReadHoldingRegistersAsync(Unit, Register, 1).AsTask(), TimeSpan.FromMilliseconds(25));
        Assert.Equal(0xBEEF, value[0]);
        return (IModbusMasterStatistics)master;
    }

    [Fact]
    public async Task A_write_answer_that_echoes_another_value_is_a_counted_protocol_error_never_a_success()
    {
        // Application protocol V1.1b3 section 6.6: the normal FC 06 response is an echo of the request.
        using var line = await StreamPair.CreateAsync();
        using var stop = new CancellationTokenSource();
        var slave = Task.Run(async () =>
        {
            var request = new byte[8];
            await line.Slave.ReadExactlyAsync(request, stop.Token);
            var wrong = new byte[8];
            ModbusRtuFraming.Encode(wrong, Unit, [0x06, 0x01, 0x60, 0x12, 0x35]); // value 0x1235, asked 0x1234
            await line.Slave.WriteAsync(wrong, stop.Token);
        });
        await using var master = ModbusMaster.CreateSerial(line.Master, new ModbusStreamMasterOptions
        {
            Line = null,
            Timeout = TimeSpan.FromSeconds(5),
            Retries = 0,
            LateAnswerWindow = TimeSpan.Zero,
        });

        await Assert.ThrowsAsync<ModbusProtocolException>(() => master.WriteSingleRegisterAsync(Unit, Register, 0x1234).AsTask());
        Assert.Equal(1, ((IModbusMasterStatistics)master).ProtocolErrors);
        await slave.WaitAsync(TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// A single-threaded RTU slave like libmodbus's unit-test server: it answers a read of 0x172 after 500 ms
    /// (on <paramref name="time"/>) with value 0, and a read of 0x160 at once with 0xBEEF; one request at a time.
    /// </summary>
    private static async Task LateRtuSlaveAsync(Stream stream, TimeProvider time, CancellationToken stop)
    {
        var request = new byte[8];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(request, stop);
                Assert.Equal(Unit, request[0]);
                var address = (ushort)((request[2] << 8) | request[3]);
                if (address == SlowRegister)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), time, stop);
                    await stream.WriteAsync(LateAnswer, stop);
                }
                else
                {
                    var answer = new byte[7];
                    ModbusRtuFraming.Encode(answer, Unit, [0x03, 0x02, 0xBE, 0xEF]);
                    await stream.WriteAsync(answer, stop);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
