using Microsoft.Extensions.Logging;

namespace IocEdge.Devices;

/// <summary>A pure frame decoder: looks at the start of the buffer and says what is there.</summary>
internal delegate FrameDecodeStatus FrameDecoder<TFrame>(ReadOnlySpan<byte> buffer, out TFrame? frame, out int consumed)
    where TFrame : class;

/// <summary>
/// Drives a pure decoder over a byte stream: reads what the UART delivers, drops garbage and bad frames (counting
/// them), and returns the next good frame. A read that finds no good frame within the timeout on the
/// <see cref="TimeProvider"/> is a comm failure; the stream ending is a comm failure too.
/// </summary>
internal sealed class UartFrameReader<TFrame>(Stream uart, FrameDecoder<TFrame> decode, string device, TimeProvider time,
    ILogger logger, UartStatistics statistics)
    where TFrame : class
{
    private readonly byte[] _buffer = new byte[512];
    private int _count;

    public async Task<(FrameDecodeStatus Status, TFrame Frame)> ReadFrameAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        while (true)
        {
            while (_count > 0)
            {
                var status = decode(_buffer.AsSpan(0, _count), out var frame, out var consumed);
                if (status == FrameDecodeStatus.NeedMoreData)
                {
                    break;
                }

                statistics.Count(status, consumed);
                if (status is not (FrameDecodeStatus.Frame or FrameDecodeStatus.Other))
                {
                    Log.UartDropped(logger, device, consumed, status.ToString());
                }

                Drop(consumed);
                if (status is FrameDecodeStatus.Frame or FrameDecodeStatus.Other)
                {
                    return (status, frame!);
                }
            }

            if (_count == _buffer.Length)
            {
                // Cannot happen with a decoder that bounds frame length, but never let a stuck buffer stop the reader.
                statistics.Count(FrameDecodeStatus.Garbage, _count);
                _count = 0;
            }

            int read;
            try
            {
                read = await uart.ReadAsync(_buffer.AsMemory(_count), linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw SensorException.Comm(
                    $"{device}: no valid frame within {timeout.TotalSeconds:0.#} s (checksum errors so far: {statistics.ChecksumErrors}). " +
                    "Check TX/RX are crossed, 9600 baud, 5 V supply and that the sensor is awake.");
            }
            catch (IOException ex)
            {
                throw SensorException.Comm($"{device}: serial read failed ({ex.Message}).", ex);
            }

            if (read == 0)
            {
                throw SensorException.Comm($"{device}: the serial port closed.", new EndOfStreamException());
            }

            _count += read;
        }
    }

    private void Drop(int count)
    {
        if (count >= _count)
        {
            _count = 0;
            return;
        }

        Buffer.BlockCopy(_buffer, count, _buffer, 0, _count - count);
        _count -= count;
    }
}
