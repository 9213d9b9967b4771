using System.Text.Json;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>Issue 16, `iocedge config validate`: the gateway's own start-up check, one line per problem naming the key path, exit 78.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ConfigValidateTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli-config");

    public void Dispose() => _dir.Dispose();

    private string Write(string json)
    {
        var path = _dir.File("gateway.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task The_shipped_example_is_valid_and_lists_its_channels()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "gateway.example.json");
        var text = await Cli.RunAsync("config", "validate", "--config", path);
        Assert.True(text.Exit == 0, text.ToString());
        Assert.StartsWith("OK " + path + ": gateway gw-station-01", text.Out, StringComparison.Ordinal);

        var json = await Cli.RunAsync("config", "validate", "--config", path, "--json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement.GetProperty("valid").GetBoolean());
        var channels = doc.RootElement.GetProperty("channels").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.Contains("wq1/ph", channels);     // a Modbus point named by the device's Points
        Assert.Contains("cab1/door", channels);  // a GPIO input
        Assert.Contains("env1/pm2_5", channels); // a whole profile
    }

    [Fact]
    public async Task Every_problem_is_one_line_naming_the_key_path_and_the_exit_code_is_78()
    {
        var path = Write("""
            { "Gateway": { "Id": "gw-1", "Mqtt": { "Hots": "x" },
              "Modbus": { "Links": [ { "Id": "l", "Transport": "Tcp", "Host": "127.0.0.1" } ],
                          "Devices": [ { "Id": "d", "Link": "l", "Profile": "no-such-profile", "UnitId": 1 },
                                       { "Id": "w", "Link": "l", "Profile": "water-sonde", "UnitId": 2, "Points": [ { "Name": "ph", "Unit": "degC" } ] } ] } } }
            """);
        var r = await Cli.RunAsync("config", "validate", "--config", path);
        Assert.True(r.Exit == 78, r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith(path + ": Gateway:Mqtt:Hots is not a known key; did you mean Host?", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Gateway:Modbus:Devices:0:Profile", StringComparison.Ordinal) && l.Contains("no-such-profile", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Gateway:Modbus:Devices:1:Points:0:Unit", StringComparison.Ordinal));
        Assert.Empty(r.Out);
    }

    [Fact]
    public async Task Malformed_json_gives_line_and_column_missing_file_and_json_output_exit_78()
    {
        var path = Write("{ \"Gateway\": { \"Id\": \"gw-1\", } }");
        var r = await Cli.RunAsync("config", "validate", "--config", path);
        Assert.Equal(78, r.Exit);
        Assert.Contains(path + ":1:", r.Err, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", r.Err, StringComparison.Ordinal);

        var missing = await Cli.RunAsync("config", "validate", "--config", _dir.File("nope.json"));
        Assert.Equal(78, missing.Exit);
        Assert.Contains("does not exist", missing.Err, StringComparison.Ordinal);

        var json = await Cli.RunAsync("config", "validate", "--config", path, "--json");
        Assert.Equal(78, json.Exit);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.False(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.Single(doc.RootElement.GetProperty("problems").EnumerateArray());
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_help_has_examples()
    {
        var bad = await Cli.RunAsync("config", "validate", "--no-such-option");
        Assert.True(bad.Exit == 2, bad.ToString());
        Assert.Contains("--no-such-option", bad.Err, StringComparison.Ordinal);
        // The hint names the whole verb (it said `iocedge validate --help`, which does not exist).
        Assert.Contains("see `iocedge config validate --help`", bad.Err, StringComparison.Ordinal);
        var write = await Cli.RunAsync("modbus", "write");
        Assert.Contains("see `iocedge modbus write --help`", write.Err, StringComparison.Ordinal);

        var help = await Cli.RunAsync("config", "validate", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("Examples:", help.Out, StringComparison.Ordinal);
        Assert.Contains("iocedge config validate --config", help.Out, StringComparison.Ordinal);
    }
}
