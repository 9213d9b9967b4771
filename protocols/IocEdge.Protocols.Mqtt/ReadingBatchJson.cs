using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace IocEdge.Protocols.Mqtt;

/// <summary>
/// The JSON payload of <c>iocedge/v1/{gateway}/readings</c> (contract v1 §4). Hand-written over
/// <see cref="Utf8JsonWriter"/>/<see cref="Utf8JsonReader"/>: no reflection, no intermediate DOM, so the aggregator can
/// decode at ingest rate and the encoder is trimming/AOT safe.
/// </summary>
public static class ReadingBatchJson
{
    /// <summary>The payload version this codec writes and reads.</summary>
    public const int Version = 1;

    /// <summary>More readings than this in one message is refused (bounds the aggregator's work per message).</summary>
    public const int MaxReadingsPerBatch = 10_000;

    /// <summary>Largest sequence number: JSON consumers in JavaScript read integers exactly up to 2^53.</summary>
    public const long MaxSequence = 1L << 53;

    /// <summary>The value of a reading's optional <c>clock</c> field that marks its timestamp as taken from an untrusted
    /// gateway clock (contract §4.4, v1.2).</summary>
    public const string UntrustedClock = "untrusted";

    private static ReadOnlySpan<byte> UntrustedClockUtf8 => "untrusted"u8;

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    public static byte[] Encode(ReadingBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + (batch.Readings.Count * 128));
        Encode(batch, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static void Encode(ReadingBatch batch, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteNumber("v"u8, Version);
        w.WriteString("gateway"u8, batch.GatewayId);
        w.WriteString("stream"u8, batch.StreamId);
        w.WriteStartArray("readings"u8);
        foreach (var sr in batch.Readings)
        {
            var (seq, r) = sr;
            w.WriteStartObject();
            w.WriteNumber("seq"u8, seq);
            w.WriteString("channel"u8, r.Channel);
            w.WriteString("ts"u8, FormatTimestamp(r.Timestamp));
            if (r.Value is { } value)
            {
                w.WriteNumber("value"u8, value);
            }
            else
            {
                w.WriteNull("value"u8);
            }

            w.WriteString("unit"u8, r.Unit);
            w.WriteString("quality"u8, QualityNames.ToWire(r.Quality));
            if (sr.ClockUntrusted)
            {
                // §4.4 (v1.2, additive): written only when set, so every other payload is byte-identical to v1.1.
                w.WriteString("clock"u8, UntrustedClock);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>RFC 3339, UTC, millisecond precision: "2026-11-22T03:15:00.123Z".</summary>
    public static string FormatTimestamp(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// Decodes and validates a readings payload received on the topic of <paramref name="topicGatewayId"/>.
    /// On failure <paramref name="error"/> names the field ("readings[3].ts") and what is wrong; nothing throws for bad input.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, string topicGatewayId, out ReadingBatch? batch, out string? error)
    {
        batch = null;
        var readings = new ReadingBuffer();
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 8 });
            error = Decode(ref reader, topicGatewayId, ref readings, out batch);
        }
        catch (JsonException ex)
        {
            error = $"not valid JSON ({ex.Message})";
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader.GetString throws this for a string that is not valid UTF-8.
            error = $"not valid UTF-8 text ({ex.Message})";
        }
        finally
        {
            readings.Return();
        }

        return error is null;
    }

    private static string? Decode(ref Utf8JsonReader r, string topicGatewayId, ref ReadingBuffer readings, out ReadingBatch? batch)
    {
        batch = null;
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
        {
            return "payload must be a JSON object";
        }

        int? version = null;
        string? gateway = null, stream = null;
        var hasReadings = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("v"u8))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out var v))
                {
                    return "v: must be an integer";
                }

                if (v != Version)
                {
                    return $"v: version {v} is not supported (this aggregator reads version {Version})";
                }

