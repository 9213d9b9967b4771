using System.Buffers;
using System.Globalization;
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
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 8 });
            error = Decode(ref reader, topicGatewayId, out batch);
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

        return error is null;
    }

    private static string? Decode(ref Utf8JsonReader r, string topicGatewayId, out ReadingBatch? batch)
    {
        batch = null;
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
        {
            return "payload must be a JSON object";
        }

        int? version = null;
        string? gateway = null, stream = null;
        List<SequencedReading>? readings = null;
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
                gateway = r.TokenType == JsonTokenType.String ? r.GetString() : null;
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

                readings = [];
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    if (readings.Count == MaxReadingsPerBatch)
                    {
                        return $"readings: more than {MaxReadingsPerBatch} readings in one message";
                    }

                    var e = DecodeReading(ref r, readings.Count, out var reading);
                    if (e is not null)
                    {
                        return e;
                    }

                    readings.Add(reading);
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

        if (readings is null || readings.Count == 0)
        {
            return "readings: missing or empty";
        }

        batch = new ReadingBatch(gateway, stream, readings);
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
            if (r.ValueTextEquals("clock"u8))
            {
                // §4.4: only "untrusted" means something; any other value is a later revision's and is ignored like an
                // unknown field.
                r.Read();
                clockUntrusted = r.TokenType == JsonTokenType.String && r.ValueTextEquals(UntrustedClockUtf8);
                r.Skip();
            }
            else if (r.ValueTextEquals("seq"u8))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.Number || !r.TryGetInt64(out var s) || s < 1 || s > MaxSequence)
                {
                    return $"readings[{index}].seq: must be an integer from 1 to 2^53";
                }

                seq = s;
            }
            else if (r.ValueTextEquals("channel"u8))
            {
                r.Read();
                channel = IdentifierPool.Channels.Read(ref r); // validated (Identifiers.IsValidChannelId), shared
                if (channel is null)
                {
                    return $"readings[{index}].channel: must be a channel id such as \"env1/pm2_5\"";
                }
            }
            else if (r.ValueTextEquals("ts"u8))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.String || !TryParseTimestamp(r.ValueSpan, out var t))
                {
                    return $"readings[{index}].ts: must be an RFC 3339 UTC time such as \"2026-11-22T03:15:00.123Z\"";
                }

                ts = t;
            }
            else if (r.ValueTextEquals("value"u8))
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
            else if (r.ValueTextEquals("unit"u8))
            {
                r.Read();
                unit = IdentifierPool.Units.Read(ref r); // validated (Identifiers.IsValidUnit), shared
                if (unit is null)
                {
                    return $"readings[{index}].unit: must be a unit such as \"ug/m3\" (at most 16 printable characters)";
                }
            }
            else if (r.ValueTextEquals("quality"u8))
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

    /// <summary>
    /// The shape every IocEdge gateway writes, <c>YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z</c> (RFC 3339 §5.6 with the "Z" offset),
    /// read digit by digit: the general parser below costs about a microsecond a timestamp, most of a reading's decode.
    /// False (not an error) for anything else, which then goes to the general parser: the accepted set is unchanged.
    /// </summary>
    private static bool TryParseCommonUtc(ReadOnlySpan<byte> u, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (u.Length < 20 || u[^1] != (byte)'Z' || u[4] != (byte)'-' || u[7] != (byte)'-' || u[10] != (byte)'T'
            || u[13] != (byte)':' || u[16] != (byte)':')
        {
            return false;
        }

        if (!Digits(u, 0, 4, out var year) || !Digits(u, 5, 2, out var month) || !Digits(u, 8, 2, out var day)
            || !Digits(u, 11, 2, out var hour) || !Digits(u, 14, 2, out var minute) || !Digits(u, 17, 2, out var second))
        {
            return false;
        }

        long fractionTicks = 0;
        if (u.Length > 20)
        {
            // ".f" to ".fffffff": 1 to 7 digits, the precision of a tick (100 ns).
            var digits = u.Length - 21;
            if (u[19] != (byte)'.' || digits is < 1 or > 7 || !Digits(u, 20, digits, out var fraction))
            {
                return false;
            }

            fractionTicks = fraction;
            for (var i = digits; i < 7; i++)
            {
                fractionTicks *= 10;
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59
            || second > 59)
        {
            return false;
        }

        timestamp = new DateTimeOffset(new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fractionTicks,
            TimeSpan.Zero);
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> u, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var d = u[i] - (byte)'0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = value * 10 + d;
        }

        return true;
    }

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
