using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;

namespace IocEdge.Protocols.Compact;

/// <summary>
/// Whole-message codec of the compact payload (contract README §8): <see cref="Encode"/> builds the channel table and
/// each channel's decimal places from the readings; <see cref="TryDecode(byte[], out CompactBatch?, out CompactError)"/>
/// validates everything and never throws. For an allocation-free encoder use <see cref="CompactWriter"/>.
/// </summary>
public static class CompactCodec
{
    /// <summary>Most bytes one reading can take: head 1, channel index 2, seq delta 8, ts delta 8, value 8 (§8.1).</summary>
    internal const int MaxReadingBytes = 27;

    /// <summary>
    /// Encodes <paramref name="batch"/>. Channels are tabled in order of first appearance, one entry per (channel, unit)
    /// pair, with the fewest decimal places (0 to 9) at which every value of that entry scales exactly; a value that
    /// does not scale travels as a float32 when that is exact, else as a float64, so nothing is ever rounded.
    /// </summary>
    /// <returns>The payload, 1 byte per reading or more.</returns>
    /// <exception cref="ArgumentNullException">batch is null.</exception>
    /// <exception cref="ArgumentException">the batch breaks contract §4/§8 (bad id, 0 or more than 10 000 readings,
    /// a value that contradicts its quality, a non-finite value, a sequence or timestamp out of range); the message
    /// names the reading, as <c>readings[3].value</c>.</exception>
    public static byte[] Encode(CompactBatch batch)
    {
        Guard.NotNull(batch, nameof(batch));

        var readings = batch.Readings ?? throw new ArgumentException("readings: missing.", nameof(batch));
        if (readings.Count is 0 or > CompactFormat.MaxReadings)
        {
            throw new ArgumentException($"readings: a message holds 1 to {CompactFormat.MaxReadings} readings, not {readings.Count}.", nameof(batch));
        }

        var index = new Dictionary<(string, string), int>();
        var channels = new List<CompactChannel>();
        var channelOf = new int[readings.Count];
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            if (r.Channel is null || r.Unit is null)
            {
                throw new ArgumentException($"readings[{i}]: channel and unit are required.", nameof(batch));
            }

            if (!index.TryGetValue((r.Channel, r.Unit), out var c))
            {
                c = channels.Count;
                index.Add((r.Channel, r.Unit), c);
                channels.Add(new CompactChannel(r.Channel, r.Unit, 0));
            }

            channelOf[i] = c;
            if (r.Value is { } v && CompactFormat.MinimalDecimals(v) is var d && d > channels[c].Decimals)
            {
                channels[c] = channels[c] with { Decimals = d };
            }
        }

        var size = 64 + (channels.Count * (4 + CompactFormat.MaxChannelLength + CompactFormat.MaxUnitLength)) + (readings.Count * MaxReadingBytes);
        var buffer = new byte[size];
        var writer = new CompactWriter(channels.Count);
        if (!writer.Begin(buffer, 0, size, batch.StreamId, batch.BootEpoch, channels))
        {
            throw new InvalidOperationException("The compact size bound is wrong: the table did not fit.");
        }

        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            bool added;
            try
            {
                if (CompactFormat.CarriesValue(r.Quality))
                {
                    added = writer.TryAdd(r.Sequence, channelOf[i], r.TimestampMs,
                        r.Value ?? throw new ArgumentException($"quality {r.Quality} needs a value.", nameof(batch)), r.Quality);
                }
                else
                {
                    if (r.Value is not null)
                    {
                        throw new ArgumentException($"quality {r.Quality} carries no value: value must be null.", nameof(batch));
                    }

                    added = writer.TryAddWithoutValue(r.Sequence, channelOf[i], r.TimestampMs, r.Quality);
                }
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"readings[{i}]: {ex.Message}", nameof(batch), ex);
            }

            if (!added)
            {
                throw new InvalidOperationException("The compact size bound is wrong: a reading did not fit.");
            }
        }

        var length = writer.Finish();
        var result = new byte[length];
        Array.Copy(buffer, result, length);
        return result;
    }

    /// <summary>Decodes a whole payload, or throws <see cref="CompactFormatException"/> (the only exception) naming offset and field.</summary>
    /// <exception cref="ArgumentNullException">payload is null.</exception>
    /// <exception cref="CompactFormatException">the payload breaks contract §8.</exception>
    public static CompactBatch Decode(byte[] payload) =>
        TryDecode(payload, out var batch, out var error) ? batch : throw new CompactFormatException(error);

    /// <summary>Decodes and validates a whole payload. Never throws for any content of <paramref name="payload"/>.</summary>
    /// <exception cref="ArgumentNullException">payload is null.</exception>
    public static bool TryDecode(byte[] payload, [NotNullWhen(true)] out CompactBatch? batch, out CompactError error) =>
        TryDecode(payload, 0, payload?.Length ?? 0, out batch, out error);

    /// <summary>Decodes and validates payload[offset .. offset + count). Never throws for any content of those bytes;
    /// error offsets count from <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentNullException">payload is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">offset/count outside the array.</exception>
    public static bool TryDecode(byte[] payload, int offset, int count, [NotNullWhen(true)] out CompactBatch? batch, out CompactError error)
    {
        Guard.NotNull(payload, nameof(payload));

        if (offset < 0 || count < 0 || offset > payload.Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), "offset and count must lie inside the payload.");
        }

        var reader = new Reader(payload, offset, offset + count);
        batch = reader.ReadBatch();
        error = reader.Error;
        return batch is not null;
    }

