using System.Net;
using System.Net.Sockets;
using IocEdge.Testing;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 13, item 3: the real iocedge-aggregator executable (its build output, copied next to the tests) run as a
/// process with bad arguments; stdout, stderr and exit codes are what a technician sees.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class ExecutableTests : IDisposable
{
    private readonly TempDirectory _dir = new("aggregator-exe");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Help_prints_usage_and_exits_0_without_touching_anything()
    {
        var data = Path.Combine(_dir.Path, "data");

        var (code, stdout, _) = await AggregatorExecutable.RunAsync(["--help", $"--Aggregator:DataDirectory={data}"]);

        Assert.Equal(0, code);
        Assert.Contains("Usage: iocedge-aggregator", stdout, StringComparison.Ordinal);
        Assert.Contains("Aggregator:Mqtt:BindAddress", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task Every_configuration_problem_is_one_line_with_key_source_and_fix_and_exit_78_before_anything_is_created()
    {
        var data = Path.Combine(_dir.Path, "data");

        // The examples: an unknown key (used to start on 1883), a wrong type and an out-of-range value (exit 134).
        var (code, _, stderr) = await AggregatorExecutable.RunAsync([$"--Aggregator:DataDirectory={data}", "--Aggregator:Mqtt:Prot=11884",
            "--Aggregator:Mqtt:Port=abc", "--Aggregator:Ingest:QueueCapacity=0"]);

        Assert.Equal(78, code); // sysexits.h EX_CONFIG
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("Aggregator:Mqtt:Prot (command line) is not a known key: did you mean Aggregator:Mqtt:Port?", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Aggregator:Mqtt:Port (command line) is 'abc', not a whole number", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Aggregator:Ingest:QueueCapacity (command line) must be at least 1", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // no stack trace
        Assert.False(Directory.Exists(data));
    }

    [Theory]
    [InlineData("{\n  \"Aggregator\": { \"Mqtt\": { \"Port\": 1883, } }\n}", ":2:", "not valid JSON")]
    [InlineData("", ":1:1:", "not valid JSON")]
    [InlineData("[1, 2]", ":1:1:", "the top level is a JSON array")]
    public async Task A_malformed_configuration_file_is_one_line_with_its_line_column_and_fix_and_exit_78(string json, string at, string what)
    {
        // Was: "Failed to load configuration from file '...'." with neither the place nor the fix.
        var data = Path.Combine(_dir.Path, "data");
        var file = Path.Combine(_dir.Path, "aggregator.json");
        await File.WriteAllTextAsync(file, json);

        var (code, _, stderr) = await AggregatorExecutable.RunAsync(["--config", file, $"--Aggregator:DataDirectory={data}"]);

        Assert.Equal(78, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(file + at, line, StringComparison.Ordinal);
        Assert.Contains(what, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task An_admin_verb_reads_the_config_file_given_with_config_wherever_it_stands()
    {
        // Was: "gateway-add ID --config FILE" was "wrong arguments" (exit 64) and "gateway-add --config FILE" took the
        // file's path for the gateway id; the README says the verbs read the same layers as the service.
        var data = Path.Combine(_dir.Path, "data");
        var file = Path.Combine(_dir.Path, "aggregator.json");
        await File.WriteAllTextAsync(file, $$"""{ "Aggregator": { "DataDirectory": "{{data}}" } }""");

        var after = await AggregatorExecutable.RunAsync(["gateway-add", "gw-pole-18", "--config", file]);
        var before = await AggregatorExecutable.RunAsync(["gateway-add", "--config", file, "gw-pole-19"]);

        Assert.True(after.Code == 0, after.Err);
        Assert.True(before.Code == 0, before.Err);
        var credentials = await File.ReadAllTextAsync(Path.Combine(data, "credentials.json"));
        Assert.Contains("gw-pole-18", credentials, StringComparison.Ordinal);
        Assert.Contains("gw-pole-19", credentials, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_busy_mqtt_port_is_one_line_naming_the_port_and_the_fix()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (code, _, stderr) = await AggregatorExecutable.RunAsync([$"--Aggregator:DataDirectory={_dir.Path}", $"--Aggregator:Mqtt:Port={port}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1", $"--Aggregator:HttpUrls=http://127.0.0.1:{FreePort.Next()}"]);

        Assert.Equal(69, code); // EX_UNAVAILABLE, not 134
        Assert.Contains($"MQTT: port {port} on 127.0.0.1 is already in use", stderr, StringComparison.Ordinal);
        Assert.Contains("Aggregator:Mqtt:Port", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_busy_http_port_is_one_line_naming_the_port_and_the_fix()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (code, _, stderr) = await AggregatorExecutable.RunAsync([$"--Aggregator:DataDirectory={_dir.Path}", $"--Aggregator:Mqtt:Port={FreePort.Next()}",
            "--Aggregator:Mqtt:BindAddress=127.0.0.1", $"--Aggregator:HttpUrls=http://127.0.0.1:{port}"]);

        Assert.Equal(69, code);
        Assert.Contains($"http://127.0.0.1:{port}", stderr, StringComparison.Ordinal);
        Assert.Contains("Aggregator:HttpUrls", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
