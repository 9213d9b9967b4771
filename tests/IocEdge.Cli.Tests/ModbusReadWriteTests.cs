using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16, `iocedge modbus read` / `modbus write` against pymodbus 3.0 (a slave we did not write), over Modbus TCP and
/// over RTU on a socat pty pair: data types and word order, exceptions by name (V1.1b3 section 7), clear timeouts.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ModbusReadWriteTests
{
    // 123.456f = 0x42F6E979 (contract README example); CDAB puts the low word first.
    private static PyModbusServerOptions Registers() => new()
    {
        TableSize = 100,
        Units = new Dictionary<byte, PyModbusUnit>
        {
            [1] = new() { HoldingRegisters = [230, 0xFF85, 0xE979, 0x42F6], Coils = [true, false, true] },
        },
    };

    [Fact]
    public async Task Tcp_read_shows_each_data_type_and_word_order()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(Registers());
        var tcp = $"127.0.0.1:{slave.Port}";

        var u16 = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "-u", "1", "-a", "0", "-c", "2");
        Assert.True(u16.Exit == 0, u16.ToString());
        Assert.Contains("0: 230  (0x00E6)", u16.Out, StringComparison.Ordinal);
        Assert.Contains("1: 65413  (0xFF85)", u16.Out, StringComparison.Ordinal);

        var i16 = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "-a", "1", "-t", "int16");
        Assert.Contains("1: -123", i16.Out, StringComparison.Ordinal);

        var f32 = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "-a", "2", "-t", "float32", "--order", "CDAB", "--json");
        Assert.True(f32.Exit == 0, f32.ToString());
        using var doc = JsonDocument.Parse(f32.Out);
        var value = doc.RootElement.GetProperty("values")[0];
        Assert.Equal(123.456, value.GetProperty("value").GetDouble(), 3);
        Assert.Equal("E979 42F6", value.GetProperty("raw").GetString());

        var coils = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "--table", "coils", "-c", "3");
        Assert.Contains("0: 1", coils.Out, StringComparison.Ordinal);
        Assert.Contains("1: 0", coils.Out, StringComparison.Ordinal);
        Assert.Contains("2: 1", coils.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exception_response_is_printed_by_name_with_exit_1()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(Registers());
        var r = await Cli.RunAsync("modbus", "read", "--tcp", $"127.0.0.1:{slave.Port}", "-a", "500", "-c", "2");
        Assert.True(r.Exit == 1, r.ToString());
        Assert.Contains("exception 0x02 ILLEGAL DATA ADDRESS", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // one line, no stack trace
    }

    [Fact]
    public async Task Write_then_read_back_registers_and_coils()
    {
        await using var slave = await PyModbusServer.StartTcpAsync(Registers());
        var tcp = $"127.0.0.1:{slave.Port}";

        var w = await Cli.RunAsync("modbus", "write", "--tcp", tcp, "-a", "10", "-t", "int32", "-70000", "12");
        Assert.True(w.Exit == 0, w.ToString());
        Assert.Contains("wrote 4 register(s) at 10 of unit 1", w.Out, StringComparison.Ordinal);
        Assert.Contains("(FC 10)", w.Out, StringComparison.Ordinal);
        var back = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "-a", "10", "-c", "2", "-t", "int32");
        Assert.Contains("10: -70000", back.Out, StringComparison.Ordinal);
        Assert.Contains("12: 12", back.Out, StringComparison.Ordinal);

        var one = await Cli.RunAsync("modbus", "write", "--tcp", tcp, "-a", "20", "4242");
        Assert.Contains("(FC 06)", one.Out, StringComparison.Ordinal);
        Assert.Contains("20: 4242", (await Cli.RunAsync("modbus", "read", "--tcp", tcp, "-a", "20")).Out, StringComparison.Ordinal);

        var c = await Cli.RunAsync("modbus", "write", "--tcp", tcp, "--table", "coils", "-a", "5", "on", "off", "on");
        Assert.True(c.Exit == 0, c.ToString());
        var coils = await Cli.RunAsync("modbus", "read", "--tcp", tcp, "--table", "coils", "-a", "5", "-c", "3", "--json");
        using var doc = JsonDocument.Parse(coils.Out);
        Assert.Equal([true, false, true], doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetProperty("value").GetBoolean()));

        var tooBig = await Cli.RunAsync("modbus", "write", "--tcp", tcp, "-a", "0", "-t", "int16", "40000");
        Assert.Equal(2, tooBig.Exit);
        Assert.Contains("does not fit int16", tooBig.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rtu_on_a_serial_line_reads_pymodbus_and_a_silent_line_is_a_clear_timeout_exit_69()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using (var slave = await PyModbusServer.StartRtuAsync(line.PathA, Registers()))
        {
            var r = await Cli.RunAsync("modbus", "read", "--serial", line.PathB, "-b", "9600", "-P", "N", "-u", "1", "-a", "0", "-c", "1");
            Assert.True(r.Exit == 0, r.ToString());
            Assert.Contains($"unit 1 holding-registers on {line.PathB} 9600 8N1:", r.Out, StringComparison.Ordinal);
            Assert.Contains("0: 230", r.Out, StringComparison.Ordinal);
        }

        // Nobody on the line any more: no answer within the timeout, said plainly, exit 69.
        var silent = await Cli.RunAsync("modbus", "read", "--serial", line.PathB, "-u", "1", "--timeout", "200", "--retries", "0");
        Assert.True(silent.Exit == 69, silent.ToString());
        Assert.Contains("timeout: unit 1 did not answer on " + line.PathB + " 9600 8N1 within 200 ms", silent.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_peer_exits_69_and_bad_usage_exits_2()
    {
        // A port nobody listens on (bound then closed).
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var refused = await Cli.RunAsync("modbus", "read", "--tcp", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), "--timeout", "300", "--retries", "0");
        Assert.True(refused.Exit == 69, refused.ToString());
        Assert.Contains("cannot reach tcp 127.0.0.1:", refused.Err, StringComparison.Ordinal);

        var noPort = await Cli.RunAsync("modbus", "read", "--serial", "/dev/ttyNoSuchPort8");
        Assert.True(noPort.Exit == 69, noPort.ToString());
        Assert.Contains("no such device /dev/ttyNoSuchPort8: plug in the RS-485 adapter or enable the UART", noPort.Err, StringComparison.Ordinal);

        Assert.Equal(2, (await Cli.RunAsync("modbus", "read", "-a", "0")).Exit);                          // no link
        Assert.Equal(2, (await Cli.RunAsync("modbus", "read", "--tcp", "h", "--table", "registers")).Exit); // not a table
        Assert.Equal(2, (await Cli.RunAsync("modbus", "read", "--serial", "/dev/x", "-u", "248")).Exit);   // not a serial unit id
        Assert.Equal(2, (await Cli.RunAsync("modbus", "read", "--tcp", "h", "-c", "126")).Exit);           // above 125 registers
    }
}
