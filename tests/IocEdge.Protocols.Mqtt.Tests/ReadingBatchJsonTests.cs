using System.Text;
using System.Text.Json;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Protocols.Mqtt.Tests;

[Trait(Traits.Category, Traits.Unit)]
public class ReadingBatchJsonTests
{
    private static byte[] Golden(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", name));

    [Fact]
    public void Golden_basic_payload_decodes_to_the_documented_readings()
    {
        Assert.True(ReadingBatchJson.TryDecode(Golden("readings-basic.json"), "gw-demo-01", out var batch, out var error), error);

        Assert.Equal("k8f2q0w5m1c3", batch!.StreamId);
        Assert.Equal([41L, 42, 43, 44], batch.Readings.Select(r => r.Sequence));
        var pm25 = batch.Readings[0].Reading;
        Assert.Equal("env1/pm2_5", pm25.Channel);
        Assert.Equal(35.2, pm25.Value);
        Assert.Equal("ug/m3", pm25.Unit);
        Assert.Equal(Quality.Good, pm25.Quality);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 3, 15, 0, 120, TimeSpan.Zero), pm25.Timestamp);
        Assert.Equal(TimeSpan.Zero, pm25.Timestamp.Offset);
    }

    [Fact]
    public void Golden_qualities_payload_covers_every_quality_defaults_and_ignores_unknown_fields()
    {
        Assert.True(ReadingBatchJson.TryDecode(Golden("readings-qualities.json"), "gw-pole-07", out var batch, out var error), error);

        var r = batch!.Readings;
        Assert.Equal(ReadingBatchJson.MaxSequence, r[0].Sequence);
        Assert.Equal(Quality.Good, r[0].Reading.Quality); // absent quality means good
        Assert.Equal(Quality.Stale, r[1].Reading.Quality);
        Assert.Equal((Quality.CommFailure, (double?)null), (r[2].Reading.Quality, r[2].Reading.Value));
        Assert.Equal((Quality.DeviceException, (double?)null), (r[3].Reading.Quality, r[3].Reading.Value));
        Assert.Equal((Quality.Invalid, (double?)null), (r[4].Reading.Quality, r[4].Reading.Value));
        Assert.Equal((Quality.OutOfRange, (double?)3276.7), (r[5].Reading.Quality, r[5].Reading.Value)); // the number travels
        Assert.Equal(Enum.GetValues<Quality>().Length, r.Select(x => x.Reading.Quality).Distinct().Count());
    }

    public static TheoryData<string, string, string> InvalidCases()
    {
        var data = new TheoryData<string, string, string>();
        using var doc = JsonDocument.Parse(Golden("invalid-cases.json"));
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            data.Add(c.GetProperty("why").GetString()!, c.GetProperty("error").GetString()!, c.GetProperty("payload").GetRawText());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Invalid_payloads_are_refused_with_the_field_named(string why, string expectedField, string payload)
    {
        var ok = ReadingBatchJson.TryDecode(Encoding.UTF8.GetBytes(payload), "gw-demo-01", out var batch, out var error);

        Assert.False(ok, why);
        Assert.Null(batch);
        Assert.StartsWith(expectedField, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_then_decode_gives_back_the_same_batch()
    {
        var t = new DateTimeOffset(2026, 11, 22, 3, 15, 0, 123, TimeSpan.Zero);
        var batch = new ReadingBatch("gw-a", "s1",
        [
            new(1, new Reading("env1/pm2_5", t, 12.5, "ug/m3", Quality.Good)),
            new(2, new Reading("env1/temperature", t.AddSeconds(1), -3.25e-3, "degC", Quality.Stale)),
            new(3, new Reading("pole7/door", t.AddSeconds(2), null, "state", Quality.CommFailure)),
            new(4, new Reading("gas1/no2", t.AddSeconds(3), null, "ppb", Quality.DeviceException)),
            new(ReadingBatchJson.MaxSequence, new Reading("x/y", t, double.MaxValue, "V", Quality.Good)),
        ]);

        var bytes = ReadingBatchJson.Encode(batch);

        Assert.True(ReadingBatchJson.TryDecode(bytes, "gw-a", out var back, out var error), error);
        Assert.Equal(batch.GatewayId, back!.GatewayId);
        Assert.Equal(batch.StreamId, back.StreamId);
        Assert.Equal(batch.Readings, back.Readings);
    }

    [Fact]
    public void Local_timestamps_are_written_in_utc()
    {
        var local = new DateTimeOffset(2026, 11, 22, 10, 15, 0, 5, TimeSpan.FromHours(7));

        Assert.Equal("2026-11-22T03:15:00.005Z", ReadingBatchJson.FormatTimestamp(local));
    }

    [Fact]
    public void Truncated_and_corrupted_payloads_are_refused_without_throwing()
    {
        var golden = Golden("readings-basic.json");
        var random = new Random(20261122);
        for (var i = 0; i < 2_000; i++)
        {
            var bytes = golden.AsSpan(0, random.Next(golden.Length)).ToArray();
            if (bytes.Length > 0 && i % 2 == 0)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            // Must return (true or false), never throw.
            _ = ReadingBatchJson.TryDecode(bytes, "gw-demo-01", out _, out _);
        }

        Assert.False(ReadingBatchJson.TryDecode(golden.AsSpan(0, golden.Length / 2), "gw-demo-01", out _, out var error));
        Assert.StartsWith("not valid JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_the_batch_limit_is_refused()
    {
        var t = DateTimeOffset.UnixEpoch;
        var readings = Enumerable.Range(1, ReadingBatchJson.MaxReadingsPerBatch + 1)
            .Select(i => new SequencedReading(i, new Reading("a/b", t, i, "V", Quality.Good))).ToArray();

        var bytes = ReadingBatchJson.Encode(new ReadingBatch("gw-a", "s1", readings));

        Assert.False(ReadingBatchJson.TryDecode(bytes, "gw-a", out _, out var error));
        Assert.StartsWith("readings:", error, StringComparison.Ordinal);
    }

    // The digit-by-digit fast path for the gateways' own shape must accept exactly what the general RFC 3339 parser
    // accepts, with the same instant: random timestamps near and off the shape (bad months, days, leap days, seconds
    // of 60, 0-9 fraction digits, stray characters) against the reference below (the parser before the fast path).
    [Fact]
    public void Timestamps_decode_to_the_same_instant_as_the_general_parser_and_the_same_ones_are_refused()
    {
        var random = new Random(20261130);
        var refused = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var fraction = random.Next(10) switch
            {
                0 => string.Empty,
                var n => "." + string.Concat(Enumerable.Range(0, n).Select(_ => (char)('0' + random.Next(10)))),
            };
            var text = $"{random.Next(1, 10000):D4}-{random.Next(0, 14):D2}-{random.Next(0, 33):D2}T{random.Next(0, 25):D2}:" +
                       $"{random.Next(0, 61):D2}:{random.Next(0, 61):D2}{fraction}{(random.Next(20) == 0 ? "+00:00" : "Z")}";
            if (random.Next(50) == 0)
            {
                var chars = text.ToCharArray();
                chars[random.Next(chars.Length)] = "x-:T.Z 9"[random.Next(8)];
                text = new string(chars);
            }

            var utf8 = Encoding.ASCII.GetBytes(text);
            var expected = Reference(text, out var expectedTime);
            Assert.True(expected == ReadingBatchJson.TryParseTimestamp(utf8, out var actual), text);
            Assert.True(expectedTime == actual, $"{text}: {actual:O} instead of {expectedTime:O}");
            refused += expected ? 0 : 1;
        }

        Assert.InRange(refused, 20_000, 180_000); // both kinds were tried
    }

    private static bool Reference(string text, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (text.Length is < 20 or > 35 || !(text.EndsWith('Z') || text.EndsWith("+00:00", StringComparison.Ordinal)) || text[10] != 'T')
        {
            return false;
        }

        return DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out timestamp);
    }
}
