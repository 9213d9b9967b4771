using IocEdge.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 13 "Field faults", item 2: the real iocedge-gateway executable, run as a technician runs it, answers a
/// configuration mistake with one line per problem naming the file, the key path and the fix, no stack trace, and
/// exit code 78 (EX_CONFIG, sysexits.h) before it opens anything.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class GatewayProcessTests : IDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
    private readonly TempDirectory _dir = new("gwproc");

    public void Dispose() => _dir.Dispose();

    private async Task<(int Exit, string[] Lines, string Path)> RunAsync(string json, params string[] extra)
    {
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, json);
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--config", path, .. extra], TimeSpan.FromSeconds(60));
        return (exit, output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), path);
    }

    private string Body(string inner) => $$"""
        { "Gateway": { "Id": "gw-test", "DataDirectory": "{{_dir.Path}}/data", "Mqtt": { "Host": "127.0.0.1", "Port": 1 }{{inner}} } }
        """;

    private static void AssertNoStackTrace(string[] lines) =>
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));

    [Fact]
    public async Task A_misspelt_key_and_a_wrong_type_and_a_bad_profile_are_listed_together_with_exit_78()
    {
        // The examples: PolPeriod for PollPeriod, "Port": "eleven-thousand", plus a validation error.
        var (exit, lines, path) = await RunAsync(Body("""
            , "Sensors": [ { "Id": "air", "Driver": "Bme280", "Address": "0x76", "PolPeriod": "00:00:30" } ],
              "Modbus": { "Links": [ { "Id": "tcp1", "Transport": "Tcp", "Host": "127.0.0.1", "Port": "eleven-thousand" } ],
                          "Devices": [ { "Id": "env1", "Link": "tcp1", "Profile": "env-statoin", "UnitId": 1 } ] }
            """));

        Assert.Equal(78, exit);
        Assert.Contains($"{path}: Gateway:Sensors:0:PolPeriod is not a known key; did you mean PollPeriod?", lines);
        Assert.Contains(lines, l => l.StartsWith($"{path}: Gateway:Modbus:Links:0:Port is 'eleven-thousand', which is not a whole number", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"{path}: Gateway:Modbus:Devices:0:Profile 'env-statoin' is not a known instrument profile", StringComparison.Ordinal));
        AssertNoStackTrace(lines);
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was opened or created");
    }

    [Fact]
    public async Task A_wrong_type_given_on_the_command_line_names_the_command_line()
    {
        var (exit, lines, _) = await RunAsync(Body(string.Empty), "--Gateway:Mqtt:Port=eleven-thousand");

        Assert.Equal(78, exit);
        Assert.Contains(lines, l => l.StartsWith("command line --Gateway:Mqtt:Port: Gateway:Mqtt:Port is 'eleven-thousand'", StringComparison.Ordinal));
        AssertNoStackTrace(lines);
    }

    [Theory]
    [InlineData("{ \"Gateway\": { \"Id\": \"gw-test\", }\n}", 1, 33)] // a trailing comma (RFC 8259 §4: no comma before })
    [InlineData("{ \"Gateway\": { \"Id\": \"gw-test\"\n", 2, 1)]    // a missing brace
    public async Task Malformed_json_names_the_file_line_and_column(string json, int line, int column)
    {
        var (exit, lines, path) = await RunAsync(json);

        Assert.Equal(78, exit);
        Assert.Contains(lines, l => l.StartsWith($"{path}:{line}:{column}: not valid JSON", StringComparison.Ordinal));
        AssertNoStackTrace(lines);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task Help_prints_usage_and_exits_0_without_a_configuration_file(string flag)
    {
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, flag], TimeSpan.FromSeconds(60));

        Assert.Equal(0, exit);
        Assert.StartsWith("Usage: iocedge-gateway", output, StringComparison.Ordinal);
        Assert.Contains("--config FILE", output, StringComparison.Ordinal);
        Assert.Contains("gateway.example.json", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Acceptance", "technician")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_data_directory_this_user_may_not_write_is_one_line_and_exit_73_before_anything_starts()
    {
        // A folder the service's user cannot write (as a systemd unit whose ReadWritePaths does not cover it would see):
        // root bypasses file modes, so as root the gateway runs as nobody (setpriv, util-linux).
        var locked = Directory.CreateDirectory(_dir.File("locked")).FullName;
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
            UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(_dir.Path, File.GetUnixFileMode(_dir.Path) | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, $$"""
            { "Gateway": { "Id": "gw-test", "DataDirectory": "{{locked}}/data", "Mqtt": { "Host": "127.0.0.1", "Port": 1 } } }
            """);
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.OtherRead);
        string[] command = ["dotnet", Dll, "--config", path];
        var (exit, output) = Environment.UserName == "root"
            ? await PeerProcess.RunAsync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", .. command], TimeSpan.FromSeconds(60))
            : await PeerProcess.RunAsync(command[0], command[1..], TimeSpan.FromSeconds(60));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        Assert.True(exit == 73, $"exit {exit}: {output}");
        var line = Assert.Single(lines);
        Assert.StartsWith($"iocedge-gateway: Gateway:DataDirectory {locked}/data cannot be written", line, StringComparison.Ordinal);
        Assert.Contains("/var/lib/iocedge-gateway", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(locked, "data")));
    }

    [Theory]
    [InlineData("--confg", "'--confg' is not an option")]
    [InlineData("banana", "'banana' is not an option")]
    [InlineData("--frob=x", "'--frob' is not an option")]
    [InlineData("--config", "--config needs a file")]
    public async Task An_argument_the_gateway_does_not_take_is_refused_with_exit_78_not_ignored(string argument, string expected)
    {
        // Before: a misspelt --confg was dropped and the default /etc file used; a bare --config fell back to it too.
        var (exit, lines, _) = await RunAsync(Body(string.Empty), argument);

        Assert.Equal(78, exit);
        Assert.Contains(lines, l => l.StartsWith("command line: ", StringComparison.Ordinal) && l.Contains(expected, StringComparison.Ordinal));
        AssertNoStackTrace(lines);
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was started");
    }
}
