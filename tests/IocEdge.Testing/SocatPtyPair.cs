namespace IocEdge.Testing;

/// <summary>
/// A virtual serial line: socat joins two ptys, linked as <see cref="PathA"/> and <see cref="PathB"/> in a temp folder
/// (../shared/PEERS.md). Bytes written to one end come out of the other at once: a pty ignores the baud rate. Stopped by
/// pid on dispose.
/// </summary>
public sealed class SocatPtyPair : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly PeerProcess _process;

    private SocatPtyPair(TempDirectory dir, PeerProcess process)
    {
        _dir = dir;
        _process = process;
    }

    /// <summary>One end (give it to the slave, say).</summary>
    public string PathA => _dir.File("ttyV0");

    /// <summary>The other end.</summary>
    public string PathB => _dir.File("ttyV1");

    public static async Task<SocatPtyPair> StartAsync(TimeSpan? startTimeout = null)
    {
        var socat = Tools.Require("/usr/bin/socat", "socat");
        var dir = new TempDirectory("socat");
        var process = PeerProcess.Start(socat, ["-d", "-d",
            $"pty,raw,echo=0,link={dir.File("ttyV0")}", $"pty,raw,echo=0,link={dir.File("ttyV1")}"]);
        var pair = new SocatPtyPair(dir, process);
        try
        {
            var timeout = startTimeout ?? TimeSpan.FromSeconds(15);
            await process.WaitForFileAsync(pair.PathA, timeout).ConfigureAwait(false);
            await process.WaitForFileAsync(pair.PathB, timeout).ConfigureAwait(false);
        }
        catch
        {
            await pair.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return pair;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        _dir.Dispose();
    }
}
