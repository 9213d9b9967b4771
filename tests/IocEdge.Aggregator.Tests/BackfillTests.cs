using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 14, "live first": after an outage the gateway sends its newest readings at once and backfills the backlog
/// behind them, oldest first. The backfill is stored (exactly once) but must never move a channel's latest value
/// backwards, nor may a backfilled reading with an implausible device timestamp (contract §4.3) take its place.
/// Through the real embedded broker and GET /api/v1/latest; the aggregator's clock is a FakeTimeProvider.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class BackfillTests() : AggregatorClientTests("aggregator-backfill", "gw-bf")
{
    private async Task PublishAsync(IEnumerable<(long Seq, DateTimeOffset Ts, double Value)> readings)
    {
        var batch = new ReadingBatch("gw-bf", "s1", readings.Select(r =>
            new SequencedReading(r.Seq, new Reading("env1/pm2_5", r.Ts, r.Value, "ug/m3", Quality.Good))).ToArray());
        var result = await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings("gw-bf"))
            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(result.IsSuccess, result.ReasonCode.ToString());
    }

    private async Task<(double? Value, long Seq)> LatestAsync()
    {
        var json = await Aggregator.GetJsonAsync("/api/v1/latest?gateway=gw-bf");
        var r = Assert.Single(json.GetProperty("readings").EnumerateArray());
        return (r.GetProperty("value").GetDouble(), r.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Backlog_sent_after_the_live_readings_is_stored_but_never_moves_latest_back()
    {
        // A 10-minute outage at 1 Hz: seq 1-600 wait in the outbox; seq 601-605 are the live readings after reconnection.
        var outageStart = Now.AddMinutes(-10);
        await PublishAsync(Enumerable.Range(601, 5).Select(s => ((long)s, outageStart.AddSeconds(s - 1), 99.0)));
        var live = await LatestAsync();

        // Backfill oldest first, in batches of 100, each at a later receive time.
        for (var first = 1; first <= 600; first += 100)
        {
            Time.Advance(TimeSpan.FromSeconds(1));
            await PublishAsync(Enumerable.Range(first, 100).Select(s => ((long)s, outageStart.AddSeconds(s - 1), (double)s)));
            Assert.Equal(live, await LatestAsync());
        }

        Assert.Equal((99.0, 605L), live);
        Assert.Equal(605, Aggregator.Store.Count());
    }

    [Fact]
    public async Task A_backfilled_reading_from_a_wrong_clock_does_not_replace_the_live_latest()
    {
        // §4.3: a device clock that jumped ahead (2099) while the link was down: stored as "future", never latest.
        await PublishAsync([(601L, Now.AddSeconds(-1), 99.0)]);

        await PublishAsync([(1L, Now.AddMinutes(-10), 1.0), (2L, new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero), 2.0),
            (3L, new DateTimeOffset(1970, 1, 1, 0, 0, 5, TimeSpan.Zero), 3.0)]);

        Assert.Equal((99.0, 601L), await LatestAsync());
        Assert.Equal(4, Aggregator.Store.Count());
    }
}
