using System.Text.Json;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>Issue 16, `iocedge gpio watch` (no GPIO chip here: one clear line, exit 69) and `iocedge init`.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class GpioAndInitTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli-init");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Gpio_watch_without_a_chip_is_one_clear_line_and_exit_69()
    {
        var r = await Cli.RunAsync("gpio", "watch", "--chip", "99", "17");
        Assert.True(r.Exit == 69, r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("/dev/gpiochip99", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("iocedge: ", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_writes_a_valid_config_from_flags_and_never_overwrites_without_force()
    {
        var path = _dir.File("etc/gateway.json");
        var r = await Cli.RunAsync("init", "--config", path, "--id", "gw-pole-07", "--mqtt-host", "10.0.0.5", "--mqtt-username", "gw-pole-07",
            "--mqtt-password", "s3cret", "--modbus-serial", "/dev/ttyUSB0", "--baud", "19200", "--parity", "E", "--device", "wx1:weather-station:1",
            "--device", "wq1:water-sonde:2", "--data-dir", _dir.File("data"));
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("wrote " + path + ": gateway gw-pole-07, broker 10.0.0.5:1883, 2 Modbus device(s)", r.Out, StringComparison.Ordinal);

        var check = await Cli.RunAsync("config", "validate", "--config", path, "--json");
        Assert.True(check.Exit == 0, check.ToString());
        using (var doc = JsonDocument.Parse(File.ReadAllText(path)))
        {
            var link = doc.RootElement.GetProperty("Gateway").GetProperty("Modbus").GetProperty("Links")[0];
            Assert.Equal("E", link.GetProperty("Parity").GetString());
            Assert.Equal(19200, link.GetProperty("BaudRate").GetInt32());
        }

        var text = File.ReadAllText(path);
        var again = await Cli.RunAsync("init", "--config", path, "--id", "gw-other", "--mqtt-host", "h");
        Assert.Equal(1, again.Exit);
        Assert.Contains("exists; it was left as it is. Pass --force", again.Err, StringComparison.Ordinal);
        Assert.Equal(text, File.ReadAllText(path));

        var forced = await Cli.RunAsync("init", "--config", path, "--id", "gw-other", "--mqtt-host", "h", "--force");
        Assert.Equal(0, forced.Exit);
        Assert.Contains("\"gw-other\"", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_refuses_an_invalid_result_and_asks_for_missing_flags_only_on_a_terminal()
    {
        var path = _dir.File("gateway.json");
        var bad = await Cli.RunAsync("init", "--config", path, "--id", "GW_Pole", "--mqtt-host", "h");
        Assert.True(bad.Exit == 78, bad.ToString());
        Assert.Contains("Gateway:Id 'GW_Pole' is not a gateway id", bad.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir.Path));

        var missing = await Cli.RunAsync("init", "--config", path, "--mqtt-host", "h");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("--id is missing (no terminal to ask on)", missing.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}

/// <summary>Issue 16, `iocedge doctor` on a gateway whose RS-485 adapter is missing: named as such, with the fix.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class DoctorMissingPortTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli-doctor-port");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_missing_serial_port_is_reported_as_missing_not_as_a_silent_device()
    {
        var path = _dir.File("gateway.json");
        File.WriteAllText(path, $$"""
            { "Gateway": { "Id": "gw-1", "DataDirectory": "{{_dir.File("data")}}", "Mqtt": { "Host": "127.0.0.1", "Port": 1, "Timeout": "00:00:01" },
              "Modbus": { "Links": [ { "Id": "rs485-1", "Transport": "Rtu", "SerialPort": "/dev/ttyNoSuchPort7" } ],
                          "Devices": [ { "Id": "wq1", "Link": "rs485-1", "Profile": "water-sonde", "UnitId": 2 } ] } } }
            """);
        var r = await Cli.RunAsync("doctor", "--config", path, "--json");
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        var row = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "modbus wq1");
        Assert.Equal("fail", row.GetProperty("status").GetString());
        Assert.Contains("no such device /dev/ttyNoSuchPort7", row.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("SerialPort", row.GetProperty("fix").GetString(), StringComparison.Ordinal);
    }
}
