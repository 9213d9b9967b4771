using IocEdge.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 14 (footprint): the gateway ships as a NativeAOT executable (edge/IocEdge.Gateway/publish.sh, PublishAot in its
/// csproj). That build, not the JIT one the other tests run, must read a real Modbus device (pymodbus) and publish
/// to a real broker (mosquitto), and keep its --help and one-line configuration errors (exit 78).
/// Publishing AOT takes several minutes on a small machine, so these tests are opt-in: set IOCEDGE_AOT_TESTS=1 (they
/// publish into artifacts/gateway/linux-x64-aot; MSBuild skips the native compile when nothing changed), or
/// IOCEDGE_AOT_GATEWAY=/path/to/iocedge-gateway to test a build you already have.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class AotGatewayTests : IDisposable
{
    private readonly TempDirectory _dir = new("aotgw");

    public void Dispose() => _dir.Dispose();

    [AotFact]
    public async Task The_AOT_gateway_reads_a_pymodbus_device_and_publishes_its_values_to_mosquitto()
    {
        var exe = await AotBuild.PathAsync();
        // A native executable: no IL assembly of the gateway beside it, so no JIT build is being tested by mistake.
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(exe)!, "iocedge-gateway.dll")), "the AOT output holds no iocedge-gateway.dll");
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(exe)[..4]);

        // The scenario (a pymodbus env-station, mosquitto, four good values at the broker, the outbox a SQLite file on
        // the card: native e_sqlite3 under AOT) is GatewayRun's, shared with the footprint and arm64 tests.
        await using var run = await GatewayRun.StartAsync(_dir, exe, []);
        Assert.False(run.Gateway.HasExited, "the gateway keeps running: " + run.Gateway.Output);
    }

    [AotFact]
    public async Task The_AOT_gateway_prints_help_and_exits_0()
    {
        var (exit, output) = await PeerProcess.RunAsync(await AotBuild.PathAsync(), ["--help"], TimeSpan.FromSeconds(30));

        Assert.Equal(0, exit);
        Assert.StartsWith("Usage: iocedge-gateway", output, StringComparison.Ordinal);
        Assert.Contains("gateway.example.json", output, StringComparison.Ordinal);
    }

    [AotFact]
    public async Task The_AOT_gateway_refuses_a_misspelt_key_and_a_wrong_type_with_one_line_each_and_exit_78()
    {
        // The checker no longer walks the options by reflection (trimmed away under AOT): the same lines as the JIT build
        // (GatewayProcessTests), from ConfigurationShapes.Gateway and the generated binder's conversions.
        var path = _dir.File("bad.json");
        await File.WriteAllTextAsync(path, $$"""
            { "Gateway": { "Id": "gw-aot", "DataDirectory": "{{_dir.File("data")}}", "Mqtt": { "Host": "127.0.0.1", "Port": 1 },
              "Sensors": [ { "Id": "air", "Driver": "Bme280", "Address": "0x76", "PolPeriod": "00:00:30" } ],
              "Modbus": { "Links": [ { "Id": "tcp1", "Transport": "Tcp", "Host": "127.0.0.1", "Port": "eleven-thousand" } ] } } }
            """);

        var (exit, output) = await PeerProcess.RunAsync(await AotBuild.PathAsync(), ["--config", path], TimeSpan.FromSeconds(30));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        Assert.Equal(78, exit);
        Assert.Contains($"{path}: Gateway:Sensors:0:PolPeriod is not a known key; did you mean PollPeriod?", lines);
        Assert.Contains(lines, l => l.StartsWith($"{path}: Gateway:Modbus:Links:0:Port is 'eleven-thousand', which is not a whole number", StringComparison.Ordinal));
        Assert.Equal(3, lines.Length); // the heading and one line per problem, no stack trace
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was opened or created");
    }
}

/// <summary>Runs only when IOCEDGE_AOT_TESTS=1 or IOCEDGE_AOT_GATEWAY is set (publishing NativeAOT takes minutes).</summary>
internal sealed class AotFactAttribute : FactAttribute
{
    public AotFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("IOCEDGE_AOT_TESTS") != "1" && Environment.GetEnvironmentVariable("IOCEDGE_AOT_GATEWAY") is null)
        {
            Skip = "NativeAOT gateway tests are opt-in: set IOCEDGE_AOT_TESTS=1 (publishes the AOT build, minutes) or IOCEDGE_AOT_GATEWAY=PATH.";
        }
    }
}

/// <summary>The published NativeAOT gateway, published once per test run.</summary>
internal static class AotBuild
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync);

    public static Task<string> PathAsync() => Published.Value;

    private static async Task<string> PublishAsync()
    {
        if (Environment.GetEnvironmentVariable("IOCEDGE_AOT_GATEWAY") is { Length: > 0 } given)
        {
            return File.Exists(given) ? given : throw new InvalidOperationException($"IOCEDGE_AOT_GATEWAY={given} does not exist.");
        }

        var root = RepositoryRoot.Path;

        var output = Path.Combine(root, "artifacts", "gateway", "linux-x64-aot");
        var (exit, log) = await PeerProcess.RunAsync(Path.Combine(root, "edge", "IocEdge.Gateway", "publish.sh"), ["-o", output], TimeSpan.FromMinutes(20));
        return exit == 0 ? Path.Combine(output, "iocedge-gateway") : throw new InvalidOperationException("publish.sh failed:\n" + log);
    }
}
