namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// The gateway's end of a simulated serial line, used where a driver would get <c>SerialPort.BaseStream</c>.
/// Bytes the device transmits (<see cref="Transmit"/>) queue up until the driver reads them, as in the kernel's
/// tty buffer (4 KiB; older bytes are lost on overflow, like a real overrun). Bytes the driver writes go to the
/// device's command handler. Reads wait for data and honour cancellation; closing the stream ends pending reads
/// with 0 bytes.
/// </summary>
public sealed class SimulatedUartStream : Stream
{
    private const int TtyBufferSize = 4096;
    private readonly object _gate = new(); // Monitor.Wait/PulseAll for the blocking Read
    private readonly Queue<byte> _rx = new();
    private readonly Action<byte[]> _onHostWrite;
    private TaskCompletionSource? _dataArrived;
    private long _overrunBytes;
    private long _bytesWritten;
    private bool _closed;

    /// <param name="onHostWrite">Receives every block the driver writes (the device's RX pin).</param>
    public SimulatedUartStream(Action<byte[]>? onHostWrite = null)
    {
        _onHostWrite = onHostWrite ?? (_ => { });
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes lost because the driver did not read fast enough.</summary>
    public long OverrunBytes => Interlocked.Read(ref _overrunBytes);

    /// <summary>Bytes the driver has written (commands).</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Bytes waiting to be read.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _rx.Count;
            }
        }
    }

    /// <summary>The device (or a test injecting line noise) sends bytes to the gateway.</summary>
    public void Transmit(ReadOnlySpan<byte> bytes)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            foreach (var b in bytes)
            {
                if (_rx.Count == TtyBufferSize)
                {
                    _rx.Dequeue();
                    _overrunBytes++;
                }

                _rx.Enqueue(b);
            }

            wake = _dataArrived;
            _dataArrived = null;
            Monitor.PulseAll(_gate);
        }

        wake?.TrySetResult();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Task wait;
            lock (_gate)
            {
                if (_rx.Count > 0 || _closed || buffer.Length == 0)
                {
                    return Take(buffer.Span);
                }

                _dataArrived ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _dataArrived.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        lock (_gate)
        {
            // Blocking read, as SerialPort.BaseStream.Read does; ReadTimeout in ms (-1 = wait forever).
            while (_rx.Count == 0 && !_closed && count > 0)
            {
                if (!Monitor.Wait(_gate, ReadTimeoutMs))
                {
                    throw new TimeoutException("The simulated serial read timed out.");
                }
            }

            return Take(buffer.AsSpan(offset, count));
        }
    }

    public override bool CanTimeout => true;

    public override int ReadTimeout { get => ReadTimeoutMs; set => ReadTimeoutMs = value; }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ObjectDisposedException.ThrowIf(_closed, this);
        Interlocked.Add(ref _bytesWritten, count);
        _onHostWrite(buffer.AsSpan(offset, count).ToArray());
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_closed, this);
        Interlocked.Add(ref _bytesWritten, buffer.Length);
        _onHostWrite(buffer.ToArray());
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            _closed = true;
            wake = _dataArrived;
            _dataArrived = null;
            Monitor.PulseAll(_gate);
        }

        wake?.TrySetResult();
        base.Dispose(disposing);
    }

    private int ReadTimeoutMs { get; set; } = Timeout.Infinite;

    private int Take(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _rx.Count);
        for (var i = 0; i < n; i++)
        {
            destination[i] = _rx.Dequeue();
        }

        return n;
    }
}
