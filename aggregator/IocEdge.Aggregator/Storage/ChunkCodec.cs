using System.Buffers.Binary;
using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Aggregator.Storage;

/// <summary>One reading as a chunk holds it: what the history API shows of it, less the chunk's own columns.</summary>
/// <param name="Seq">The reading's sequence in its stream (contract §4.1).</param>
/// <param name="Ts">Device timestamp, Unix milliseconds.</param>
/// <param name="Value">The engineering value, or null.</param>
/// <param name="Quality">Contract §4.2.</param>
/// <param name="TsStatus">Contract §4.3/§4.4, as judged when it was stored.</param>
/// <param name="Received">When the aggregator received it, Unix milliseconds (the commit's receive time).</param>
internal readonly record struct ChunkReading(long Seq, long Ts, double? Value, Quality Quality, TimestampStatus TsStatus, long Received);

/// <summary>
/// The byte layout of one chunk's <c>data</c> column: readings of one series, from one stream, within one minute of device
/// time (<see cref="MinuteMs"/>), received by one or several consecutive commits (a fold merges them). Layout v2, all
/// integers little-endian:
/// <code>
/// byte    version (2)
/// varint  n, the number of readings
/// n times:
///   zigzag varint  seq - previous seq (the first: seq - 0)
///   zigzag varint  ts - previous ts   (the first: ts - minute start), milliseconds
///   byte           flags: bits 0-3 quality (contract §4.2), bits 4-6 ts_status (§4.3), bit 7 a value follows
///   8 bytes        the value, IEEE 754 binary64, when bit 7 is set
///   zigzag varint  received - previous received (the first: received - the chunk's received column), milliseconds
/// </code>
/// Varints are LEB128 (7 bits a byte, low first); zigzag maps 0, -1, 1, -2... to 0, 1, 2, 3... A 1 Hz reading with a
/// value and consecutive sequence costs 1 + 2 + 1 + 8 + 1-3 = 13-15 bytes. Layout v1 (written until wave 9) is v2
/// without the receive times: every reading of a v1 chunk was received at the chunk's <c>received</c> column; it is
/// still read.
/// </summary>
internal static class ChunkCodec
{
    /// <summary>The layout version written (<see cref="Decode"/> reads 1 and 2).</summary>
    public const byte Version = 2;

    /// <summary>Width of a chunk's time bucket: one minute in milliseconds (all of a chunk's readings lie in it).</summary>
    public const long MinuteMs = 60_000;

    /// <summary>Most bytes one reading takes: two 10-byte varints, the flags, the value, the receive time's varint.</summary>
    public const int MaxBytesPerReading = 10 + 10 + 1 + 8 + 10;

    /// <summary>The minute bucket of a device timestamp (floor division, so 1969 works too).</summary>
    public static long Minute(long ts) => Math.DivRem(ts, MinuteMs) is var (q, r) && r < 0 ? q - 1 : q;

    /// <summary>Room needed to encode <paramref name="count"/> readings.</summary>
    public static int MaxLength(int count) => 1 + 5 + count * MaxBytesPerReading;

    /// <summary>
    /// Writes <paramref name="readings"/> (all within minute <paramref name="minute"/>) into <paramref name="destination"/>,
    /// which must hold <see cref="MaxLength"/> bytes; returns the bytes written. <paramref name="received"/> is the chunk's
    /// <c>received</c> column (Unix ms), against which the first reading's receive time is coded.
    /// </summary>
    public static int Encode(ReadOnlySpan<ChunkReading> readings, long minute, long received, Span<byte> destination)
    {
        var p = 0;
        destination[p++] = Version;
        p += WriteVarint(destination[p..], (ulong)readings.Length);
        long prevSeq = 0, prevTs = minute * MinuteMs, prevReceived = received;
        foreach (ref readonly var r in readings)
        {
            p += WriteVarint(destination[p..], ZigZag(r.Seq - prevSeq));
            p += WriteVarint(destination[p..], ZigZag(r.Ts - prevTs));
            var flags = (byte)(((int)r.Quality & 0x0F) | (((int)r.TsStatus & 0x07) << 4) | (r.Value.HasValue ? 0x80 : 0));
            destination[p++] = flags;
            if (r.Value is { } v)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(destination[p..], v);
                p += 8;
            }

            p += WriteVarint(destination[p..], ZigZag(r.Received - prevReceived));
            (prevSeq, prevTs, prevReceived) = (r.Seq, r.Ts, r.Received);
        }

        return p;
    }

    /// <summary>
    /// Appends the readings of one chunk of minute <paramref name="minute"/>, whose <c>received</c> column is
    /// <paramref name="received"/> (Unix ms), to <paramref name="into"/>. Throws <see cref="InvalidDataException"/> on an
    /// unknown version or a blob that ends early.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> data, long minute, long received, List<ChunkReading> into)
    {
        if (data.Length < 2 || data[0] is not (1 or Version))
        {
            throw new InvalidDataException($"chunk layout version {(data.Length == 0 ? "(empty)" : data[0].ToString(System.Globalization.CultureInfo.InvariantCulture))} is neither 1 nor {Version}");
        }

        var withReceived = data[0] == Version;
        var p = 1;
        var n = (long)ReadVarint(data, ref p);
        long seq = 0, ts = minute * MinuteMs, at = received;
        for (long i = 0; i < n; i++)
        {
            seq += UnZigZag(ReadVarint(data, ref p));
            ts += UnZigZag(ReadVarint(data, ref p));
            if (p >= data.Length)
            {
                throw new InvalidDataException("chunk ends inside a reading");
            }

            var flags = data[p++];
            double? value = null;
            if ((flags & 0x80) != 0)
            {
                if (p + 8 > data.Length)
                {
                    throw new InvalidDataException("chunk ends inside a value");
                }

                value = BinaryPrimitives.ReadDoubleLittleEndian(data[p..]);
                p += 8;
            }

            if (withReceived)
            {
                at += UnZigZag(ReadVarint(data, ref p));
            }

            into.Add(new ChunkReading(seq, ts, value, (Quality)(flags & 0x0F), (TimestampStatus)((flags >> 4) & 0x07), at));
        }
    }

    internal static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    internal static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    internal static int WriteVarint(Span<byte> d, ulong v)
    {
        var i = 0;
        while (v >= 0x80)
        {
            d[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        d[i++] = (byte)v;
        return i;
    }

    internal static ulong ReadVarint(ReadOnlySpan<byte> d, ref int p)
    {
        ulong v = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (p >= d.Length)
            {
                throw new InvalidDataException("chunk ends inside a number");
            }

            var b = d[p++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return v;
            }
        }

        throw new InvalidDataException("a number in the chunk is longer than 10 bytes");
    }
}
