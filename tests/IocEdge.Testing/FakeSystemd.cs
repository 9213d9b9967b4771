using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace IocEdge.Testing;

/// <summary>
/// Plays systemd's side of sd_notify(3) for a test: a unix datagram socket whose path a service gets as NOTIFY_SOCKET.
/// Every datagram is kept with the time it arrived (a Stopwatch since this object was made).
/// </summary>
public sealed class FakeSystemd : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly ConcurrentQueue<(TimeSpan At, string State)> _received = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeSystemd(string path)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        _loop = Task.Run(ReceiveAsync);
    }

    /// <summary>Pass this as NOTIFY_SOCKET.</summary>
    public string Path { get; }

    /// <summary>Time since this object was made, on the clock of <see cref="Received"/>.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Every datagram so far, in order.</summary>
    public IReadOnlyList<(TimeSpan At, string State)> Received => _received.ToArray();

    /// <summary>How many datagrams held the line <paramref name="line"/> (such as "WATCHDOG=1").</summary>
    public int Count(string line) => _received.Count(r => r.State.Split('\n').Contains(line));

    /// <summary>When the first datagram with <paramref name="line"/> arrived, or null.</summary>
    public TimeSpan? FirstAt(string line) =>
        _received.Where(r => r.State.Split('\n').Contains(line)).Select(r => (TimeSpan?)r.At).FirstOrDefault();

    /// <summary>Waits until a datagram with <paramref name="line"/> has arrived (real time: the service is another party).</summary>
    public async Task<TimeSpan> WaitForAsync(string line, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (FirstAt(line) is { } at)
            {
                return at;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        throw new TimeoutException($"no {line} within {timeout.TotalSeconds:0.#} s; received: " +
            string.Join(" | ", _received.Select(r => r.State.Replace('\n', ' '))));
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                _received.Enqueue((_clock.Elapsed, Encoding.UTF8.GetString(buffer, 0, n)));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
        File.Delete(Path);
    }
}
