using System;
using System.Collections.Generic;

namespace IocEdge.Protocols.Compact;

/// <summary>
/// Streaming encoder of one compact message (contract §8) into a caller's buffer. After <see cref="Begin"/> has written
/// the header and the channel table, <see cref="TryAdd"/> appends one reading and allocates nothing, so a
/// microcontroller-class node can encode from its sampling loop; <see cref="Finish"/> patches the reading count.
/// One instance is reused message after message (its per-channel state grows only when a larger table is begun).
/// Not thread-safe.
/// </summary>
public sealed class CompactWriter
{
    private const int HeadQualityMask = 0x07;
    private byte[] _buffer = [];
    private int _start;
    private int _end;
    private int _pos;
    private int _countOffset;
    private int _count;
    private int _channelCount;
    private int[] _decimals;
    private long[] _previousMantissa;
    private int[] _unitIndex;
    private long _previousSeq;
    private long _previousTs;
    private int _previousChannel;
    private bool _begun;

    /// <summary>Makes a writer whose state holds <paramref name="channelCapacity"/> channels before it has to grow.</summary>
    public CompactWriter(int channelCapacity = 16)
    {
        var n = Math.Max(1, Math.Min(channelCapacity, CompactFormat.MaxChannels));
        _decimals = new int[n];
        _previousMantissa = new long[n];
        _unitIndex = new int[n];
    }

    /// <summary>Readings added since <see cref="Begin"/>.</summary>
    public int Count => _count;

    /// <summary>Bytes written so far from the offset given to <see cref="Begin"/>.</summary>
    public int Length => _pos - _start;

