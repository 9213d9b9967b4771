using System.Net.Sockets;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Modbus.Tests.Client;
using IocEdge.Protocols.Modbus.Tests.Server;

namespace IocEdge.Protocols.Modbus.Tests.FieldFaults;

/// <summary>
/// Issue 13, item 4: FC 11 Report Server ID (MODBUS Application Protocol V1.1b3 section 6.13: request = function code
/// alone; response = function, byte count, server id (device specific), run indicator status 0x00 OFF / 0xFF ON,
/// additional data (device specific)). The specification's example gives the request byte and the response layout
/// only; the response bytes below follow that layout with libmodbus's 1-byte server id 0xB4 and "LMB", and their RTU
/// CRCs were computed by pymodbus 3.0 (<c>pymodbus.utilities.computeCRC</c>), not by our code.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "field-faults")]
public sealed class ReportServerIdTests
{
    internal static void AssertReport(ModbusServerIdReport report, byte[] serverId, bool running, string additional)
    {
        Assert.Equal(Convert.ToHexString(serverId), Convert.ToHexString(report.ServerId));
        Assert.Equal(running ? 0xFF : 0x00, report.RunIndicatorStatus);
        Assert.Equal(additional, report.AdditionalText);
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    [Fact]
    public void Request_is_the_function_code_alone_and_frames_as_the_independent_crc_says()
    {
        var request = ModbusRequest.ReportServerId();
        Assert.Equal(Hex("11"), request.ToArray());
        var adu = new byte[ModbusRtuFraming.MaxAduLength];
        Assert.Equal(Hex("11 11 CD EC"), adu[..ModbusRtuFraming.Encode(adu, 0x11, request.ToArray())]);

        // Server side: the RTU framer finds the 4-byte request, the decoder accepts it.
        var pdu = new byte[ModbusLimits.MaxPduLength];
        Assert.True(ModbusRtuFraming.TryDecode(Hex("11 11 CD EC"), ModbusFrameDirection.Request, pdu, out var frame, out var consumed));
        Assert.Equal(4, consumed);
        Assert.Equal(ModbusRequestDecodeStatus.Ok, ModbusRequest.TryDecode(pdu.AsSpan(0, frame.PduLength), out var decoded, out _));
        Assert.Equal(ModbusFunctionCode.ReportServerId, decoded.Function);
    }

    [Fact]
    public void Response_encodes_and_decodes_in_the_specification_order()
    {
        var pdu = new byte[ModbusLimits.MaxPduLength];
        var length = ModbusResponse.EncodeServerIdReport(pdu, [0xB4], ModbusServerIdReport.RunIndicatorOn, "LMB"u8);
        Assert.Equal(Hex("11 05 B4 FF 4C 4D 42"), pdu[..length]);

        var adu = new byte[ModbusRtuFraming.MaxAduLength];
        Assert.Equal(Hex("11 11 05 B4 FF 4C 4D 42 75 27"), adu[..ModbusRtuFraming.Encode(adu, 0x11, pdu.AsSpan(0, length))]);
        Assert.True(ModbusRtuFraming.TryDecode(Hex("11 11 05 B4 FF 4C 4D 42 75 27 11"), ModbusFrameDirection.Response, pdu,
            out var frame, out var consumed));
        Assert.Equal(10, consumed);

        var report = ModbusResponse.DecodeServerIdReport(0x11, ModbusRequest.ReportServerId(), pdu.AsSpan(0, frame.PduLength));
        Assert.Equal([0xB4], report.ServerId);
        Assert.True(report.IsRunning);
        Assert.Equal("LMB", report.AdditionalText);

        // A 2-byte server id (e.g. SUTO's manuals) and the pymodbus layout (run indicator last, no additional data).
        var two = ModbusResponse.DecodeServerIdReport(1, ModbusRequest.ReportServerId(), Hex("11 04 00 07 00 41"), 2);
        AssertReport(two, [0x00, 0x07], false, "A");
        var last = ModbusResponse.DecodeServerIdReport(1, ModbusRequest.ReportServerId(), Hex("11 04 50 4D 42 FF"), null);
        AssertReport(last, "PMB"u8.ToArray(), true, string.Empty);
    }

    [Theory]
    [InlineData("11 06 B4 FF 4C 4D 42")]   // byte count 6, 5 bytes follow
    [InlineData("11 04 B4 FF 4C 4D 42")]   // byte count 4, 5 bytes follow
    [InlineData("11")]                     // no byte count
    [InlineData("11 00")]                  // no run indicator
    [InlineData("11 01 B4")]               // 1-byte server id but no run indicator
    [InlineData("11 02 B4 01")]            // run indicator neither 0x00 nor 0xFF
    [InlineData("03 02 00 00")]            // another function's answer
    [InlineData("91 01 00")]               // exception response of 3 bytes
    public void A_malformed_response_is_a_protocol_error_never_a_report(string response)
    {
        Assert.Throws<ModbusProtocolException>(() =>
            ModbusResponse.DecodeServerIdReport(1, ModbusRequest.ReportServerId(), Hex(response)));
    }

    [Fact]
    public void An_exception_response_is_a_device_exception_and_a_request_with_data_is_refused_with_03()
    {
        var ex = Assert.Throws<ModbusDeviceException>(() =>
            ModbusResponse.DecodeServerIdReport(1, ModbusRequest.ReportServerId(), Hex("91 01")));
        Assert.Equal(ModbusExceptionCode.IllegalFunction, ex.Code);
        Assert.Equal(ModbusRequestDecodeStatus.Malformed, ModbusRequest.TryDecode(Hex("11 00"), out _, out var code));
        Assert.Equal(ModbusExceptionCode.IllegalDataValue, code);
    }

    [Fact]
    public void Encoder_refuses_a_run_indicator_other_than_00_or_FF_and_data_beyond_one_pdu()
    {
        var pdu = new byte[ModbusLimits.MaxPduLength];
        Assert.Throws<ArgumentException>(() => ModbusResponse.EncodeServerIdReport(pdu, [1], 0x01, default));
        Assert.Throws<ArgumentException>(() => ModbusResponse.EncodeServerIdReport(pdu, [1], 0xFF, new byte[250]));
        Assert.Equal(253, ModbusResponse.EncodeServerIdReport(pdu, [1], 0xFF, new byte[249]));
        Assert.Throws<ArgumentException>(() => new ModbusDataStore().SetServerId([1], true, new byte[250]));
    }

    [Theory]
    [InlineData(ModbusServerTransport.Tcp)]
    [InlineData(ModbusServerTransport.RtuOverTcp)]
    public async Task Our_masters_read_the_configured_report_from_our_server_over_tcp(ModbusServerTransport transport)
    {
        await using var slave = await LoopbackModbus.StartAsync(transport, null, null, 1, 7);
        slave.Units[7].SetServerId([0x2A, 0x01], running: false, "AQ-7 v2"u8);
        await using var master = slave.CreateMaster();

        var configured = await master.ReportServerIdAsync(7, serverIdLength: 2);
        AssertReport(configured, [0x2A, 0x01], false, "AQ-7 v2");

        // Default: the unit id as a 1-byte server id, running, the identification text.
        var byDefault = await master.ReportServerIdAsync(1);
        AssertReport(byDefault, [0x01], true, "IocEdge IocEdge.Protocols.Modbus 1.0");

        slave.Units[1].SetRunIndicator(false);
        Assert.False((await master.ReportServerIdAsync(1)).IsRunning);
    }

    [Theory]
    [InlineData(ModbusSerialMode.Rtu)]
    [InlineData(ModbusSerialMode.Ascii)]
    public async Task Our_serial_masters_read_the_report_from_our_serial_server(ModbusSerialMode mode)
    {
        using var line = await StreamPair.CreateAsync();
        var units = new Dictionary<byte, ModbusDataStore> { [17] = new() };
        units[17].SetServerId([0xB4], running: true, "LMB"u8);
        await using var server = new ModbusServer(units);
        await server.StartSerialAsync(line.Slave, mode);
        await using var master = ModbusMaster.CreateSerial(line.Master,
            new ModbusStreamMasterOptions { Mode = mode, Line = new ModbusSerialLineSettings { BaudRate = 19200 } });

        var report = await master.ReportServerIdAsync(17);
        AssertReport(report, [0xB4], true, "LMB");
    }

    [Fact]
    public async Task A_tcp_request_for_fc11_with_stray_bytes_gets_exception_03_and_the_next_request_is_served()
    {
        await using var slave = await LoopbackModbus.StartAsync(ModbusServerTransport.Tcp);
        slave.Store.SetServerId([0x05], running: true, default);
        using var client = new TcpClient();
        await client.ConnectAsync(slave.Endpoint);
        var stream = client.GetStream();

        await stream.WriteAsync(Hex("00 01 00 00 00 03 01 11 00"));
        var refused = new byte[9];
        await stream.ReadExactlyAsync(refused).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Hex("00 01 00 00 00 03 01 91 03"), refused);

        await stream.WriteAsync(Hex("00 02 00 00 00 02 01 11"));
        var answer = new byte[11];
        await stream.ReadExactlyAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Hex("00 02 00 00 00 05 01 11 02 05 FF"), answer);
    }

    [Fact]
    public async Task A_malformed_report_is_counted_and_retried_never_returned()
    {
        // A raw fake TCP slave answers the first attempt with a wrong byte count, the retry correctly.
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var fake = Task.Run(async () =>
        {
            using var peer = await listener.AcceptTcpClientAsync();
            var s = peer.GetStream();
            var request = new byte[8];
            for (var i = 0; i < 2; i++)
            {
                await s.ReadExactlyAsync(request);
                byte[] pdu = i == 0 ? Hex("11 03 05 FF") : Hex("11 02 05 FF");
                byte[] header = [request[0], request[1], 0, 0, 0, (byte)(pdu.Length + 1), request[6]];
                await s.WriteAsync(header.Concat(pdu).ToArray());
            }
        });
        await using var master = ModbusMaster.CreateTcp(new ModbusTcpMasterOptions
        {
            Host = "127.0.0.1", Port = port, Timeout = TimeSpan.FromSeconds(2), Retries = 1,
        });

        var report = await master.ReportServerIdAsync(1);
        Assert.Equal([0x05], report.ServerId);
        Assert.Equal(1, ((IModbusMasterStatistics)master).ProtocolErrors);
        await fake.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
