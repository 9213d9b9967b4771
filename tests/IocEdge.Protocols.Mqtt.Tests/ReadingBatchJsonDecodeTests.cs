using System.Globalization;
using System.Text;
using System.Text.Json;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>
/// What the decoder's shortcuts (wave 13) must not change: the timestamp fast path against every other RFC 3339 spelling
/// the general parser accepts or refuses, field names told apart by length and bytes against escaped spellings, the
/// gateway id compared in place, the pool's recently-read table, and the rented readings buffer. Each case states the
/// behaviour of the decoder before wave 13 (the same tests pass on commit 0bb3ff4).
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
public sealed class ReadingBatchJsonDecodeTests
{
    private const string Gateway = "gw-demo-01";
    private const string TsReason = "readings[0].ts: must be an RFC 3339 UTC time such as \"2026-11-22T03:15:00.123Z\"";

    private static byte[] Message(string readingsJson, string gatewayJson = "\"gw-demo-01\"") => Encoding.UTF8.GetBytes(
        "{\"v\":1,\"gateway\":" + gatewayJson + ",\"stream\":\"s1\",\"readings\":[" + readingsJson + "]}");

    private static string Reading(string ts = "2026-11-22T03:15:00.123Z", long seq = 1) =>
        $"{{\"seq\":{seq},\"channel\":\"env1/pm2_5\",\"ts\":\"{ts}\",\"value\":35.2,\"unit\":\"ug/m3\",\"quality\":\"good\"}}";

    private static (bool Ok, ReadingBatch? Batch, string? Error) Decode(byte[] payload, string topicGateway = Gateway)
    {
        var ok = ReadingBatchJson.TryDecode(payload, topicGateway, out var batch, out var error);
        return (ok, batch, error);
    }

    private static DateTimeOffset DecodeTs(string ts)
    {
        var (ok, batch, error) = Decode(Message(Reading(ts)));
        Assert.True(ok, $"{ts}: {error}");
        Assert.Equal(TimeSpan.Zero, batch!.Readings[0].Reading.Timestamp.Offset);
        return batch.Readings[0].Reading.Timestamp;
    }

