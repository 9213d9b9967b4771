namespace IocEdge.Aggregator.Broker;

/// <summary>
/// Thrown by <see cref="PacketSizeGuardStream"/> when a fixed header announces a packet larger than the broker accepts.
/// An <see cref="IOException"/>, so MQTTnet treats it as the end of the connection.
/// </summary>
internal sealed class PacketTooLargeException(long packetSize, int maxPacketSize)
    : IOException($"an MQTT packet of {packetSize} bytes was announced; this broker accepts at most {maxPacketSize} (Aggregator:Mqtt:MaxPacketSize)")
{
    /// <summary>The whole packet's size as its fixed header announced it (1 + length bytes + Remaining Length), bytes.</summary>
    public long PacketSize { get; } = packetSize;
}

/// <summary>
/// The read side of one MQTT connection, watched packet by packet: every fixed header (MQTT 3.1.1 §2.2, MQTT 5 §2.1.1:
/// one type byte, then the Remaining Length as a variable byte integer of 1-4 bytes) is decoded as the bytes go by,
/// and a packet whose total size (1 + length bytes + Remaining Length, the size MQTT 5 §3.2.2.3.6 Maximum Packet Size
/// counts) exceeds <c>maxPacketSize</c> ends the connection with <see cref="PacketTooLargeException"/> before those
/// header bytes reach MQTTnet. MQTTnet 5.2 allocates the whole body (<c>new byte[RemainingLength]</c>, up to 256 MiB)
/// as soon as it has read a header, before any interceptor, even before CONNECT is authenticated; this is the bound in
/// front of it. Writes pass through untouched. Not thread-safe for concurrent reads (MQTTnet reads from one loop).
/// </summary>
internal sealed class PacketSizeGuardStream : Stream
{
    private readonly Stream _inner;
    private readonly int _maxPacketSize;
    private State _state = State.TypeByte;
    private int _lengthBytes;
    private int _remainingLength;
    private long _bodyLeft;

    /// <param name="inner">The connection's stream (a socket's NetworkStream or an SslStream); disposed with this one.</param>
    /// <param name="maxPacketSize">The largest whole packet accepted, bytes (Aggregator:Mqtt:MaxPacketSize).</param>
    public PacketSizeGuardStream(Stream inner, int maxPacketSize)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacketSize, 2);
        _inner = inner;
        _maxPacketSize = maxPacketSize;
    }

    private enum State
    {
        TypeByte,
        Length,
        Body,
    }

    /// <summary>The stream this one watches.</summary>
    public Stream Inner => _inner;

    /// <summary>Set once a packet was refused: the size its header announced (bytes).</summary>
    public long? RefusedPacketSize { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        Inspect(buffer[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Inspect(buffer.Span[..n]);
        return n;
    }

    /// <summary>Follows the packet boundaries through <paramref name="bytes"/>; throws on the first header over the limit.</summary>
    internal void Inspect(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case State.TypeByte:
                    i++;
                    _state = State.Length;
                    _lengthBytes = 0;
                    _remainingLength = 0;
                    break;
                case State.Length:
                    var b = bytes[i++];
                    _remainingLength |= (b & 0x7F) << (7 * _lengthBytes);
                    _lengthBytes++;
                    if ((b & 0x80) != 0)
                    {
                        if (_lengthBytes == 4)
                        {
                            // MQTT 5 §1.5.5: at most four bytes; MQTTnet refuses it too, as malformed.
                            throw new InvalidDataException("malformed MQTT Remaining Length (more than 4 bytes)");
                        }

                        break;
                    }

                    var packetSize = 1L + _lengthBytes + _remainingLength;
                    if (packetSize > _maxPacketSize)
                    {
                        RefusedPacketSize = packetSize;
                        throw new PacketTooLargeException(packetSize, _maxPacketSize);
                    }

                    _bodyLeft = _remainingLength;
                    _state = _bodyLeft == 0 ? State.TypeByte : State.Body;
                    break;
                default:
                    var skip = (int)Math.Min(_bodyLeft, bytes.Length - i);
                    i += skip;
                    _bodyLeft -= skip;
                    if (_bodyLeft == 0)
                    {
                        _state = State.TypeByte;
                    }

                    break;
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.WriteAsync(buffer, cancellationToken);

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
