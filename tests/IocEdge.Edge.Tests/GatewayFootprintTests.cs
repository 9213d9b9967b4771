using System.Collections.Concurrent;
using System.Text.Json;
using IocEdge.Testing;
using MQTTnet;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 14, benchmark "Gateway RSS and start-up at 100 channels × 1 Hz" (goal ≤ 32 MB): OpenSSL's libcrypto and
/// libssl were 3.7 MB of the AOT gateway's resident memory although no TLS is configured; the outbox drew its stream
/// id from RandomNumberGenerator, which loads them on Linux. A gateway without TLS must not map them: checked on the
/// real executable (JIT here, the NativeAOT build in <see cref="AotFootprintTests"/>) after it has published a
/// reading, so the outbox, the Modbus poller and the MQTT forwarder have all run. The arm64 NativeAOT build
/// (a Raspberry Pi's) is run under qemu-user in <see cref="Arm64GatewayTests"/>.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class GatewayFootprintTests : IDisposable
{
    private readonly TempDirectory _dir = new("gwfoot");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_gateway_without_TLS_publishes_without_loading_OpenSSL()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
        await using var run = await GatewayRun.StartAsync(_dir, "dotnet", [dll]);

        Assert.Empty(GatewayRun.OpenSslMappings(run.Gateway.Pid));
    }
}

/// <summary>The same promise for the shipped NativeAOT build (opt-in: IOCEDGE_AOT_TESTS=1, see AotGatewayTests).</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class AotFootprintTests : IDisposable
{
    private readonly TempDirectory _dir = new("aotfoot");

    public void Dispose() => _dir.Dispose();

    [AotFact]
    public async Task The_AOT_gateway_without_TLS_publishes_without_loading_OpenSSL()
    {
        await using var run = await GatewayRun.StartAsync(_dir, await AotBuild.PathAsync(), []);

        Assert.Empty(GatewayRun.OpenSslMappings(run.Gateway.Pid));
    }

    [AotFact]
    public async Task The_AOT_gateway_declares_libm_which_the_native_SQLite_library_needs_but_does_not_declare()
    {
        // libe_sqlite3.so calls trunc, fmod... from libm without a DT_NEEDED entry of its own; the executable must carry
        // it (the gateway's csproj, LinkerArg). The linux-arm64 build, where lld dropped it, is checked in Arm64GatewayTests.
        Assert.Contains("libm.so.6", await GatewayRun.NeededLibrariesAsync(await AotBuild.PathAsync()));
    }
}

/// <summary>
/// The Raspberry Pi build: <c>publish.sh --rid linux-arm64</c> cross-compiles NativeAOT for arm64 (lld, a Debian arm64
/// sysroot made by arm64-sysroot.sh); run here under qemu-user emulation against a real pymodbus device and mosquitto,
/// it reads the device and publishes its values. Opt-in (publishing takes minutes): IOCEDGE_AOT_TESTS=1, or
/// IOCEDGE_ARM64_GATEWAY=PATH with IOCEDGE_ARM64_SYSROOT=DIR for a build you already have.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class Arm64GatewayTests : IDisposable
{
    private const string Qemu = "/usr/bin/qemu-aarch64-static";
    private readonly TempDirectory _dir = new("arm64gw");

    public void Dispose() => _dir.Dispose();

    [Arm64Fact]
    public async Task The_arm64_AOT_gateway_under_qemu_reads_a_pymodbus_device_and_publishes_to_mosquitto()
    {
        Assert.True(File.Exists(Qemu), $"{Qemu} is missing: apt-get install -y qemu-user-static");
        var (exe, sysroot) = await Arm64Build.PathAsync();
        // An arm64 ELF (e_machine 183 = EM_AARCH64 at offset 18): the emulated build, not the host's by mistake.
        var header = File.ReadAllBytes(exe)[..20];
        Assert.Equal("\u007fELF"u8.ToArray(), header[..4]);
        Assert.Equal(183, BitConverter.ToUInt16(header, 18));

        // libe_sqlite3.so uses libm (trunc) without declaring it: the executable must declare libm, or the outbox fails
        // to open ("undefined symbol: trunc") on a Pi as here (the run below has no LD_PRELOAD). lld on arm64 used to drop
        // it (issue 14, the arm64 footprint run needed LD_PRELOAD=libm.so.6); the gateway's csproj now keeps it.
        Assert.Contains("libm.so.6", await GatewayRun.NeededLibrariesAsync(exe));
        Assert.DoesNotContain("libm.so.6", await GatewayRun.NeededLibrariesAsync(Path.Combine(Path.GetDirectoryName(exe)!, "libe_sqlite3.so")));

        // No libssl in the sysroot (arm64-sysroot.sh does not fetch it): a gateway that needed OpenSSL would stop here.
        await using var run = await GatewayRun.StartAsync(_dir, Qemu, ["-L", sysroot, exe], TimeSpan.FromSeconds(120));

        Assert.False(run.Gateway.HasExited, "the gateway keeps running: " + run.Gateway.Output);
    }
}

