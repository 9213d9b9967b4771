using System.Net.Sockets;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Server;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.FieldFaults;

/// <summary>
/// Issue 13, items 2 and 3: every malformed or incomplete request gets a defined outcome (an exception response or a
/// closed connection) and the connection keeps serving; unit 0xFF and 0 reach a single-unit TCP server.
/// Raw bytes over a real loopback socket. References: Application Protocol V1.1b3 section 4.1 (PDU), 6.3 and 6.12
/// (FC 03 and FC 10 layouts and state diagrams: byte count = 2 x quantity, else exception 03), section 7 (exception
/// codes 01, 03, 0B); Messaging on TCP/IP Implementation Guide V1.0b section 3.1.3 (MBAP: length = unit id + PDU)
/// and 4.4.2.2 (unit identifier 0xFF, or 0, for a server reached directly).
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "field-faults")]
public sealed class MalformedRequestTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    private static async Task<LoopbackModbus> StartAsync(ModbusServerTransport transport, TimeProvider? time = null, byte unit = 1)
    {
        var slave = await LoopbackModbus.StartAsync(transport, time, null, unit);
        slave.Units[unit].SetHoldingRegisters(0x160, [0xBEEF]);
        return slave;
    }

    private static async Task<byte[]> ExchangeAsync(NetworkStream stream, byte[] request, int expectedLength)
    {
        await stream.WriteAsync(request);
        var answer = new byte[expectedLength];
        await stream.ReadExactlyAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return answer;
    }

    [Theory]
    // FC 16 (0x10) with quantity 0 and byte count 0, then stray bytes; MBAP length 13 bounds the frame.
    [InlineData("00 19 00 00 00 0D FF 10 01 60 00 00 00 02 2B 00 01 00 64", "00 19 00 00 00 03 FF 90 03")]
    // FC 03 read followed by one stray byte (MBAP length 7 for a 5-byte PDU).
    [InlineData("00 1A 00 00 00 07 FF 03 01 60 00 01 00", "00 1A 00 00 00 03 FF 83 03")]
    // FC 03 one byte short.
    [InlineData("00 1B 00 00 00 05 FF 03 01 60 00", "00 1B 00 00 00 03 FF 83 03")]
    // FC 10 whose byte count (4) disagrees with its quantity (2 registers = 4 bytes) and its length (2 data bytes).
    [InlineData("00 1C 00 00 00 09 FF 10 01 60 00 02 04 00 01", "00 1C 00 00 00 03 FF 90 03")]
    // Function code 0x00 and an unknown function code: exception 01 (illegal function).
    [InlineData("00 1D 00 00 00 02 FF 00", "00 1D 00 00 00 03 FF 80 01")]
    [InlineData("00 1E 00 00 00 06 FF 41 01 60 00 01", "00 1E 00 00 00 03 FF C1 01")]
    public async Task A_malformed_tcp_request_is_answered_with_an_exception_and_the_next_request_is_served(string request, string expected)
    {
        await using var slave = await StartAsync(ModbusServerTransport.Tcp);
        using var client = new TcpClient();
        await client.ConnectAsync(slave.Endpoint);
        var stream = client.GetStream();

        Assert.Equal(Hex(expected), await ExchangeAsync(stream, Hex(request), Hex(expected).Length));
        Assert.Equal(Hex("00 2A 00 00 00 05 FF 03 02 BE EF"),
            await ExchangeAsync(stream, Hex("00 2A 00 00 00 06 FF 03 01 60 00 01"), 11));
    }

    [Theory]
    [InlineData("00 01 00 01 00 06 FF 03 01 60 00 01")] // protocol identifier 1
    [InlineData("00 01 00 00 01 00 FF 03 01 60 00 01")] // MBAP length 256 (> 254)
    [InlineData("00 01 00 00 00 01 FF")]                // MBAP length 1: no function code
    public async Task An_impossible_mbap_header_closes_the_connection_and_a_new_one_is_served(string request)
    {
        await using var slave = await StartAsync(ModbusServerTransport.Tcp);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(slave.Endpoint);
            var stream = client.GetStream();
            await stream.WriteAsync(Hex(request));
            var read = await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, read);
        }

        using var next = new TcpClient();
        await next.ConnectAsync(slave.Endpoint);
        Assert.Equal(Hex("00 02 00 00 00 05 FF 03 02 BE EF"),
            await ExchangeAsync(next.GetStream(), Hex("00 02 00 00 00 06 FF 03 01 60 00 01"), 11));
    }

    [Fact]
    public async Task An_incomplete_tcp_frame_closes_the_connection_after_the_incomplete_frame_timeout()
    {
        var time = new FakeTimeProvider();
        await using var slave = await StartAsync(ModbusServerTransport.Tcp, time);
        using var client = new TcpClient();
        await client.ConnectAsync(slave.Endpoint);
        var stream = client.GetStream();
        await stream.WriteAsync(Hex("00 01 00 00 00 06 FF 03 01")); // 3 of the 6 bytes the header announces
        var read = stream.ReadAsync(new byte[16]).AsTask();
        await Task.Delay(200);
        Assert.False(read.IsCompleted);
        time.Advance(slave.Server.IncompleteFrameTimeout - TimeSpan.FromMilliseconds(1));
        await Task.Delay(200);
        Assert.False(read.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, await read.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    // CRC-valid FC 10 whose byte count (4) disagrees with the 2 data bytes that came: exception 03.
    [InlineData("11 10 01 60 00 02 04 00 01", "11 90 03")]
    // CRC-valid FC 03 with one stray byte before the CRC.
    [InlineData("11 03 01 60 00 01 00", "11 83 03")]
    public async Task A_crc_valid_rtu_frame_with_a_wrong_length_is_answered_with_exception_03(string frame, string expected)
    {
        await using var slave = await StartAsync(ModbusServerTransport.RtuOverTcp, unit: 0x11);
        using var client = new TcpClient();
        await client.ConnectAsync(slave.Endpoint);
        var stream = client.GetStream();

        Assert.Equal(Rtu(expected), await ExchangeAsync(stream, Rtu(frame), Rtu(expected).Length));
        Assert.Equal(Rtu("11 03 02 BE EF"), await ExchangeAsync(stream, Rtu("11 03 01 60 00 01"), 7));
    }

    [Fact]
    public async Task An_lrc_valid_ascii_frame_with_a_wrong_length_is_answered_with_exception_03()
    {
        using var line = await Client.StreamPair.CreateAsync();
        var store = new ModbusDataStore();
        store.SetHoldingRegisters(0x160, [0xBEEF]);
        await using var server = new ModbusServer(new Dictionary<byte, ModbusDataStore> { [0x11] = store });
        await server.StartSerialAsync(line.Slave, ModbusSerialMode.Ascii);
        var buffer = new byte[64];
        var length = ModbusAsciiFraming.Encode(buffer, 0x11, Hex("03 01 60 00 01 00"));
        await line.Master.WriteAsync(buffer.AsMemory(0, length));
        var expected = new byte[64];
        var expectedLength = ModbusAsciiFraming.Encode(expected, 0x11, Hex("83 03"));
        var answer = new byte[expectedLength];
        await line.Master.ReadExactlyAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(expected.AsSpan(0, expectedLength).ToArray(), answer);
        Assert.Equal(1, server.MalformedRequestsRefused);
    }

    [Theory]
    [InlineData(0xFF)]
    [InlineData(0x00)]
    public async Task A_single_unit_tcp_server_answers_unit_ff_and_0_as_itself(byte unit)
    {
        await using var slave = await StartAsync(ModbusServerTransport.Tcp);
        await using var master = slave.CreateMaster();
        Assert.Equal(new ushort[] { 0xBEEF }, await master.ReadHoldingRegistersAsync(unit, 0x160, 1));
    }

    [Fact]
    public async Task A_multi_unit_tcp_server_is_a_gateway_for_unit_ff_unless_told_otherwise()
    {
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.Tcp, null, null, 1, 2);
        slave.Units[2].SetHoldingRegisters(0x160, [0xBEEF]);
        await using var master = slave.CreateMaster(retries: 0);
        var refused = await Assert.ThrowsAsync<ModbusDeviceException>(() => master.ReadHoldingRegistersAsync(0xFF, 0x160, 1).AsTask());
        Assert.Equal(ModbusExceptionCode.GatewayTargetDeviceFailedToRespond, refused.Code);

        slave.Server.TcpDirectUnitId = 2;
        Assert.Equal(new ushort[] { 0xBEEF }, await master.ReadHoldingRegistersAsync(0xFF, 0x160, 1));
        Assert.Throws<ArgumentException>(() => slave.Server.TcpDirectUnitId = 9);
    }

    private static byte[] Rtu(string hex)
    {
        var bytes = Hex(hex);
        var frame = new byte[bytes.Length + 2];
        bytes.CopyTo(frame, 0);
        var crc = ModbusChecksums.Crc16(bytes);
        frame[^2] = (byte)crc;
        frame[^1] = (byte)(crc >> 8);
        return frame;
    }
}
