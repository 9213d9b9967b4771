using System.Diagnostics;
using System.Threading.Channels;

namespace IocEdge.Benchmarks.Modbus;

/// <summary>
/// A simulated half-duplex RS-485 line between one master and one slave that delivers bytes at the line's character
/// rate on the real clock: at 9600 baud 8N1 each byte takes 10 bits / 9600 = 1.0417 ms. Both ends are
/// <see cref="Stream"/>s, so a real master and a real server run over it unchanged.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>Half duplex: a write starts when the line is free (after the last byte of the previous transmission)
/// and then occupies it for bytes × character time. A write returns at once, as a UART driver queues the bytes.</description></item>
/// <item><description>The slave's turnaround: a response starts no earlier than t3.5 (the silence that tells the slave the
/// request is over, MODBUS over Serial Line V1.02, 2.5.1.1) plus <c>slaveProcessing</c> after the request's last byte
/// arrived, however quickly the in-process server writes it.</description></item>
/// <item><description>A read returns once the bytes of the transmission in flight have all arrived (a frame is of no use
/// to a master before its last byte), waiting with Task.Delay and then spinning for the last 5 ms so that the fake
/// adds well under 0.1 ms of its own.</description></item>
/// </list>
/// </remarks>
internal sealed class WireTimeSerialLine
{
    private readonly object _gate = new();
    private readonly long _characterTicks;
    private readonly long _turnaroundTicks;
    private readonly List<long> _masterGaps = [];
    private readonly List<long> _slaveLateness = [];
    private long _freeAt;
    private long _lastRequestArrival;
    private long _lastResponseArrival;

    public WireTimeSerialLine(int baudRate, double bitsPerCharacter, TimeSpan slaveProcessing)
    {
        _characterTicks = (long)Math.Round(bitsPerCharacter / baudRate * Stopwatch.Frequency);
        var t35 = baudRate > 19200 ? 0.00175 : 3.5 * bitsPerCharacter / baudRate;
        _turnaroundTicks = (long)Math.Round((t35 + slaveProcessing.TotalSeconds) * Stopwatch.Frequency);
        var toSlave = Channel.CreateUnbounded<Chunk>();
        var toMaster = Channel.CreateUnbounded<Chunk>();
        Master = new End(this, toSlave.Writer, toMaster.Reader, isSlave: false);
        Slave = new End(this, toMaster.Writer, toSlave.Reader, isSlave: true);
    }

    public Stream Master { get; }

    public Stream Slave { get; }

    /// <summary>Bytes the master sent.</summary>
    public long BytesToSlave { get; private set; }

    /// <summary>Bytes the slave sent.</summary>
    public long BytesToMaster { get; private set; }

    /// <summary>Median silence the master kept between the end of a response and its next request.</summary>
    public TimeSpan MasterGapMedian => Median(_masterGaps);

    /// <summary>Shortest silence the master kept between the end of a response and its next request.</summary>
    public TimeSpan MasterGapMinimum => _masterGaps.Count == 0
        ? TimeSpan.Zero
        : TimeSpan.FromSeconds((double)_masterGaps.Min() / Stopwatch.Frequency);

    /// <summary>Requests the master started less than t3.5 after the end of the previous response.</summary>
    public int MasterGapsShorterThan(TimeSpan silence) =>
        _masterGaps.Count(g => g < silence.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Requests sent after a previous response.</summary>
    public int MasterGapCount => _masterGaps.Count;

    /// <summary>Median time the slave's answer was written after the earliest moment the line allowed (0 if earlier).</summary>
    public TimeSpan SlaveLatenessMedian => Median(_slaveLateness);

    private static TimeSpan Median(List<long> ticks)
    {
        if (ticks.Count == 0)
        {
            return TimeSpan.Zero;
        }

        var sorted = ticks.Order().ToArray();
        return TimeSpan.FromSeconds((double)sorted[sorted.Length / 2] / Stopwatch.Frequency);
    }

    private Chunk Schedule(ReadOnlySpan<byte> data, bool fromSlave)
    {
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            var start = Math.Max(now, _freeAt);
            if (fromSlave)
            {
                var earliest = _lastRequestArrival + _turnaroundTicks;
                _slaveLateness.Add(Math.Max(0, now - earliest));
                start = Math.Max(start, earliest);
                BytesToMaster += data.Length;
            }
            else
            {
                if (_lastResponseArrival != 0)
                {
                    _masterGaps.Add(now - _lastResponseArrival);
                }

                BytesToSlave += data.Length;
            }

            var arrival = start + data.Length * _characterTicks;
            _freeAt = arrival;
            if (fromSlave)
            {
                _lastResponseArrival = arrival;
            }
            else
            {
                _lastRequestArrival = arrival;
            }

            return new Chunk(data.ToArray(), arrival);
        }
    }

    private static async ValueTask WaitUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        // The last 5 ms are spun: .NET timers on Linux tick with CLOCK_MONOTONIC_COARSE (4 ms here), so a delay may end
        // up to one tick early or late.
        var spinFrom = Stopwatch.Frequency / 200;
        while (true)
        {
            var remaining = timestamp - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            if (remaining > spinFrom)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)(remaining - spinFrom) / Stopwatch.Frequency), cancellationToken)
                    .ConfigureAwait(false);
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            Thread.SpinWait(20);
        }
    }

    private sealed record Chunk(byte[] Data, long Arrival);

    private sealed class End(WireTimeSerialLine line, ChannelWriter<Chunk> outgoing, ChannelReader<Chunk> incoming, bool isSlave)
        : Stream
    {
        private Chunk? _pending;
        private int _pendingOffset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_pending is null)
            {
                _pending = await incoming.ReadAsync(cancellationToken).ConfigureAwait(false);
                _pendingOffset = 0;
                await WaitUntilAsync(_pending.Arrival, cancellationToken).ConfigureAwait(false);
            }

            var n = Math.Min(buffer.Length, _pending.Data.Length - _pendingOffset);
            _pending.Data.AsMemory(_pendingOffset, n).CopyTo(buffer);
            _pendingOffset += n;
            if (_pendingOffset == _pending.Data.Length)
            {
                _pending = null;
            }

            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            outgoing.TryWrite(line.Schedule(buffer.Span, isSlave));
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            outgoing.TryWrite(line.Schedule(buffer.AsSpan(offset, count), isSlave));

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("The simulated line is read asynchronously.");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