/// <summary>Runs when IOCEDGE_AOT_TESTS=1 or IOCEDGE_ARM64_GATEWAY is set (cross-publishing NativeAOT takes minutes).</summary>
internal sealed class Arm64FactAttribute : FactAttribute
{
    public Arm64FactAttribute()
    {
        if (Environment.GetEnvironmentVariable("IOCEDGE_AOT_TESTS") != "1" && Environment.GetEnvironmentVariable("IOCEDGE_ARM64_GATEWAY") is null)
        {
            Skip = "The arm64 NativeAOT gateway test is opt-in: set IOCEDGE_AOT_TESTS=1 (cross-publishes, minutes) or IOCEDGE_ARM64_GATEWAY=PATH and IOCEDGE_ARM64_SYSROOT=DIR.";
        }
    }
}

/// <summary>The arm64 NativeAOT gateway and the sysroot it runs with, published once per test run.</summary>
internal static class Arm64Build
{
    private static readonly Lazy<Task<(string Exe, string SysRoot)>> Published = new(PublishAsync);

    public static Task<(string Exe, string SysRoot)> PathAsync() => Published.Value;

    private static async Task<(string Exe, string SysRoot)> PublishAsync()
    {
        if (Environment.GetEnvironmentVariable("IOCEDGE_ARM64_GATEWAY") is { Length: > 0 } given)
        {
            var sysroot = Environment.GetEnvironmentVariable("IOCEDGE_ARM64_SYSROOT")
                ?? throw new InvalidOperationException("IOCEDGE_ARM64_GATEWAY needs IOCEDGE_ARM64_SYSROOT (the sysroot it was linked against).");
            return File.Exists(given) ? (given, sysroot) : throw new InvalidOperationException($"IOCEDGE_ARM64_GATEWAY={given} does not exist.");
        }

        var root = RepositoryRoot.Path;

        var output = Path.Combine(root, "artifacts", "gateway", "linux-arm64-aot");
        var (exit, log) = await PeerProcess.RunAsync(Path.Combine(root, "edge", "IocEdge.Gateway", "publish.sh"),
            ["--rid", "linux-arm64", "-o", output], TimeSpan.FromMinutes(30));
        return exit == 0
            ? (Path.Combine(output, "iocedge-gateway"), Environment.GetEnvironmentVariable("IOCEDGE_ARM64_SYSROOT") ?? Path.Combine(root, "artifacts", "sysroot", "linux-arm64"))
            : throw new InvalidOperationException("publish.sh --rid linux-arm64 failed:\n" + log);
    }
}

/// <summary>
/// A gateway process (any build, any runner) configured without TLS against a real pymodbus env-station (unit 1) and
/// a real mosquitto, started and awaited until its readings of all four points reached the broker with the device's
/// values.
/// </summary>
internal sealed class GatewayRun : IAsyncDisposable
{
    private readonly PyModbusServer _plc;
    private readonly Mosquitto _broker;
    private readonly IMqttClient _subscriber;

    private GatewayRun(PyModbusServer plc, Mosquitto broker, IMqttClient subscriber, PeerProcess gateway)
    {
        _plc = plc;
        _broker = broker;
        _subscriber = subscriber;
        Gateway = gateway;
    }

    public PeerProcess Gateway { get; }

