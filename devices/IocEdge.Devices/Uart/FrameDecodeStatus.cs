namespace IocEdge.Devices;

/// <summary>What a frame decoder found at the start of a byte buffer.</summary>
public enum FrameDecodeStatus
{
    /// <summary>A valid frame; drop <c>consumed</c> bytes.</summary>
    Frame,
    /// <summary>A frame may start here but is incomplete: read more bytes (nothing consumed).</summary>
    NeedMoreData,
    /// <summary>Bytes before the next start byte are not a frame: drop <c>consumed</c> bytes.</summary>
    Garbage,
    /// <summary>A complete candidate frame whose checksum is wrong: drop its start byte and resynchronise.</summary>
    ChecksumError,
    /// <summary>A start sequence with an impossible length or tail: drop it and resynchronise.</summary>
    Malformed,
    /// <summary>A valid frame of a kind this reader does not report (e.g. a command acknowledgement).</summary>
    Other,
}

/// <summary>Counters every UART driver keeps so that the gateway can report link health.</summary>
public sealed class UartStatistics
{
    private long _frames;
    private long _checksumErrors;
    private long _malformed;
    private long _bytesDiscarded;

    public long Frames => Interlocked.Read(ref _frames);

    public long ChecksumErrors => Interlocked.Read(ref _checksumErrors);

    public long MalformedFrames => Interlocked.Read(ref _malformed);

    /// <summary>Bytes dropped outside valid frames (line noise, partial frames after a restart).</summary>
    public long BytesDiscarded => Interlocked.Read(ref _bytesDiscarded);

    internal void Count(FrameDecodeStatus status, int consumed)
    {
        switch (status)
        {
            case FrameDecodeStatus.Frame:
            case FrameDecodeStatus.Other:
                Interlocked.Increment(ref _frames);
                break;
            case FrameDecodeStatus.ChecksumError:
                Interlocked.Increment(ref _checksumErrors);
                Interlocked.Add(ref _bytesDiscarded, consumed);
                break;
            case FrameDecodeStatus.Malformed:
                Interlocked.Increment(ref _malformed);
                Interlocked.Add(ref _bytesDiscarded, consumed);
                break;
            case FrameDecodeStatus.Garbage:
                Interlocked.Add(ref _bytesDiscarded, consumed);
                break;
            default:
                break;
        }
    }
}
