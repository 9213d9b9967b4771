using IocEdge.Edge.Configuration;
using IocEdge.Testing;

namespace IocEdge.Edge.Tests.Forwarding;

/// <summary>
/// Issue 14's new keys (Gateway:Mqtt sender keys, Gateway:Outbox bounds) get the issue 13 treatment: one bad value is
/// one line naming the file and the key, and the real executable exits 78 (EX_CONFIG, sysexits.h) before it opens
/// anything; --help lists them.
/// </summary>
[Trait(Traits.Acceptance, "outbox")]
public sealed class ForwardingConfigurationTests : IDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
    private readonly TempDirectory _dir = new("fwdconfig");

    public void Dispose() => _dir.Dispose();

    /// <summary>(section, key, a bad JSON value): each one the validator or the binder must refuse.</summary>
    public static TheoryData<string, string, string> BadValues => new()
    {
        { "Mqtt", "BatchMaxBytes", "100" },            // under 1024: not even one reading's JSON with headroom
        { "Mqtt", "BatchMaxAge", "\"-00:00:01\"" },     // negative
        { "Mqtt", "MaxInFlight", "0" },                // at least one message in flight
        { "Mqtt", "BackfillReadingsPerSecond", "-5" }, // a negative rate
        { "Mqtt", "HealthPeriod", "\"00:00:00\"" },     // under 1 s
        { "Mqtt", "Payload", "\"Xml\"" },              // Json or Compact
        { "Outbox", "MaxBytes", "-1" },
        { "Outbox", "MaxAge", "\"-1.00:00:00\"" },
        { "Outbox", "MinFreeBytes", "-1" },
        { "Outbox", "Eviction", "\"Newest\"" },
        { "Outbox", "RamBufferReadings", "-1" },
        { "Outbox", "WalMaxBytes", "1000" },
        { "Outbox", "CheckpointInterval", "\"00:00:00\"" },
    };

    private string Config(string section, string key, string value)
    {
        var mqtt = section == "Mqtt" ? $", \"{key}\": {value}" : string.Empty;
        var outbox = section == "Outbox" ? $", \"Outbox\": {{ \"{key}\": {value} }}" : string.Empty;
        return $$"""
            { "Gateway": { "Id": "gw-test", "DataDirectory": "{{_dir.Path}}/data",
              "Mqtt": { "Host": "127.0.0.1", "Port": 1{{mqtt}} }{{outbox}} } }
            """;
    }

    [Theory]
    [Trait(Traits.Category, Traits.Unit)]
    [MemberData(nameof(BadValues))]
    public async Task One_bad_value_of_a_new_key_is_one_line_naming_the_file_and_the_key(string section, string key, string value)
    {
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, Config(section, key, value));

        var ex = Assert.Throws<GatewayConfigurationException>(() =>
        {
            using var host = GatewayHost.Build(["--config", path]);
        });

        var line = Assert.Single(ex.Problems);
        Assert.StartsWith($"{path}: Gateway:{section}:{key} ", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was opened or created");
    }

    [Fact]
    [Trait(Traits.Category, Traits.Integration)]
    public async Task The_executable_exits_78_with_one_line_for_each_bad_new_key()
    {
        var path = _dir.File("gateway.json");
        var mqtt = string.Join(", ", BadValues.Where(r => (string)r[0] == "Mqtt").Select(r => $"\"{r[1]}\": {r[2]}"));
        var outbox = string.Join(", ", BadValues.Where(r => (string)r[0] == "Outbox").Select(r => $"\"{r[1]}\": {r[2]}"));
        await File.WriteAllTextAsync(path, $$"""
            { "Gateway": { "Id": "gw-test", "DataDirectory": "{{_dir.Path}}/data",
              "Mqtt": { "Host": "127.0.0.1", "Port": 1, {{mqtt}} }, "Outbox": { {{outbox}} } } }
            """);

        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--config", path], TimeSpan.FromSeconds(60));

        Assert.Equal(78, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var row in BadValues)
        {
            var key = $"Gateway:{row[0]}:{row[1]}";
            Assert.True(lines.Count(l => l.StartsWith($"{path}: {key} ", StringComparison.Ordinal)) == 1,
                $"exactly one line for {key} in:\n{output}");
        }

        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was opened or created");
    }

    [Fact]
    [Trait(Traits.Category, Traits.Integration)]
    public async Task Help_lists_the_sender_and_outbox_keys()
    {
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--help"], TimeSpan.FromSeconds(60));

        Assert.Equal(0, exit);
        foreach (var key in BadValues.Select(r => (string)r[1]))
        {
            Assert.Contains(key, output, StringComparison.Ordinal);
        }

        Assert.Contains("Outbox:{", output, StringComparison.Ordinal);
    }
}