    public static async Task<GatewayRun> StartAsync(TempDirectory dir, string fileName, IReadOnlyList<string> arguments, TimeSpan? timeout = null)
    {
        // env-station profile (devices/IocEdge.Devices.Profiles/profiles/env-station.json): holding registers 0..3 =
        // pm2_5, pm10 (×0.1 µg/m³), temperature (×0.1 °C), humidity (×0.1 %RH).
        var plc = await PyModbusServer.StartTcpAsync(new PyModbusServerOptions
        {
            Units = new Dictionary<byte, PyModbusUnit> { [1] = new() { HoldingRegisters = [452, 751, 295, 800] } },
        });
        var broker = await Mosquitto.StartAsync();
        var received = new ConcurrentDictionary<string, (string Quality, double? Value)>();
        var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            using var doc = JsonDocument.Parse(e.ApplicationMessage.Payload);
            foreach (var r in doc.RootElement.GetProperty("readings").EnumerateArray())
            {
                var value = r.GetProperty("value");
                received[r.GetProperty("channel").GetString()!] =
                    (r.GetProperty("quality").GetString()!, value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null);
            }

            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("footprint-sub").Build());
        await subscriber.SubscribeAsync("iocedge/v1/gw-foot/readings", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);

        var config = dir.File("gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "Id": "gw-foot", "DataDirectory": "{{dir.File("data")}}",
              "Mqtt": { "Host": "127.0.0.1", "Port": {{broker.Port}} },
              "Modbus": {
                "Links": [ { "Id": "tcp", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{plc.Port}} } ],
                "Devices": [ { "Id": "env1", "Link": "tcp", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:01" } ] } } }
            """);
        var gateway = PeerProcess.Start(fileName, [.. arguments, "--config", config]);
        var run = new GatewayRun(plc, broker, subscriber, gateway);
        try
        {
            try
            {
                await Eventually.True(() => received.ContainsKey("env1/humidity"), timeout ?? TimeSpan.FromSeconds(60), "the gateway's readings at the broker");
            }
            catch (TimeoutException ex)
            {
                // The gateway's output as it is when the wait gave up (why it published nothing), not as it was before.
                throw new TimeoutException($"{ex.Message} The gateway's output:\n{gateway.Output}", ex);
            }

            Assert.Equal(("good", (double?)45.2), received["env1/pm2_5"]);
            Assert.Equal(("good", (double?)75.1), received["env1/pm10"]);
            Assert.Equal(("good", (double?)29.5), received["env1/temperature"]);
            Assert.Equal(("good", (double?)80.0), received["env1/humidity"]);
            Assert.True(File.Exists(Path.Combine(dir.File("data"), "outbox.db")), "the outbox is a SQLite file");
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The DT_NEEDED entries of an ELF file (the shared libraries the dynamic loader loads with it, e.g. "libm.so.6"),
    /// read with binutils' <c>readelf -d</c> (installed with clang, which NativeAOT needs).
    /// </summary>
    /// <exception cref="InvalidOperationException">readelf failed (not an ELF file, readelf missing).</exception>
    public static async Task<IReadOnlyList<string>> NeededLibrariesAsync(string elf)
    {
        var (exit, output) = await PeerProcess.RunAsync("readelf", ["-d", "-W", elf], TimeSpan.FromSeconds(30));
        if (exit != 0)
        {
            throw new InvalidOperationException($"readelf -d {elf} exited with {exit}: {output}");
        }

        // Lines such as " 0x0000000000000001 (NEEDED)  Shared library: [libm.so.6]".
        return output.Split('\n')
            .Where(l => l.Contains("(NEEDED)", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf('[', StringComparison.Ordinal) + 1)..l.LastIndexOf(']')])
            .ToList();
    }

    /// <summary>The mappings of OpenSSL (libcrypto, libssl, .NET's OpenSSL shim) in the process, from /proc/PID/maps.</summary>
    public static IReadOnlyList<string> OpenSslMappings(int pid) =>
        File.ReadAllLines($"/proc/{pid}/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(5) ?? string.Empty)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("libcrypto.so", StringComparison.Ordinal) || f.StartsWith("libssl.so", StringComparison.Ordinal)
                || f.StartsWith("libSystem.Security.Cryptography.Native.OpenSsl", StringComparison.Ordinal)))
            .Distinct()
            .ToList();

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        _subscriber.Dispose();
        await _broker.DisposeAsync();
        await _plc.DisposeAsync();
    }
}