#if NET
    /// <summary>Span form of <see cref="TryDecode(byte[], out CompactBatch?, out CompactError)"/>; copies the payload once (its real length, never a claimed one).</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out CompactBatch? batch, out CompactError error) =>
        TryDecode(payload.ToArray(), out batch, out error);
#endif

    /// <summary>The decoder: every read checks the bytes left and records the first fault.</summary>
    private struct Reader
    {
        private readonly byte[] data;
        private readonly int start;
        private readonly int end;
        private int _pos;

        public Reader(byte[] data, int start, int end)
        {
            this.data = data;
            this.start = start;
            this.end = end;
            _pos = start;
            Error = default;
        }

        public CompactError Error { get; private set; }

        public CompactBatch? ReadBatch()
        {
            if (!ReadByte("header.format", out var format))
            {
                return null;
            }

            if (format != CompactFormat.FormatVersion)
            {
                return Fail(_pos - 1, "header.format", $"format {format} is not supported (this decoder reads format {CompactFormat.FormatVersion})");
            }

            var streamAt = _pos;
            if (!ReadAscii("header.stream", 1, CompactFormat.MaxStreamIdLength, out var stream))
            {
                return null;
            }

            var epochAt = _pos;
            if (!ReadVarint("header.epoch", out var epoch))
            {
                return null;
            }

            if (epoch > uint.MaxValue)
            {
                return Fail(epochAt, "header.epoch", "a boot epoch is 0 to 2^32-1");
            }

            if (!CompactFormat.IsValidStreamId(stream, (uint)epoch))
            {
                return Fail(streamAt, "header.stream",
                    epoch == 0 ? "must be lower-case letters and digits, 1 to 32" : "with a boot epoch, must be lower-case letters and digits, 1 to 21");
            }

            // Unit table. Each entry takes at least 2 bytes: no array is made for more entries than the bytes left could hold.
            var at = _pos;
            if (!ReadVarint("units.count", out var unitCount))
            {
                return null;
            }

            if (unitCount == 0 || unitCount > CompactFormat.MaxChannels || unitCount > (ulong)(Left / 2))
            {
                return Fail(at, "units.count", $"{unitCount} units cannot be right (1 to {CompactFormat.MaxChannels}, 2 bytes each at least, {Left} bytes left)");
            }

            var units = new string[(int)unitCount];
            for (var i = 0; i < units.Length; i++)
            {
                at = _pos;
                if (!ReadAscii(FieldName("units", i), 1, CompactFormat.MaxUnitLength, out var unit))
                {
                    return null;
                }

                if (!CompactFormat.IsValidUnit(unit))
                {
                    return Fail(at, FieldName("units", i), "must be 1 to 16 printable ASCII characters without space or quote");
                }

                units[i] = unit;
            }

            // Channel table: prefix, suffix, unit index, decimals: 4 bytes at least each.
            at = _pos;
            if (!ReadVarint("channels.count", out var channelCount))
            {
                return null;
            }

            if (channelCount == 0 || channelCount > CompactFormat.MaxChannels || channelCount > (ulong)(Left / 4))
            {
                return Fail(at, "channels.count", $"{channelCount} channels cannot be right (1 to {CompactFormat.MaxChannels}, 4 bytes each at least, {Left} bytes left)");
            }

            var n = (int)channelCount;
            var channelNames = new string[n];
            var channelUnits = new string[n];
            var decimals = new int[n];
            var name = new char[CompactFormat.MaxChannelLength];
            var nameLength = 0;
            for (var i = 0; i < n; i++)
            {
                at = _pos;
                if (!ReadByte(FieldName("channels", i, ".prefix"), out var prefix))
                {
                    return null;
                }

                if (prefix > nameLength)
                {
                    return Fail(at, FieldName("channels", i, ".prefix"), $"shares {prefix} characters with a previous name of {nameLength}");
                }

                at = _pos;
                if (!ReadByte(FieldName("channels", i, ".name"), out var suffix))
                {
                    return null;
                }

                if (prefix + suffix is 0 or > CompactFormat.MaxChannelLength)
                {
                    return Fail(at, FieldName("channels", i, ".name"), "a channel id is 1 to 128 characters");
                }

                if (suffix > Left)
                {
                    return Fail(at, FieldName("channels", i, ".name"), $"claims {suffix} bytes, {Left} left");
                }

                for (var k = 0; k < suffix; k++)
                {
                    name[prefix + k] = (char)data[_pos++];
                }

                nameLength = prefix + suffix;
                var channel = new string(name, 0, nameLength);
                if (!CompactFormat.IsValidChannelId(channel))
                {
                    return Fail(at, FieldName("channels", i, ".name"), "must be segments of [a-z0-9][a-z0-9_.-]* joined by '/'");
                }

                at = _pos;
                if (!ReadVarint(FieldName("channels", i, ".unit"), out var unitIndex))
                {
                    return null;
                }

                if (unitIndex >= unitCount)
                {
                    return Fail(at, FieldName("channels", i, ".unit"), $"unit {unitIndex} is not in the table of {unitCount}");
                }

                at = _pos;
                if (!ReadByte(FieldName("channels", i, ".decimals"), out var d))
                {
                    return null;
                }

                if (d > CompactFormat.MaxDecimals)
                {
                    return Fail(at, FieldName("channels", i, ".decimals"), $"{d} is outside 0 to {CompactFormat.MaxDecimals}");
                }

                channelNames[i] = channel;
                channelUnits[i] = units[(int)unitIndex];
                decimals[i] = d;
            }

            at = _pos;
            if (!ReadByte("readings.count", out var lo) || !ReadByte("readings.count", out var hi))
            {
                return null;
            }

            var count = lo | (hi << 8);
            if (count is 0 or > CompactFormat.MaxReadings)
            {
                return Fail(at, "readings.count", $"{count} readings (a message holds 1 to {CompactFormat.MaxReadings})");
            }

            // Every reading takes at least its head byte, and the bases at least 2 more.
            if (count > Left - 2)
            {
                return Fail(at, "readings.count", $"claims {count} readings, {Left} bytes left");
            }

            at = _pos;
            if (!ReadVarint("readings.base_seq", out var baseSeq))
            {
                return null;
            }

            if (baseSeq is < 1 or > (ulong)CompactFormat.MaxSequence)
            {
                return Fail(at, "readings.base_seq", "must be 1 to 2^53");
            }

            at = _pos;
            if (!ReadVarint("readings.base_ts", out var baseTsRaw))
            {
                return null;
            }

            var baseTs = CompactFormat.UnZigZag(baseTsRaw);
            if (baseTs is < CompactFormat.MinTimestampMs or > CompactFormat.MaxTimestampMs)
            {
                return Fail(at, "readings.base_ts", "must be a Unix time in ms within years 0001 to 9999");
            }

            var readings = new CompactReading[count];
            var previousMantissa = new long[n];
            var previousSeq = (long)baseSeq - 1;
            var previousTs = baseTs;
            var previousChannel = -1;
            for (var i = 0; i < count; i++)
            {
                at = _pos;
                if (!ReadByte(FieldName("readings", i, ".head"), out var head))
                {
                    return null;
                }

                var quality = head & 0x07;
                var kind = (head >> 3) & 0x03;
                if (quality > (int)CompactQuality.OutOfRange)
                {
                    return Fail(at, FieldName("readings", i, ".quality"), $"{quality} is not a quality (0 to 5)");
                }

                if (CompactFormat.CarriesValue((CompactQuality)quality) != (kind != 0))
                {
                    return Fail(at, FieldName("readings", i, ".value"),
                        kind == 0 ? $"quality {(CompactQuality)quality} needs a value" : $"quality {(CompactQuality)quality} carries no value");
                }

                int channel;
                if ((head & 0x20) != 0)
                {
                    channel = previousChannel + 1 == n ? 0 : previousChannel + 1;
                }
                else
                {
                    at = _pos;
                    if (!ReadVarint(FieldName("readings", i, ".channel"), out var c))
                    {
                        return null;
                    }

                    if (c >= (ulong)n)
                    {
                        return Fail(at, FieldName("readings", i, ".channel"), $"channel {c} is not in the table of {n}");
                    }

                    channel = (int)c;
                }

                long seq;
                if ((head & 0x40) != 0)
                {
                    seq = previousSeq + 1;
                    at = _pos;
                }
                else
                {
                    at = _pos;
                    if (!ReadVarint(FieldName("readings", i, ".seq"), out var delta))
                    {
                        return null;
                    }

                    var signed = CompactFormat.UnZigZag(delta);
                    seq = signed is < -CompactFormat.MaxSequence or > CompactFormat.MaxSequence ? 0 : previousSeq + signed;
                }

                if (seq is < 1 or > CompactFormat.MaxSequence)
                {
                    return Fail(at, FieldName("readings", i, ".seq"), "must come out as 1 to 2^53");
                }

                long ts = previousTs;
                if ((head & 0x80) == 0)
                {
                    at = _pos;
                    if (!ReadVarint(FieldName("readings", i, ".ts"), out var delta))
                    {
                        return null;
                    }

                    var signed = CompactFormat.UnZigZag(delta);
                    ts = signed is < -2 * CompactFormat.MaxTimestampMs or > 2 * CompactFormat.MaxTimestampMs ? long.MinValue : previousTs + signed;
                    if (ts is < CompactFormat.MinTimestampMs or > CompactFormat.MaxTimestampMs)
                    {
                        return Fail(at, FieldName("readings", i, ".ts"), "must come out as a Unix time in ms within years 0001 to 9999");
                    }
                }

                double? value = null;
                at = _pos;
                switch (kind)
                {
                    case 1:
                        if (!ReadVarint(FieldName("readings", i, ".value"), out var raw))
                        {
                            return null;
                        }

                        var step = CompactFormat.UnZigZag(raw);
                        var m = step is < -2 * CompactFormat.MaxSequence or > 2 * CompactFormat.MaxSequence ? long.MaxValue : previousMantissa[channel] + step;
                        if (m is < -CompactFormat.MaxSequence or > CompactFormat.MaxSequence)
                        {
                            return Fail(at, FieldName("readings", i, ".value"), "the scaled value must come out within ±2^53");
                        }

                        previousMantissa[channel] = m;
                        value = CompactFormat.Unscale(m, decimals[channel]);
                        break;
                    case 2:
                        if (!ReadFixed(FieldName("readings", i, ".value"), 4, out var bits32))
                        {
                            return null;
                        }

                        value = CompactFormat.Int32BitsToSingle((int)bits32);
                        break;
                    case 3:
                        if (!ReadFixed(FieldName("readings", i, ".value"), 8, out var bits64))
                        {
                            return null;
                        }

                        value = BitConverter.Int64BitsToDouble((long)bits64);
                        break;
                    default:
                        break;
                }

                if (value is { } v && (double.IsNaN(v) || double.IsInfinity(v)))
                {
                    return Fail(at, FieldName("readings", i, ".value"), "must be finite (NaN and infinity travel as quality invalid)");
                }

                readings[i] = new CompactReading(seq, channelNames[channel], ts, value, channelUnits[channel], (CompactQuality)quality);
                previousSeq = seq;
                previousTs = ts;
                previousChannel = channel;
            }

            if (_pos != end)
            {
                return Fail(_pos, "trailer", $"{end - _pos} bytes after the last reading");
            }

            return new CompactBatch(stream, (uint)epoch, readings);
        }

        private readonly int Left => end - _pos;

        private int Offset(int position) => position - start;

        private CompactBatch? Fail(int position, string field, string reason)
        {
            Error = new CompactError(Offset(position), field, reason);
            return null;
        }

        private bool ReadByte(string field, out byte value)
        {
            if (_pos >= end)
            {
                value = 0;
                Fail(_pos, field, "the payload ends here");
                return false;
            }

            value = data[_pos++];
            return true;
        }

        private bool ReadFixed(string field, int bytes, out ulong value)
        {
            value = 0;
            if (Left < bytes)
            {
                Fail(_pos, field, $"needs {bytes} bytes, {Left} left");
                return false;
            }

            for (var i = 0; i < bytes; i++)
            {
                value |= (ulong)data[_pos++] << (8 * i);
            }

            return true;
        }

        /// <summary>LEB128, at most 10 bytes, the 10th at most 1 (64 bits).</summary>
        private bool ReadVarint(string field, out ulong value)
        {
            value = 0;
            var at = _pos;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= end)
                {
                    Fail(_pos, field, "the payload ends inside a varint");
                    return false;
                }

                var b = data[_pos++];
                if (shift == 63 && b > 1)
                {
                    break;
                }

                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            Fail(at, field, "a varint longer than 64 bits");
            return false;
        }

        /// <summary>A length byte, then that many ASCII bytes.</summary>
        private bool ReadAscii(string field, int min, int max, out string text)
        {
            text = string.Empty;
            var at = _pos;
            if (!ReadByte(field, out var length))
            {
                return false;
            }

            if (length < min || length > max)
            {
                Fail(at, field, $"length {length} is outside {min} to {max}");
                return false;
            }

            if (length > Left)
            {
                Fail(at, field, $"claims {length} bytes, {Left} left");
                return false;
            }

            var chars = new char[length];
            for (var i = 0; i < length; i++)
            {
                chars[i] = (char)data[_pos++];
            }

            text = new string(chars);
            return true;
        }

        private static string FieldName(string table, int index, string member = "") => table + "[" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]" + member;
    }
}