    // The instant each accepted spelling decodes to, in ticks after 2026-11-22T03:15:00Z (or the stated date).
    [Theory]
    [InlineData("2026-11-22T03:15:00Z", "2026-11-22T03:15:00.0000000")] // no fraction
    [InlineData("2026-11-22T03:15:00.1Z", "2026-11-22T03:15:00.1000000")] // one digit
    [InlineData("2026-11-22T03:15:00.12Z", "2026-11-22T03:15:00.1200000")]
    [InlineData("2026-11-22T03:15:00.123Z", "2026-11-22T03:15:00.1230000")] // the gateways' own shape
    [InlineData("2026-11-22T03:15:00.123456Z", "2026-11-22T03:15:00.1234560")] // microseconds
    [InlineData("2026-11-22T03:15:00.1234567Z", "2026-11-22T03:15:00.1234567")] // a tick, the last exact digit
    [InlineData("2026-11-22T03:15:00.000Z", "2026-11-22T03:15:00.0000000")]
    [InlineData("2026-11-22T03:15:00.999Z", "2026-11-22T03:15:00.9990000")]
    [InlineData("2026-11-22T03:15:00.123+00:00", "2026-11-22T03:15:00.1230000")] // "+00:00": the general parser
    [InlineData("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.0000000")] // leap day (divisible by 4)
    [InlineData("2000-02-29T23:59:59.999Z", "2000-02-29T23:59:59.9990000")] // leap day (divisible by 400)
    [InlineData("2026-12-31T23:59:59.9999999Z", "2026-12-31T23:59:59.9999999")]
    [InlineData("2027-01-01T00:00:00Z", "2027-01-01T00:00:00.0000000")]
    [InlineData("2026-03-01T00:00:00Z", "2026-03-01T00:00:00.0000000")] // the day after February in a common year
    [InlineData("2024-03-01T00:00:00Z", "2024-03-01T00:00:00.0000000")] // and in a leap year
    [InlineData("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0000000")] // DateTime's first instant
    [InlineData("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999")] // and its last
    [InlineData("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.0000000")]
    // Accepted before wave 13 by the general parser, though RFC 3339 §5.6 does not allow them; kept as they were.
    [InlineData("2026-11-22T03:15:00.12345678Z", "2026-11-22T03:15:00.1234568")] // 8 digits: rounded to a tick
    [InlineData("2026-11-22T03:15:00,123Z", "2026-11-22T03:15:00.1230000")] // comma before the fraction
    [InlineData("2026-11-22T03:15:00.123 Z", "2026-11-22T03:15:00.1230000")] // a space before "Z"
    public void Accepted_timestamps_decode_to_the_same_instant_whichever_parser_reads_them(string ts, string expectedUtc)
    {
        var expected = new DateTimeOffset(DateTime.ParseExact(expectedUtc, "yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), TimeSpan.Zero);

        Assert.Equal(expected.UtcTicks, DecodeTs(ts).UtcTicks);
    }

    [Fact]
    public void The_canonical_and_the_other_spellings_of_one_instant_decode_equal()
    {
        var canonical = DecodeTs("2026-11-22T03:15:00.120Z");

        Assert.Equal(canonical, DecodeTs("2026-11-22T03:15:00.12Z"));
        Assert.Equal(canonical, DecodeTs("2026-11-22T03:15:00.1200000Z"));
        Assert.Equal(canonical, DecodeTs("2026-11-22T03:15:00.120+00:00"));
        Assert.Equal(canonical, DecodeTs("2026-11-22T03:15:00.12+00:00"));
        Assert.Equal(DecodeTs("2026-11-22T03:15:00Z"), DecodeTs("2026-11-22T03:15:00+00:00"));
    }

    // Every month's last day and the day after it, common and leap years: the fast path's month table.
    [Fact]
    public void Every_month_ends_on_its_calendar_day()
    {
        foreach (var year in new[] { 2026, 2024, 2000, 1900 })
        {
            for (var month = 1; month <= 12; month++)
            {
                var last = DateTime.DaysInMonth(year, month);
                var ts = $"{year:D4}-{month:D2}-{last:D2}T23:59:59.500Z";
                Assert.Equal(new DateTimeOffset(year, month, last, 23, 59, 59, 500, TimeSpan.Zero), DecodeTs(ts));

                var (ok, _, error) = Decode(Message(Reading($"{year:D4}-{month:D2}-{last + 1:D2}T00:00:00Z")));
                Assert.False(ok, $"{year}-{month}-{last + 1}");
                Assert.Equal(TsReason, error);
            }
        }
    }

    [Theory]
    [InlineData("2026-02-29T12:00:00Z")] // not a leap year
    [InlineData("1900-02-29T12:00:00Z")] // divisible by 100, not by 400
    [InlineData("2026-13-01T00:00:00Z")] // month 13
    [InlineData("2026-00-01T00:00:00Z")] // month 0
    [InlineData("2026-11-00T00:00:00Z")] // day 0
    [InlineData("2026-11-32T00:00:00Z")] // day 32
    [InlineData("2026-11-31T00:00:00Z")] // November has 30
    [InlineData("2026-11-30T24:00:00Z")] // hour 24
    [InlineData("2026-11-30T23:60:00Z")] // minute 60
    [InlineData("2026-11-22T03:15:60Z")] // second 60: .NET has no leap seconds, refused before wave 13 too
    [InlineData("2026-12-31T23:59:60Z")]
    [InlineData("0000-01-01T00:00:00Z")] // year 0
    [InlineData("2026-11-22T10:15:00+07:00")] // a local offset (contract §4: UTC only)
    [InlineData("2026-11-22T03:15:00-00:00")] // RFC 3339 §4.3 "unknown local offset"
    [InlineData("2026-11-22t03:15:00z")] // lower-case "t" and "z"
    [InlineData("2026-11-22T03:15:00z")]
    [InlineData("2026-11-22 03:15:00Z")] // a space for "T"
    [InlineData("2026-11-22T03:15:00.Z")] // a point without digits
    [InlineData("2026-11-22T03:15Z")] // no seconds
    [InlineData("2026-11-22T3:15:00.123Z")] // one-digit hour
    [InlineData("2026-1-22T03:15:00.123Z")]
    [InlineData("2026-11-22T03:15:00.12xZ")] // not a digit in the fraction
    [InlineData("2026-11-2xT03:15:00.123Z")] // nor in the date
    [InlineData("+2026-11-22T03:15:00Z")]
    [InlineData(" 2026-11-22T03:15:00.12Z")]
    [InlineData("2026-11-22T03:15:00.123+00:00Z")]
    [InlineData("2026-11-22T03:15:00.1234567890123456Z")] // longer than 35 bytes
    [InlineData("2026-11-22T03:15:00")] // no offset at all
    [InlineData("")]
    public void Refused_timestamps_keep_the_same_reason(string ts)
    {
        var (ok, batch, error) = Decode(Message(Reading(ts)));

        Assert.False(ok, ts);
        Assert.Null(batch);
        Assert.Equal(TsReason, error);
    }

    [Fact]
    public void A_refused_timestamp_past_the_first_buffer_names_its_index()
    {
        var readings = string.Join(',', Enumerable.Range(1, 300).Select(i => Reading(seq: i, ts: i == 300 ? "2026-11-22T03:15:00.123+07:00" : "2026-11-22T03:15:00.123Z")));

        var (ok, _, error) = Decode(Message(readings));

        Assert.False(ok);
        Assert.Equal("readings[299].ts: must be an RFC 3339 UTC time such as \"2026-11-22T03:15:00.123Z\"", error);
    }

    [Fact]
    public void A_timestamp_written_with_escapes_is_refused_as_before()
    {
        // JSON-equivalent to the canonical form, but the decoder reads the timestamp's raw bytes (as before wave 13).
        var (ok, _, error) = Decode(Message(Reading("2026\\u002d11-22T03:15:00.123Z")));

        Assert.False(ok);
        Assert.Equal(TsReason, error);
    }

    [Fact]
    public void Field_names_written_with_escapes_mean_the_same_fields()
    {
        const string plain = "{\"seq\":7,\"channel\":\"env1/pm2_5\",\"ts\":\"2026-11-22T03:15:00.123Z\",\"value\":1.5,\"unit\":\"ug/m3\",\"quality\":\"stale\",\"clock\":\"untrusted\"}";
        const string escaped = "{\"\\u0073eq\":7,\"ch\\u0061nnel\":\"env1\\/pm2_5\",\"\\u0074s\":\"2026-11-22T03:15:00.123Z\",\"v\\u0061lue\":1.5," +
                               "\"\\u0075nit\":\"ug\\/m3\",\"qu\\u0061lity\":\"stale\",\"cl\\u006Fck\":\"untrust\\u0065d\"}";
        var batchPlain = Decode(Message(plain)).Batch!;
        var payload = Encoding.UTF8.GetBytes("{\"\\u0076\":1,\"g\\u0061teway\":\"gw\\u002ddemo-01\",\"str\\u0065am\":\"s1\",\"re\\u0061dings\":[" + escaped + "]}");

        var (ok, batch, error) = Decode(payload);

        Assert.True(ok, error);
        Assert.Equal(Gateway, batch!.GatewayId);
        Assert.Equal("s1", batch.StreamId);
        Assert.Equal(batchPlain.Readings, batch.Readings);
        Assert.True(batch.Readings[0].ClockUntrusted);
        Assert.Same(batchPlain.Readings[0].Reading.Channel, batch.Readings[0].Reading.Channel);
        Assert.Same(batchPlain.Readings[0].Reading.Unit, batch.Readings[0].Reading.Unit);
    }

    [Fact]
    public void Names_that_only_share_a_length_or_a_prefix_with_a_field_are_unknown_and_skipped()
    {
        // "tz"/"sec"/"uniT"/"valve"/"clocks"/"channels"/"qualitY" are not fields: skipped, so the reading lacks nothing
        // only when the real fields are there too.
        const string reading = "{\"tz\":\"x\",\"sec\":1,\"uniT\":\"x\",\"valve\":{\"a\":[1,2]},\"clocx\":\"untrusted\",\"channels\":[],\"qualitY\":\"bad\"," +
                               "\"seq\":1,\"channel\":\"env1/pm2_5\",\"ts\":\"2026-11-22T03:15:00.123Z\",\"value\":2,\"unit\":\"ug/m3\"}";

        var (ok, batch, error) = Decode(Message(reading));

        Assert.True(ok, error);
        Assert.False(batch!.Readings[0].ClockUntrusted);
        Assert.Equal(Quality.Good, batch.Readings[0].Reading.Quality);
        Assert.Equal(2.0, batch.Readings[0].Reading.Value);
    }

    [Theory]
    [InlineData("seq", "readings[0].seq: missing")]
    [InlineData("channel", "readings[0].channel: missing")]
    [InlineData("ts", "readings[0].ts: missing")]
    [InlineData("unit", "readings[0].unit: missing")]
    [InlineData("value", "readings[0].value: missing (use null when there is no value)")]
    public void Each_missing_field_is_named(string field, string expected)
    {
        var fields = new Dictionary<string, string>
        {
            ["seq"] = "1", ["channel"] = "\"env1/pm2_5\"", ["ts"] = "\"2026-11-22T03:15:00.123Z\"", ["value"] = "1", ["unit"] = "\"ug/m3\"",
        };
        fields.Remove(field);
        var reading = "{" + string.Join(',', fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        var (ok, _, error) = Decode(Message(reading));

        Assert.False(ok);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void An_escaped_quality_is_refused_as_before()
    {
        var (ok, _, error) = Decode(Message(Reading().Replace("\"good\"", "\"go\\u006fd\"", StringComparison.Ordinal)));

        Assert.False(ok);
        Assert.Equal("readings[0].quality: must be one of good, stale, comm_failure, device_exception", error);
    }

    [Fact]
    public void The_gateway_is_the_topics_when_equal_and_named_in_the_refusal_when_not()
    {
        var (ok, batch, _) = Decode(Message(Reading()));
        Assert.True(ok);
        Assert.Equal(Gateway, batch!.GatewayId);

        var (okOther, _, other) = Decode(Message(Reading(), "\"gw-other\""));
        Assert.False(okOther);
        Assert.Equal("gateway: 'gw-other' does not match the topic's gateway 'gw-demo-01'", other);

        // A prefix or an extension of the topic's id is not it.
        Assert.Equal("gateway: 'gw-demo-0' does not match the topic's gateway 'gw-demo-01'", Decode(Message(Reading(), "\"gw-demo-0\"")).Error);
        Assert.Equal("gateway: 'gw-demo-011' does not match the topic's gateway 'gw-demo-01'", Decode(Message(Reading(), "\"gw-demo-011\"")).Error);
    }

    [Fact]
    public void A_gateway_equal_to_the_topics_is_still_validated()
    {
        // Only the topic parser keeps invalid ids out of topicGatewayId; the decoder checks the payload's id itself.
        var (ok, _, error) = Decode(Message(Reading(), "\"GW-Demo\""), topicGateway: "GW-Demo");

        Assert.False(ok);
        Assert.Equal("gateway: must be a gateway id (lower-case letters, digits, '-')", error);
    }

    [Fact]
    public void A_gateway_that_is_not_a_string_or_not_utf8_is_refused_as_before()
    {
        Assert.Equal("gateway: must be a gateway id (lower-case letters, digits, '-')", Decode(Message(Reading(), "42")).Error);

        var payload = Message(Reading(), "\"gw-demo-0\u00e9\"");
        var at = Array.IndexOf(payload, (byte)0xC3);
        payload[at + 1] = 0x28; // "é" becomes an invalid two-byte sequence
        var (ok, _, error) = Decode(payload);

        Assert.False(ok);
        Assert.StartsWith("not valid UTF-8 text", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_channel_that_is_not_utf8_is_refused_even_when_its_valid_neighbour_is_pooled()
    {
        Assert.True(Decode(Message(Reading())).Ok);
        var payload = Message(Reading().Replace("env1/pm2_5", "env1/pm2_\u00e9", StringComparison.Ordinal));
        payload[Array.IndexOf(payload, (byte)0xC3) + 1] = 0x28;

        var (ok, _, error) = Decode(payload);

        Assert.False(ok);
        Assert.StartsWith("not valid UTF-8 text", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(256)] // the first rented buffer, full
    [InlineData(257)] // one past it: the buffer grows
    [InlineData(1_000)]
    [InlineData(ReadingBatchJson.MaxReadingsPerBatch)] // the most one message may carry
    public void Every_reading_comes_back_in_order_whatever_the_count(int count)
    {
        var t = new DateTimeOffset(2026, 11, 22, 3, 15, 0, TimeSpan.Zero);
        var readings = Enumerable.Range(1, count).Select(i => new SequencedReading(i,
            new Reading($"env{i % 7}/pm2_5", t.AddMilliseconds(i), i % 5 == 0 ? null : i / 10.0, "ug/m3", i % 5 == 0 ? Quality.CommFailure : Quality.Good))
        {
            ClockUntrusted = i % 11 == 0,
        }).ToArray();

        var (ok, batch, error) = Decode(ReadingBatchJson.Encode(new ReadingBatch(Gateway, "s1", readings)));

        Assert.True(ok, error);
        Assert.Equal(readings, batch!.Readings);
        Assert.Equal(readings.Select(r => r.ClockUntrusted), batch.Readings.Select(r => r.ClockUntrusted));
    }

    [Fact]
    public void A_second_readings_field_replaces_the_first_as_before()
    {
        var payload = Encoding.UTF8.GetBytes("{\"v\":1,\"gateway\":\"gw-demo-01\",\"stream\":\"s1\",\"readings\":[" +
            string.Join(',', Enumerable.Range(1, 300).Select(i => Reading(seq: i))) + "],\"readings\":[" + Reading(seq: 900) + "]}");

        var (ok, batch, error) = Decode(payload);

        Assert.True(ok, error);
        Assert.Equal([900L], batch!.Readings.Select(r => r.Sequence));
    }

    [Fact]
    public void An_empty_second_readings_field_leaves_the_message_empty()
    {
        var payload = Encoding.UTF8.GetBytes("{\"v\":1,\"gateway\":\"gw-demo-01\",\"stream\":\"s1\",\"readings\":[" + Reading() + "],\"readings\":[]}");

        Assert.Equal("readings: missing or empty", Decode(payload).Error);
    }

    [Fact]
    public void A_refusal_midway_leaves_nothing_behind_for_the_next_message()
    {
        var bad = string.Join(',', Enumerable.Range(1, 400).Select(i => Reading(seq: i, ts: i == 400 ? "bad" : "2026-11-22T03:15:00.123Z")));
        Assert.False(Decode(Message(bad)).Ok);

        var (ok, batch, error) = Decode(Message(Reading(seq: 5)));

        Assert.True(ok, error);
        Assert.Equal([5L], batch!.Readings.Select(r => r.Sequence));
    }
}
