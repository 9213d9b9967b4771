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

    /// <summary>Pauses the broker (SIGSTOP): it reads nothing and answers nothing until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Resumes a paused broker (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal) => await PeerProcess.RunAsync("kill",
        [signal, _process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10)).ConfigureAwait(false);

    /// <param name="port">A fixed port (to restart a broker where clients expect it); null picks a free one.</param>
    /// <param name="persistenceDirectory">
    /// Where mosquitto saves sessions and queued messages on a clean stop (<see cref="StopGracefullyAsync"/>), so a
    /// restarted broker still holds a persistent subscriber's messages; null runs without persistence.
    /// </param>
    /// <param name="tls">
    /// A TLS-only listener (mosquitto.conf(5) <c>cafile</c>, <c>certfile</c>, <c>keyfile</c>, and
    /// <c>require_certificate true</c> when <see cref="MosquittoTls.RequireCertificate"/>); the files must be readable by
    /// the mosquitto user (see <see cref="TestPki"/>).
    /// </param>
    /// <param name="maxInflightMessages">
    /// mosquitto.conf(5) <c>max_inflight_messages</c>: 0 (no limit) by default; mosquitto 2 also sends it to MQTT 5 clients
    /// as the CONNACK's Receive Maximum, the most QoS 1 messages they may have awaiting its PUBACK.
    /// </param>
    public static async Task<Mosquitto> StartAsync(int? port = null, string? persistenceDirectory = null, MosquittoTls? tls = null,
        int maxInflightMessages = 0)
    {
        var exe = Tools.Require("/usr/sbin/mosquitto", "mosquitto");
        var dir = new TempDirectory("mosquitto");
        var p = port ?? FreePort.Next();
        var conf = dir.File("mosquitto.conf");
        if (persistenceDirectory is not null)
        {
            // Started as root, mosquitto drops to the 'mosquitto' user: let it write its database here (its parent
            // folders must be traversable too: use a folder directly under /tmp).
            Directory.CreateDirectory(persistenceDirectory);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(persistenceDirectory, (UnixFileMode)0x1FF);
            }
        }

        var persistence = persistenceDirectory is null
            ? "persistence false"
            : $"persistence true\npersistence_location {persistenceDirectory.TrimEnd('/')}/";
        await File.WriteAllTextAsync(conf, $"""
            listener {p} 127.0.0.1
            allow_anonymous true
            {persistence}
            {(tls is null ? string.Empty : $"cafile {tls.CaFile}\ncertfile {tls.CertificateFile}\nkeyfile {tls.KeyFile}\nrequire_certificate {(tls.RequireCertificate ? "true" : "false")}")}
            max_queued_messages 0
            max_inflight_messages {maxInflightMessages}
            log_dest stdout
            """).ConfigureAwait(false);
        var process = PeerProcess.Start(exe, ["-c", conf]);
        var broker = new Mosquitto(dir, process, p);
        await process.WaitForTcpAsync(p, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return broker;
    }

    /// <summary>Stops the broker with SIGTERM, as systemd would, so it writes its persistence file.</summary>
    public async Task StopGracefullyAsync()
    {
        if (!_process.HasExited)
        {
            await SignalAsync("-TERM").ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        _dir.Dispose();
    }
}

/// <summary>The TLS listener of a test <see cref="Mosquitto"/>: PEM files of the CA (that also verifies clients), the broker's certificate and key.</summary>
public sealed record MosquittoTls(string CaFile, string CertificateFile, string KeyFile, bool RequireCertificate);
