using System.IO.Ports;
using System.Net;
using System.Text.Json;
using IocEdge.Cli;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16, `iocedge modbus scan`: finds the unit ids that answer (a normal and an exception response both mean a
/// device), across baud rates and parities, with a per-request timeout derived from the baud rate (serial line guide
/// V1.02 2.5.1.1), stopping early on request. Against pymodbus on a socat pty pair and over TCP.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ModbusScanTests
{
    private static PyModbusServerOptions TwoUnits(int tableSize = 100) => new()
    {
        TableSize = tableSize,
        Units = new Dictionary<byte, PyModbusUnit> { [3] = new() { HoldingRegisters = [1] }, [7] = new() { HoldingRegisters = [2] } },
    };

    [Fact]
    public async Task Serial_scan_finds_each_unit_on_the_line_and_nothing_else()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using var slave = await PyModbusServer.StartRtuAsync(line.PathA, TwoUnits());
        var r = await Cli.RunAsync("modbus", "scan", "--serial", line.PathB, "--units", "1-10", "--response-time", "500", "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        var found = doc.RootElement.GetProperty("found").EnumerateArray().ToList();
        Assert.Equal([3, 7], found.Select(f => f.GetProperty("unit").GetInt32()));
        Assert.All(found, f => Assert.Equal("normal", f.GetProperty("answer").GetString()));
        Assert.All(found, f => Assert.Equal(9600, f.GetProperty("baud").GetInt32()));
        Assert.Equal(10, doc.RootElement.GetProperty("probes").GetInt32());
    }

    [Fact]
    public async Task An_exception_response_means_a_device_is_there_and_text_output_says_how_it_answered()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using var slave = await PyModbusServer.StartRtuAsync(line.PathA, TwoUnits(tableSize: 10));
        // Register 50 does not exist: both units answer ILLEGAL DATA ADDRESS, and are found.
        var r = await Cli.RunAsync("modbus", "scan", "--serial", line.PathB, "--units", "1-8", "--address", "50", "--response-time", "500");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("unit 3 at " + line.PathB + " 9600 8N1: exception response 0x02 ILLEGAL DATA ADDRESS (a device is there)", r.Out, StringComparison.Ordinal);
        Assert.Contains("unit 7 at", r.Out, StringComparison.Ordinal);
        Assert.Contains("2 unit(s) answered; 8 request(s)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Across_baud_rates_and_parities_first_stops_at_the_first_answer()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using var slave = await PyModbusServer.StartRtuAsync(line.PathA, TwoUnits());
        var r = await Cli.RunAsync("modbus", "scan", "--serial", line.PathB, "--baud", "9600,19200", "--parity", "N", "--units", "1-10", "--first", "--response-time", "500", "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("probes").GetInt32()); // ids 1, 2, 3: stopped there
        Assert.Single(doc.RootElement.GetProperty("found").EnumerateArray());
    }

    [Fact]
    public async Task On_a_terminal_the_progress_bar_runs_and_the_result_follows_it()
    {
        await using var line = await SocatPtyPair.StartAsync();
        await using var slave = await PyModbusServer.StartRtuAsync(line.PathA, TwoUnits());
        var r = await Cli.RunAsync(new Cli.Options { Tty = true, NoColor = true, Width = 60 }, "modbus", "scan", "--serial", line.PathB, "--units", "1-4", "--response-time", "500");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains(line.PathB + " 9600 8N1", r.Out, StringComparison.Ordinal); // the progress task's label
        Assert.Contains("unit 3 at " + line.PathB + " 9600 8N1: normal response", r.Out, StringComparison.Ordinal);
        Assert.Contains("1 unit(s) answered; 4 request(s)", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[3", r.Out, StringComparison.Ordinal); // no colour under NO_COLOR
    }

    [Fact]
    public async Task Tcp_scan_finds_the_units_of_a_pymodbus_server()
    {
        // pymodbus 3.0 leaves an unknown unit id unanswered over TCP: each costs one --timeout.
        await using var slave = await PyModbusServer.StartTcpAsync(TwoUnits());
        var r = await Cli.RunAsync("modbus", "scan", "--tcp", $"127.0.0.1:{slave.Port}", "--units", "1-8", "--timeout", "500", "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal([3, 7], doc.RootElement.GetProperty("found").EnumerateArray().Select(f => f.GetProperty("unit").GetInt32()));
    }

    [Fact]
    public async Task Tcp_scan_through_a_gateway_counts_exception_0x0B_as_nobody()
    {
        // Our Modbus server hosting several units behaves as a TCP gateway: an unknown unit id gets exception 0x0B
        // Gateway Target Device Failed To Respond (V1.1b3 section 7), which is not a device.
        var units = new Dictionary<byte, ModbusDataStore> { [2] = new(), [5] = new() };
        await using var gateway = new ModbusServer(units);
        var bound = await gateway.StartTcpAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var r = await Cli.RunAsync("modbus", "scan", "--tcp", $"127.0.0.1:{bound.Port}", "--units", "1-6", "--timeout", "500", "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal([2, 5], doc.RootElement.GetProperty("found").EnumerateArray().Select(f => f.GetProperty("unit").GetInt32()));
    }

    [Fact]
    public async Task Nothing_found_exits_1_and_a_missing_port_exits_69()
    {
        await using var line = await SocatPtyPair.StartAsync();
        var none = await Cli.RunAsync("modbus", "scan", "--serial", line.PathB, "--units", "1-3");
        Assert.True(none.Exit == 1, none.ToString());
        Assert.Contains("0 unit(s) answered; 3 request(s)", none.Out, StringComparison.Ordinal);

        var missing = await Cli.RunAsync("modbus", "scan", "--serial", "/dev/ttyNoSuchPort9", "--units", "1-3");
        Assert.True(missing.Exit == 69, missing.ToString());
        Assert.Contains("no such device /dev/ttyNoSuchPort9: plug in the RS-485 adapter or enable the UART", missing.Err, StringComparison.Ordinal);

        Assert.Equal(2, (await Cli.RunAsync("modbus", "scan", "--serial", line.PathB, "--units", "0-300")).Exit);
    }
}

/// <summary>Issue 16, `modbus scan`: the timeout per id and the theoretical minimum, from the frame lengths.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ModbusScanTimingTests
{
    [Fact]
    public void Timeout_per_id_is_derived_from_the_character_time()
    {
        // 9600 8N1: 10 bits a character = 1.0417 ms; t3.5 = 3.646 ms (serial line guide V1.02 2.5.1.1).
        var n81 = new ModbusSerialLineSettings { BaudRate = 9600 };
        var t = ModbusScan.SerialTimeout(n81, TimeSpan.FromMilliseconds(50));
        Assert.Equal((15 * 10 / 9600.0 * 1000) + (2 * 3.5 * 10 / 9600.0 * 1000) + 50, t.TotalMilliseconds, 2);

        // 8E1: 11 bits a character; 1200 baud is 8 times slower than 9600, and the timeout grows with it.
        var e81 = new ModbusSerialLineSettings { BaudRate = 9600, Parity = Parity.Even };
        Assert.Equal(11 / 9600.0 * 1000, e81.CharacterTime.TotalMilliseconds, 3);
        var slow = ModbusScan.SerialTimeout(new ModbusSerialLineSettings { BaudRate = 1200 }, TimeSpan.Zero);
        Assert.Equal(8 * ModbusScan.SerialTimeout(n81, TimeSpan.Zero).TotalMilliseconds, slow.TotalMilliseconds, 1);

        // The minimum of a 247-id scan with one device: 246 x (request + t3.5 + timeout) + request + t3.5 + answer + t3.5.
        var min = ModbusScan.TheoreticalMinimum(n81, 247, 1, t);
        var request = 8 * 10 / 9600.0 * 1000;
        var t35 = 3.5 * 10 / 9600.0 * 1000;
        // (within 0.5 ms: TimeSpan keeps 100 ns ticks, so each of the 247 terms is rounded once)
        Assert.InRange(min.TotalMilliseconds - ((246 * (request + t35 + t.TotalMilliseconds)) + request + t35 + (7 * 10 / 9600.0 * 1000) + t35), -0.5, 0.5);
    }
}
