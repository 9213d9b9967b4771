using System.Diagnostics;
using System.Runtime.CompilerServices;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;
using IocEdge.Systemd;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 16 "systemd" and "Configuration files where an administrator looks": the gateway run as systemd runs it,
/// with a fake NOTIFY_SOCKET (sd_notify(3)): READY=1 within 2 s once the outbox is open and the first poll cycle done,
/// WATCHDOG=1 at half WATCHDOG_USEC, STOPPING=1 on SIGTERM with the outbox closed cleanly; a hung poll loop stops the
/// pings; the configuration comes from --config (or /etc/iocedge/gateway.json), never from the current directory.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class GatewaySystemdTests : IDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
    private readonly TempDirectory _dir = new("gwsd");

    public void Dispose() => _dir.Dispose();

    private string WriteConfig(string modbus = "")
    {
        var path = _dir.File("gateway.json");
        File.WriteAllText(path, $$"""
            { "Gateway": { "Id": "gw-sd", "DataDirectory": "{{_dir.File("data")}}",
              "Mqtt": { "Host": "127.0.0.1", "Port": {{FreePort.Next()}} }{{modbus}} } }
            """);
        return path;
    }

    [Fact]
    public async Task Under_a_fake_systemd_the_gateway_is_ready_within_2_s_pings_the_watchdog_and_stops_with_the_outbox_closed()
    {
        // A Modbus TCP device on a port nobody listens on: its first poll cycle ends at once with comm_failure readings.
        var config = WriteConfig($$"""
            , "Modbus": { "Links": [ { "Id": "tcp1", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{FreePort.Next()}}, "Timeout": "00:00:00.2" } ],
                          "Devices": [ { "Id": "env1", "Link": "tcp1", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:01" } ] }
            """);
        // The old host read appsettings.json from the current directory: a stray one here would break the start.
        var cwd = Directory.CreateDirectory(_dir.File("cwd")).FullName;
        await File.WriteAllTextAsync(Path.Combine(cwd, "appsettings.json"), """{ "Gateway": { "Mqtt": { "Port": "not-a-port" } } }""");
        using var systemd = new FakeSystemd(_dir.File("notify.sock"));

        var spawnedAt = systemd.Elapsed;
        var (file, arguments) = RunQueue.Prioritised("dotnet", Dll, "--config", config);
        await using var gateway = PeerProcess.Start(file, arguments, cwd, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = systemd.Path,
            ["WATCHDOG_USEC"] = "1000000", // WatchdogSec=1: a ping every 0.5 s
        });
        await systemd.WaitForAsync("READY=1", TimeSpan.FromSeconds(60));
        // Issue 16: READY within 2 s, from the process's start (what `systemctl start` waits for; it includes the .NET
        // runtime's own start, which the packaged NativeAOT build nearly does without). The machine's share: the
        // gateway runs at nice -10 (RunQueue.Prioritised: other builds share these 2 cores), and the only allowance is
        // the longest time one of its threads was kept waiting for a CPU (RunQueue.LongestWait, measured by the kernel).
        // Measured here 2026-11-30 (JIT build, docs/BENCHMARKS.md "systemd READY"): 0.65-1.4 s at load 5.5-8.
        var wait = RunQueue.LongestWait(gateway.Pid);
        var ready = systemd.FirstAt("READY=1")!.Value - spawnedAt;
        var own = ready - wait;
        Assert.True(own < TimeSpan.FromSeconds(2), $"READY=1 {ready.TotalSeconds:0.00} s after the process started, of which " +
            $"{wait.TotalSeconds:0.00} s waiting for a CPU: {own.TotalSeconds:0.00} s of the gateway's own (issue 16: 2 s; load " +
            $"{File.ReadAllText("/proc/loadavg").Split(' ')[0]}). Output:\n{gateway.Output}");
        // READY=1 follows the first poll cycle's readings into the outbox (GatewayLiveness, SamplingService.FirstCycle).
        Assert.Matches(@"^READY=1\nSTATUS=outbox open \([1-9]\d* pending\), first poll cycle done$",
            systemd.Received.Single(r => r.State.StartsWith("READY=1", StringComparison.Ordinal)).State);
        await Eventually.True(() => gateway.Output.Contains($"Configuration read from {config} (--config file)", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the start-up line naming the configuration file");

        await Eventually.True(() => systemd.Count("WATCHDOG=1") >= 3, TimeSpan.FromSeconds(10), "three watchdog pings");
        var pings = systemd.Received.Where(r => r.State == "WATCHDOG=1").Select(r => r.At).ToArray();
        Assert.True(pings[2] - pings[1] < TimeSpan.FromSeconds(1.5), "pings at about half of WATCHDOG_USEC");

        Kill("TERM", gateway.Pid);
        await systemd.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(10));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await gateway.WaitForExitAsync(cts.Token);
        }

        Assert.Equal(0, gateway.ExitCode);
        // Closed cleanly: the last connection checkpointed and removed the write-ahead log; a reopen finds the file
        // whole, and nothing is lost: every reading sampling stored this run is in it (no broker: none was forwarded).
        var outbox = _dir.File("data/outbox.db");
        Assert.False(File.Exists(outbox + "-wal"), "the outbox's -wal file is gone after a clean close");
        var stored = LoggedNumber(gateway.Output, @"Sampling stopped: (\d+) readings stored in the outbox this run, 0 lost");
        var waiting = LoggedNumber(gateway.Output, @"Outbox \S+ closed: (\d+) readings waiting");
        Assert.True(stored > 0, "the first poll cycle's comm_failure readings were stored");
        await using var db = new SqliteConnection($"Data Source={outbox};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        await using var check = db.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", (string?)await check.ExecuteScalarAsync());
        check.CommandText = "SELECT count(*) FROM outbox";
        var rows = (long)(await check.ExecuteScalarAsync())!;
        Assert.Equal(stored, rows);
        Assert.Equal(waiting, rows);
        // READY=1 once: a restart of a loop later must not look like a new start to systemd.
        Assert.Equal(1, systemd.Count("READY=1"));
    }

    private static long LoggedNumber(string output, string pattern)
    {
        var match = System.Text.RegularExpressions.Regex.Match(output, pattern);
        Assert.True(match.Success, $"no log line matching '{pattern}' in:\n{output}");
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_missing_config_file_is_one_line_and_exit_78()
    {
        var missing = _dir.File("nowhere/gateway.json");
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--config", missing], TimeSpan.FromSeconds(60));

        Assert.Equal(78, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains($"--config: the configuration file '{missing}' does not exist", lines[0], StringComparison.Ordinal);
    }

    [AbsentFileFact("/etc/iocedge/gateway.json")]
    public async Task Without_config_the_default_file_is_named_when_absent()
    {
        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll], TimeSpan.FromSeconds(60));

        Assert.Equal(78, exit);
        Assert.Contains("the default configuration file /etc/iocedge/gateway.json does not exist", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_hung_poll_loop_stops_the_watchdog_pings_and_a_healthy_one_keeps_them(bool hang)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
        using var systemd = new FakeSystemd(_dir.File("notify.sock"));
        var interval = TimeSpan.FromSeconds(10); // WatchdogSec=20
        using var host = GatewayHost.Build(["--config", WriteConfig(), "--Logging:LogLevel:Default=Warning"], b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            b.Services.AddSingleton(new SystemdNotifyOptions(systemd.Path, interval));
            b.Services.AddReadingSource(_ => new TickingSource("steady", time));
            if (hang)
            {
                b.Services.AddReadingSource(_ => new BlockingDevice());
            }
        });
        await host.StartAsync();
        try
        {
            await systemd.WaitForAsync("READY=1", TimeSpan.FromSeconds(10));
            await Eventually.True(() => systemd.Count("WATCHDOG=1") >= 1, TimeSpan.FromSeconds(10), "the first ping");

            // Five minutes of fake time, one ping interval at a time.
            var lastPingAt = TimeSpan.Zero;
            for (var elapsed = interval; elapsed <= TimeSpan.FromMinutes(5); elapsed += interval)
            {
                var pings = systemd.Count("WATCHDOG=1");
                var stalls = systemd.Received.Count(r => r.State.StartsWith("STATUS=stalled", StringComparison.Ordinal));
                time.Advance(interval);
                var sw = Stopwatch.StartNew();
                while (systemd.Count("WATCHDOG=1") == pings && sw.Elapsed < TimeSpan.FromSeconds(stalls > 0 ? 0.3 : 5))
                {
                    await Task.Delay(10);
                }

                if (systemd.Count("WATCHDOG=1") > pings)
                {
                    lastPingAt = elapsed;
                }
            }

            if (hang)
            {
                // MinimumStallLimit (2 min) without progress, then no ping: systemd would restart after WatchdogSec.
                Assert.Equal(TimeSpan.FromMinutes(2), lastPingAt);
                // Three minutes without a ping: systemd's WatchdogSec (twice the ping interval, 20 s) passed long ago,
                // so it would have killed and restarted the service (Restart=always).
                Assert.True(TimeSpan.FromMinutes(5) - lastPingAt > 2 * interval);
                Assert.Contains(systemd.Received, r => r.State.StartsWith("STATUS=stalled: source blocking made no progress", StringComparison.Ordinal));
            }
            else
            {
                Assert.Equal(TimeSpan.FromMinutes(5), lastPingAt);
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static void Kill(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>A source whose poll cycle completes every 10 s of the (fake) clock.</summary>
    private sealed class TickingSource(string name, TimeProvider time) : IReadingSource
    {
        public string Name => name;

        public IReadOnlyList<string> Channels => [];

        public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10), time);
            do
            {
                yield return [];
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A device whose driver call never returns after the first read (a wedged bus, a stuck ioctl).</summary>
    private sealed class BlockingDevice : IReadingSource
    {
        public string Name => "blocking";

        public IReadOnlyList<string> Channels => [];

        public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return [];
            await new TaskCompletionSource().Task.WaitAsync(cancellationToken); // blocks until the host stops
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
