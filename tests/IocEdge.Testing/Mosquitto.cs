namespace IocEdge.Testing;

/// <summary>
/// A real mosquitto broker on 127.0.0.1 and a free port, configured not to drop QoS 1 messages for a slow
/// subscriber (see ../shared/PEERS.md). Installed by tests/run.sh (apt-get install mosquitto).
/// </summary>
public sealed class Mosquitto : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly PeerProcess _process;

    private Mosquitto(TempDirectory dir, PeerProcess process, int port)
    {
        _dir = dir;
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Log => _process.Output;

    public static async Task<Mosquitto> StartAsync(int? port = null)
    {
        var exe = Tools.Require("/usr/sbin/mosquitto", "mosquitto");
        var dir = new TempDirectory("mosquitto");
        var p = port ?? FreePort.Next();
        var conf = dir.File("mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"""
            listener {p} 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 0
            max_inflight_messages 0
            log_dest stdout
            """).ConfigureAwait(false);
        var process = PeerProcess.Start(exe, ["-c", conf]);
        var broker = new Mosquitto(dir, process, p);
        await process.WaitForTcpAsync(p, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return broker;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        _dir.Dispose();
    }
}
