using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace IocEdge.Testing;

/// <summary>
/// A real peer (mosquitto, pymodbus, socat, mbpoll…) started by a test and stopped by its pid.
/// Output is captured so that a failing test can show what the peer said.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private PeerProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static PeerProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var peer = new PeerProcess(process);
        process.OutputDataReceived += (_, e) => peer.Append(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {fileName}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Runs a command to completion and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments,
        TimeSpan timeout)
    {
        await using var peer = Start(fileName, arguments);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await peer._process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{fileName} did not finish within {timeout}. Output:\n{peer.Output}");
        }

        return (peer._process.ExitCode, peer.Output);
    }

    public Task WaitForExitAsync(CancellationToken ct = default) => _process.WaitForExitAsync(ct);

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the peer accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public async Task WaitForTcpAsync(int port, TimeSpan timeout)
    {
        await Eventually.True(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{_process.StartInfo.FileName} exited with {_process.ExitCode}:\n{Output}");
            }

            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", port).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, timeout, $"{_process.StartInfo.FileName} to listen on port {port}").ConfigureAwait(false);
    }

    /// <summary>Waits until a file exists (socat's pty links, pid files).</summary>
    public async Task WaitForFileAsync(string path, TimeSpan timeout)
    {
        await Eventually.True(() =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{_process.StartInfo.FileName} exited with {_process.ExitCode}:\n{Output}");
            }

            return File.Exists(path);
        }, timeout, $"{path} to appear").ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 1_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }
}