                version = v;
            }
            else if (r.ValueTextEquals("gateway"u8))
            {
                r.Read();
                // Usually the topic's own id, a string already: compared in place instead of decoding a copy.
                gateway = r.TokenType != JsonTokenType.String ? null
                    : topicGatewayId is not null && r.ValueTextEquals(topicGatewayId) ? topicGatewayId
                    : r.GetString();
                if (gateway is null || !Identifiers.IsValidGatewayId(gateway))
                {
                    return "gateway: must be a gateway id (lower-case letters, digits, '-')";
                }
            }
            else if (r.ValueTextEquals("stream"u8))
            {
                r.Read();
                stream = r.TokenType == JsonTokenType.String ? r.GetString() : null;
                if (stream is null || !Identifiers.IsValidStreamId(stream))
                {
                    return "stream: must be a stream id (lower-case letters and digits, at most 32)";
                }
            }
            else if (r.ValueTextEquals("readings"u8))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.StartArray)
                {
                    return "readings: must be an array";
                }

                hasReadings = true;
                readings.Clear(); // a second "readings" replaces the first, as before
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    if (readings.Count == MaxReadingsPerBatch)
                    {
                        return $"readings: more than {MaxReadingsPerBatch} readings in one message";
                    }

                    // Decoded in place, into the slot after the last reading.
                    var e = DecodeReading(ref r, readings.Count, out readings.Next());
                    if (e is not null)
                    {
                        return e;
                    }

                    readings.Count++;
                }
            }
            else
            {
                // Unknown fields are ignored: a minor revision of the contract may add some (§6).
                r.Skip();
            }
        }

        if (version is null)
        {
            return "v: missing";
        }

        if (gateway is null)
        {
            return "gateway: missing";
        }

        if (!string.Equals(gateway, topicGatewayId, StringComparison.Ordinal))
        {
            return $"gateway: '{gateway}' does not match the topic's gateway '{topicGatewayId}'";
        }

        if (stream is null)
        {
            return "stream: missing";
        }

        if (!hasReadings || readings.Count == 0)
        {
            return "readings: missing or empty";
        }

        batch = new ReadingBatch(gateway, stream, readings.ToArray());
        return null;
    }

    private static string? DecodeReading(ref Utf8JsonReader r, int index, out SequencedReading reading)
    {
        reading = default;
        if (r.TokenType != JsonTokenType.StartObject)
        {
            return $"readings[{index}]: must be an object";
        }

        long? seq = null;
        string? channel = null, unit = null;
        DateTimeOffset? ts = null;
        double? value = null;
        var hasValue = false;
        var quality = Quality.Good;
        var clockUntrusted = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var field = ReadingField(ref r);
            if (field == Field.Clock)
            {
                // §4.4: only "untrusted" means something; any other value is a later revision's and is ignored like an
                // unknown field.
                r.Read();
                clockUntrusted = r.TokenType == JsonTokenType.String && r.ValueTextEquals(UntrustedClockUtf8);
                r.Skip();
            }
            else if (field == Field.Seq)
            {
                r.Read();
                if (r.TokenType != JsonTokenType.Number || !r.TryGetInt64(out var s) || s < 1 || s > MaxSequence)
                {
                    return $"readings[{index}].seq: must be an integer from 1 to 2^53";
                }

                seq = s;
            }
            else if (field == Field.Channel)
            {
                r.Read();
                channel = IdentifierPool.Channels.Read(ref r); // validated (Identifiers.IsValidChannelId), shared
                if (channel is null)
                {
                    return $"readings[{index}].channel: must be a channel id such as \"env1/pm2_5\"";
                }
            }
            else if (field == Field.Ts)
            {
                r.Read();
                if (r.TokenType != JsonTokenType.String || !TryParseTimestamp(r.ValueSpan, out var t))
                {
                    return $"readings[{index}].ts: must be an RFC 3339 UTC time such as \"2026-11-22T03:15:00.123Z\"";
                }

                ts = t;
            }
            else if (field == Field.Value)
            {
                r.Read();
                hasValue = true;
                if (r.TokenType == JsonTokenType.Null)
                {
                    value = null;
                }
                else if (r.TokenType == JsonTokenType.Number && r.TryGetDouble(out var d) && double.IsFinite(d))
                {
                    value = d;
                }
                else
                {
                    return $"readings[{index}].value: must be a finite number or null";
                }
            }
            else if (field == Field.Unit)
            {
                r.Read();
                unit = IdentifierPool.Units.Read(ref r); // validated (Identifiers.IsValidUnit), shared
                if (unit is null)
                {
                    return $"readings[{index}].unit: must be a unit such as \"ug/m3\" (at most 16 printable characters)";
                }
            }
            else if (field == Field.Quality)
            {
                r.Read();
                if (r.TokenType != JsonTokenType.String || !QualityNames.TryParse(r.ValueSpan, out quality))
                {
                    return $"readings[{index}].quality: must be one of good, stale, comm_failure, device_exception";
                }
            }
            else
            {
                r.Skip();
            }
        }

        if (seq is null)
        {
            return $"readings[{index}].seq: missing";
        }

        if (channel is null)
        {
            return $"readings[{index}].channel: missing";
        }

        if (ts is null)
        {
            return $"readings[{index}].ts: missing";
        }

        if (unit is null)
        {
            return $"readings[{index}].unit: missing";
        }

        if (!hasValue)
        {
            return $"readings[{index}].value: missing (use null when there is no value)";
        }

        var carriesValue = QualityNames.CarriesValue(quality);
        if (carriesValue && value is null)
        {
            return $"readings[{index}].value: null is only allowed with quality comm_failure, device_exception or invalid";
        }

        if (!carriesValue && value is not null)
        {
            return $"readings[{index}].value: must be null with quality {QualityNames.ToWire(quality)}";
        }

        reading = new SequencedReading(seq.Value, new Reading(channel, ts.Value, value, unit, quality)) { ClockUntrusted = clockUntrusted };
        return null;
    }

    /// <summary>The fields of a reading (contract §4) this decoder reads; anything else is skipped.</summary>
    private enum Field : byte
    {
        Unknown,
        Seq,
        Channel,
        Ts,
        Value,
        Unit,
        Quality,
        Clock,
    }

    /// <summary>
    /// The reading field the current property name is. An unescaped name (what every encoder writes) is told by its length
    /// and bytes, instead of comparing it with each name in turn; an escaped one ("\u0073eq") is compared unescaped, as
    /// before, so both spellings still mean the same field.
    /// </summary>
    private static Field ReadingField(ref Utf8JsonReader r)
    {
        if (r.ValueIsEscaped || r.HasValueSequence)
        {
            return EscapedField(ref r);
        }

        var name = r.ValueSpan;
        return name.Length switch
        {
            2 when name.SequenceEqual("ts"u8) => Field.Ts,
            3 when name.SequenceEqual("seq"u8) => Field.Seq,
            4 when name.SequenceEqual("unit"u8) => Field.Unit,
            5 when name.SequenceEqual("value"u8) => Field.Value,
            5 when name.SequenceEqual("clock"u8) => Field.Clock,
            7 when name.SequenceEqual("channel"u8) => Field.Channel,
            7 when name.SequenceEqual("quality"u8) => Field.Quality,
            _ => Field.Unknown,
        };
    }

    /// <summary>An escaped (or multi-segment) property name of a reading, compared unescaped with each field name.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Field EscapedField(ref Utf8JsonReader r) =>
        r.ValueTextEquals("clock"u8) ? Field.Clock
        : r.ValueTextEquals("seq"u8) ? Field.Seq
        : r.ValueTextEquals("channel"u8) ? Field.Channel
        : r.ValueTextEquals("ts"u8) ? Field.Ts
        : r.ValueTextEquals("value"u8) ? Field.Value
        : r.ValueTextEquals("unit"u8) ? Field.Unit
        : r.ValueTextEquals("quality"u8) ? Field.Quality
        : Field.Unknown;

    /// <summary>
    /// The readings of the message being decoded, in an array rented from <see cref="ArrayPool{T}.Shared"/> (doubling from
    /// 256) so that the batch gets one array of exactly its length instead of a list's doublings (a 1,000-reading
    /// message: 72 KB allocated instead of 144 KB). <see cref="Return"/> clears what was written and gives it back.
    /// </summary>
    private struct ReadingBuffer
    {
        private const int FirstLength = 256;
        private SequencedReading[]? _items;

        public int Count;

        /// <summary>The slot after the last reading, grown when full; <see cref="Count"/> counts it once it is filled.</summary>
        public ref SequencedReading Next()
        {
            if (_items is null || Count == _items.Length)
            {
                Grow();
            }

            return ref _items![Count];
        }

        public void Clear()
        {
            if (_items is not null)
            {
                Array.Clear(_items, 0, Count);
            }

            Count = 0;
        }

        public readonly SequencedReading[] ToArray() => _items.AsSpan(0, Count).ToArray();

        public void Return()
        {
            if (_items is not null)
            {
                Array.Clear(_items, 0, Math.Min(Count + 1, _items.Length)); // + the slot a refused reading was written to
                ArrayPool<SequencedReading>.Shared.Return(_items);
                _items = null;
                Count = 0;
            }
        }

        private void Grow()
        {
            var bigger = ArrayPool<SequencedReading>.Shared.Rent(_items is null ? FirstLength : _items.Length * 2);
            if (_items is not null)
            {
                _items.AsSpan(0, Count).CopyTo(bigger);
                Array.Clear(_items, 0, Count);
                ArrayPool<SequencedReading>.Shared.Return(_items);
            }

            _items = bigger;
        }
    }

    /// <summary>
    /// The shape every IocEdge gateway writes, <c>YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z</c> (RFC 3339 §5.6 with the "Z" offset),
    /// read digit by digit: the general parser below costs about a microsecond a timestamp, most of a reading's decode.
    /// False (not an error) for anything else, which then goes to the general parser: the accepted set is unchanged.
    /// </summary>
    /// <remarks>
    /// The field positions are those of RFC 3339 §5.6 <c>full-date "T" partial-time</c>: date-fullyear 0-3, "-" 4,
    /// date-month 5-6, "-" 7, date-mday 8-9, "T" 10, time-hour 11-12, ":" 13, time-minute 14-15, ":" 16, time-second
    /// 17-18, then <c>time-secfrac</c> from 19 and "Z" last. The ranges are §5.7's (month 01-12, mday by month and leap
    /// year, hour 00-23, minute 00-59), except that a leap second (second 60) is left to the general parser, as are years
    /// 0000 and fractions past a tick (7 digits, 100 ns), which <see cref="DateTimeOffset"/> decides. The instant is
    /// computed from the fields rather than through <see cref="DateTime"/>'s constructor, with the same result.
    /// </remarks>
    private static bool TryParseCommonUtc(ReadOnlySpan<byte> u, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (u.Length < 20 || u[^1] != (byte)'Z' || u[4] != (byte)'-' || u[7] != (byte)'-' || u[10] != (byte)'T'
            || u[13] != (byte)':' || u[16] != (byte)':')
        {
            return false;
        }

        uint y0 = Digit(u[0]), y1 = Digit(u[1]), y2 = Digit(u[2]), y3 = Digit(u[3]), mo0 = Digit(u[5]), mo1 = Digit(u[6]),
            d0 = Digit(u[8]), d1 = Digit(u[9]), h0 = Digit(u[11]), h1 = Digit(u[12]), mi0 = Digit(u[14]), mi1 = Digit(u[15]),
            s0 = Digit(u[17]), s1 = Digit(u[18]);
        if (y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || mo0 > 9 || mo1 > 9 || d0 > 9 || d1 > 9 || h0 > 9 || h1 > 9 || mi0 > 9
            || mi1 > 9 || s0 > 9 || s1 > 9)
        {
            return false;
        }

        var year = (int)((y0 * 1000) + (y1 * 100) + (y2 * 10) + y3);
        var month = (int)((mo0 * 10) + mo1);
        var day = (int)((d0 * 10) + d1);
        var hour = (int)((h0 * 10) + h1);
        var minute = (int)((mi0 * 10) + mi1);
        var second = (int)((s0 * 10) + s1);

        long fractionTicks = 0;
        if (u.Length > 20)
        {
            // ".f" to ".fffffff": 1 to 7 digits, the precision of a tick (100 ns).
            var digits = u.Length - 21;
            if (u[19] != (byte)'.' || digits is < 1 or > 7)
            {
                return false;
            }

            for (var i = 20; i < 20 + digits; i++)
            {
                var d = Digit(u[i]);
                if (d > 9)
                {
                    return false;
                }

                fractionTicks = (fractionTicks * 10) + d;
            }

            fractionTicks *= TicksPerFractionDigit[digits];
        }

        if (year < 1 || month is < 1 or > 12 || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var daysToMonth = DateTime.IsLeapYear(year) ? DaysToMonth366 : DaysToMonth365;
        if (day < 1 || day > daysToMonth[month] - daysToMonth[month - 1])
        {
            return false;
        }

        // Days since 0001-01-01 (proleptic Gregorian, as DateTime counts them), then seconds, then ticks.
        var y = year - 1;
        long days = (y * 365) + (y / 4) - (y / 100) + (y / 400) + daysToMonth[month - 1] + day - 1;
        var seconds = (days * 86_400) + (hour * 3_600) + (minute * 60) + second;
        timestamp = new DateTimeOffset((seconds * TimeSpan.TicksPerSecond) + fractionTicks, TimeSpan.Zero);
        return true;
    }

    // A byte's value as a decimal digit: above 9 when it is not one ('0'-'9').
    private static uint Digit(byte b) => (uint)(b - (byte)'0');

    // Ticks (100 ns) of one unit of the last of n fraction digits, n = 1..7 (index 0 unused).
    private static ReadOnlySpan<long> TicksPerFractionDigit => [0, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];

    // [m] = the days of a year before month m + 1 (m = 0..12), so month m (1..12) has [m] - [m - 1] days: RFC 3339 §5.7's
    // date-mday limits, 29 days in February of a leap year (Appendix C).
    private static ReadOnlySpan<int> DaysToMonth365 => [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

    private static ReadOnlySpan<int> DaysToMonth366 => [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366];

    /// <summary>Accepts RFC 3339 times in UTC only ("Z" or "+00:00"); a local offset is a gateway clock bug.</summary>
    public static bool TryParseTimestamp(ReadOnlySpan<byte> utf8, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (utf8.Length is < 20 or > 35)
        {
            return false;
        }

        if (TryParseCommonUtc(utf8, out timestamp))
        {
            return true;
        }

        Span<char> chars = stackalloc char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            chars[i] = (char)utf8[i];
        }

        var utc = chars[^1] == 'Z' || chars.EndsWith("+00:00");
        if (!utc || chars[10] != 'T')
        {
            return false;
        }

        return DateTimeOffset.TryParse(chars, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp);
    }
}