    /// <summary>
    /// Starts a message in <paramref name="buffer"/>[<paramref name="offset"/> .. offset + count): writes the format byte,
    /// stream id, boot epoch, unit table and channel table (§8.1, §8.2).
    /// </summary>
    /// <returns>False when the header and table do not fit in the space given (nothing usable is written).</returns>
    /// <exception cref="ArgumentNullException">buffer, streamId or channels is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">offset/count outside the buffer.</exception>
    /// <exception cref="ArgumentException">an invalid stream id (too long for a boot epoch), channel id, unit or
    /// decimals outside 0 to 9, or no channel / more than 10 000; the message names the entry.</exception>
    public bool Begin(byte[] buffer, int offset, int count, string streamId, uint bootEpoch, IReadOnlyList<CompactChannel> channels)
    {
        Guard.NotNull(buffer, nameof(buffer));

        Guard.NotNull(channels, nameof(channels));

        if (offset < 0 || count < 0 || offset > buffer.Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), "offset and count must lie inside the buffer.");
        }

        if (!CompactFormat.IsValidStreamId(streamId, bootEpoch))
        {
            throw new ArgumentException(
                $"'{streamId}' is not a stream id (lower-case letters and digits, 1 to {(bootEpoch == 0 ? CompactFormat.MaxStreamIdLength : CompactFormat.MaxEpochStreamIdLength)} with boot epoch {bootEpoch}).",
                nameof(streamId));
        }

        var n = channels.Count;
        if (n is 0 or > CompactFormat.MaxChannels)
        {
            throw new ArgumentException($"A message needs 1 to {CompactFormat.MaxChannels} channels, not {n}.", nameof(channels));
        }

        if (_decimals.Length < n)
        {
            _decimals = new int[n];
            _previousMantissa = new long[n];
            _unitIndex = new int[n];
        }

        var units = 0;
        for (var i = 0; i < n; i++)
        {
            var c = channels[i];
            if (!CompactFormat.IsValidChannelId(c.Channel))
            {
                throw new ArgumentException($"channels[{i}]: '{c.Channel}' is not a channel id such as \"env1/pm2_5\".", nameof(channels));
            }

            if (!CompactFormat.IsValidUnit(c.Unit))
            {
                throw new ArgumentException($"channels[{i}]: '{c.Unit}' is not a unit (1 to 16 printable ASCII, no space or quote).", nameof(channels));
            }

            if (c.Decimals is < 0 or > CompactFormat.MaxDecimals)
            {
                throw new ArgumentException($"channels[{i}]: decimals {c.Decimals} is outside 0 to {CompactFormat.MaxDecimals}.", nameof(channels));
            }

            _decimals[i] = c.Decimals;
            _previousMantissa[i] = 0;
            _unitIndex[i] = -1;
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(channels[j].Unit, c.Unit, StringComparison.Ordinal))
                {
                    _unitIndex[i] = _unitIndex[j];
                    break;
                }
            }

            if (_unitIndex[i] < 0)
            {
                _unitIndex[i] = units++;
            }
        }

        _buffer = buffer;
        _start = offset;
        _end = offset + count;
        _pos = offset;
        _count = 0;
        _channelCount = n;
        _previousChannel = -1;
        _begun = false;

        var ok = PutByte(CompactFormat.FormatVersion) && PutAscii(streamId, 0) && PutVarint(bootEpoch) && PutVarint((ulong)units);
        // Units in order of first use: channel i brings a new unit exactly when its index is the next unwritten one.
        for (int i = 0, written = 0; ok && i < n; i++)
        {
            if (_unitIndex[i] == written)
            {
                ok = PutAscii(channels[i].Unit, 0);
                written++;
            }
        }

        ok = ok && PutVarint((ulong)n);
        for (var i = 0; ok && i < n; i++)
        {
            var name = channels[i].Channel;
            var prefix = i == 0 ? 0 : SharedPrefix(channels[i - 1].Channel, name);
            ok = PutByte((byte)prefix) && PutAscii(name, prefix) && PutVarint((ulong)_unitIndex[i]) && PutByte((byte)_decimals[i]);
        }

        // Reading count: fixed 2 bytes, little-endian, patched by Finish (§8.1).
        _countOffset = _pos;
        ok = ok && PutByte(0) && PutByte(0);
        _begun = ok;
        return ok;
    }

    /// <summary>Appends a reading that carries a value (quality good, stale or out_of_range). Allocates nothing.</summary>
    /// <param name="sequence">1 to 2^53.</param>
    /// <param name="channelIndex">Index into the table given to <see cref="Begin"/>.</param>
    /// <param name="timestampMs">Unix milliseconds, UTC.</param>
    /// <param name="value">A finite double.</param>
    /// <param name="quality">Good, Stale or OutOfRange.</param>
    /// <returns>False when the buffer is full or the message holds 10 000 readings: nothing was written; finish this
    /// message and begin the next one.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Begin"/> has not succeeded.</exception>
    /// <exception cref="ArgumentException">a bad sequence, channel index, timestamp, non-finite value, or a quality that carries no value.</exception>
    public bool TryAdd(long sequence, int channelIndex, long timestampMs, double value, CompactQuality quality)
    {
        if ((int)quality > (int)CompactQuality.OutOfRange)
        {
            throw new ArgumentException($"{(int)quality} is not a quality (0 to 5, contract §8.1).", nameof(quality));
        }

        if (!CompactFormat.CarriesValue(quality))
        {
            throw new ArgumentException($"quality {quality} carries no value; use TryAddWithoutValue.", nameof(quality));
        }

        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            throw new ArgumentException("value must be finite (a NaN or infinite word is quality Invalid, contract §4.2).", nameof(value));
        }

        return Add(sequence, channelIndex, timestampMs, value, quality);
    }

    /// <summary>Appends a reading without a value (quality comm_failure, device_exception or invalid). Allocates nothing.</summary>
    /// <returns>As <see cref="TryAdd"/>.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Begin"/> has not succeeded.</exception>
    /// <exception cref="ArgumentException">as <see cref="TryAdd"/>, or a quality that carries a value.</exception>
    public bool TryAddWithoutValue(long sequence, int channelIndex, long timestampMs, CompactQuality quality)
    {
        if ((int)quality > (int)CompactQuality.OutOfRange)
        {
            throw new ArgumentException($"{(int)quality} is not a quality (0 to 5, contract §8.1).", nameof(quality));
        }

        if (CompactFormat.CarriesValue(quality))
        {
            throw new ArgumentException($"quality {quality} carries a value; use TryAdd.", nameof(quality));
        }

        return Add(sequence, channelIndex, timestampMs, 0, quality);
    }

    /// <summary>Patches the reading count and returns the message length in bytes (from the offset given to Begin).</summary>
    /// <exception cref="InvalidOperationException">Begin has not succeeded or no reading was added (a message holds 1 to 10 000).</exception>
    public int Finish()
    {
        if (!_begun || _count == 0)
        {
            throw new InvalidOperationException("A compact message needs a successful Begin and at least one reading.");
        }

        _buffer[_countOffset] = (byte)_count;
        _buffer[_countOffset + 1] = (byte)(_count >> 8);
        _begun = false;
        return _pos - _start;
    }

    private bool Add(long sequence, int channelIndex, long timestampMs, double value, CompactQuality quality)
    {
        if (!_begun)
        {
            throw new InvalidOperationException("Call Begin (and check that it returned true) before adding readings.");
        }

        if (sequence is < 1 or > CompactFormat.MaxSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "A sequence number is 1 to 2^53 (contract §4.1).");
        }

        if ((uint)channelIndex >= (uint)_channelCount)
        {
            throw new ArgumentOutOfRangeException(nameof(channelIndex), channelIndex, $"The table has {_channelCount} channels.");
        }

        if (timestampMs is < CompactFormat.MinTimestampMs or > CompactFormat.MaxTimestampMs)
        {
            throw new ArgumentOutOfRangeException(nameof(timestampMs), timestampMs, "Outside years 0001 to 9999.");
        }

        if (_count == CompactFormat.MaxReadings)
        {
            return false;
        }

        var mark = _pos;
        var first = _count == 0;
        if (first && !(PutVarint((ulong)sequence) && PutVarint(CompactFormat.ZigZag(timestampMs))))
        {
            _pos = mark;
            return false;
        }

        var previousSeq = first ? sequence - 1 : _previousSeq;
        var previousTs = first ? timestampMs : _previousTs;
        var nextChannel = _previousChannel + 1 == _channelCount ? 0 : _previousChannel + 1;

        var kind = 0;
        long mantissa = 0;
        float single = 0;
        if (CompactFormat.CarriesValue(quality))
        {
            kind = CompactFormat.TryScale(value, _decimals[channelIndex], out mantissa) ? 1
                : CompactFormat.IsFloat32Exact(value, out single) ? 2
                : 3;
        }

        var head = (int)quality & HeadQualityMask;
        head |= kind << 3;
        if (channelIndex == nextChannel)
        {
            head |= 0x20;
        }

        if (sequence == previousSeq + 1)
        {
            head |= 0x40;
        }

        if (timestampMs == previousTs)
        {
            head |= 0x80;
        }

        var ok = PutByte((byte)head)
            && ((head & 0x20) != 0 || PutVarint((ulong)channelIndex))
            && ((head & 0x40) != 0 || PutVarint(CompactFormat.ZigZag(sequence - previousSeq)))
            && ((head & 0x80) != 0 || PutVarint(CompactFormat.ZigZag(timestampMs - previousTs)))
            && kind switch
            {
                1 => PutVarint(CompactFormat.ZigZag(mantissa - _previousMantissa[channelIndex])),
                2 => PutInt64LittleEndian((uint)CompactFormat.SingleToInt32Bits(single), 4),
                3 => PutInt64LittleEndian((ulong)BitConverter.DoubleToInt64Bits(value), 8),
                _ => true,
            };
        if (!ok)
        {
            _pos = mark;
            return false;
        }

        if (kind == 1)
        {
            _previousMantissa[channelIndex] = mantissa;
        }

        _previousSeq = sequence;
        _previousTs = timestampMs;
        _previousChannel = channelIndex;
        _count++;
        return true;
    }

    private static int SharedPrefix(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }

    private bool PutByte(byte b)
    {
        if (_pos >= _end)
        {
            return false;
        }

        _buffer[_pos++] = b;
        return true;
    }

    /// <summary>Length byte then the ASCII characters from <paramref name="from"/> on.</summary>
    private bool PutAscii(string s, int from)
    {
        if (_end - _pos < 1 + s.Length - from)
        {
            return false;
        }

        _buffer[_pos++] = (byte)(s.Length - from);
        for (var i = from; i < s.Length; i++)
        {
            _buffer[_pos++] = (byte)s[i];
        }

        return true;
    }

    private bool PutVarint(ulong v)
    {
        var mark = _pos;
        while (v >= 0x80)
        {
            if (!PutByte((byte)(v | 0x80)))
            {
                _pos = mark;
                return false;
            }

            v >>= 7;
        }

        if (!PutByte((byte)v))
        {
            _pos = mark;
            return false;
        }

        return true;
    }

    private bool PutInt64LittleEndian(ulong v, int bytes)
    {
        if (_end - _pos < bytes)
        {
            return false;
        }

        for (var i = 0; i < bytes; i++)
        {
            _buffer[_pos++] = (byte)(v >> (8 * i));
        }

        return true;
    }
}
