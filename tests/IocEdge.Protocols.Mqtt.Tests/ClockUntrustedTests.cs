using System.Text;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>Contract §4.4 (v1.2, additive): the optional per-reading <c>"clock": "untrusted"</c> mark.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public class ClockUntrustedTests
{
    private static byte[] Golden(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", name));

    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 15, 0, 120, TimeSpan.Zero);

    [Fact]
    public void The_golden_clock_payload_marks_only_the_reading_whose_clock_field_says_untrusted()
    {
        Assert.True(ReadingBatchJson.TryDecode(Golden("readings-clock.json"), "gw-demo-01", out var batch, out var error), error);

        // seq 7 "untrusted"; seq 8 no field; seq 9 a value of a later revision, ignored like an unknown field (§4.4).
        Assert.Equal([true, false, false], batch!.Readings.Select(r => r.ClockUntrusted));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 1, 59, 58, TimeSpan.Zero), batch.Readings[0].Reading.Timestamp);
    }

    [Fact]
    public void A_marked_reading_round_trips_and_an_unmarked_batch_is_byte_identical_to_v1_1()
    {
        var marked = new ReadingBatch("gw-demo-01", "s1", [
            new SequencedReading(1, new Reading("env1/pm2_5", T0, 35.2, "ug/m3", Quality.Good)) { ClockUntrusted = true },
            new SequencedReading(2, new Reading("env1/pm2_5", T0, 35.4, "ug/m3", Quality.Good)),
        ]);
        var bytes = ReadingBatchJson.Encode(marked);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Equal(1, CountOf(text, "\"clock\":\"untrusted\""));

        Assert.True(ReadingBatchJson.TryDecode(bytes, "gw-demo-01", out var back, out var error), error);
        Assert.Equal([true, false], back!.Readings.Select(r => r.ClockUntrusted));

        // No mark, no field: what v1.1 receivers and the golden vectors of §4 see is unchanged.
        var plain = new ReadingBatch("gw-demo-01", "s1", [new SequencedReading(2, new Reading("env1/pm2_5", T0, 35.4, "ug/m3", Quality.Good))]);
        Assert.DoesNotContain("clock", Encoding.UTF8.GetString(ReadingBatchJson.Encode(plain)), StringComparison.Ordinal);
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }
}
