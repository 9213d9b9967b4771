using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 13, item 1: device timestamps are judged against the receive time (contract §4.3). Through the real embedded
/// broker (an MQTTnet client publishing) and the HTTP API; the aggregator's clock is a FakeTimeProvider.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class TimestampTests() : AggregatorClientTests("aggregator-ts", "gw-t", null)
{
    private async Task<MqttClientPublishResult> PublishAsync(params (long Seq, DateTimeOffset Ts, double Value)[] readings)
    {
        var batch = new ReadingBatch("gw-t", "s1", readings.Select(r =>
            new SequencedReading(r.Seq, new Reading("env1/pm2_5", r.Ts, r.Value, "ug/m3", Quality.Good))).ToArray());
        return await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings("gw-t"))
            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
    }

    private async Task<Dictionary<long, string>> TsStatusBySeqAsync()
    {
        var json = await Aggregator.GetJsonAsync("/api/v1/readings?gateway=gw-t&channel=env1/pm2_5");
        return json.GetProperty("readings").EnumerateArray()
            .ToDictionary(r => r.GetProperty("seq").GetInt64(), r => r.GetProperty("ts_status").GetString()!);
    }

    [Fact]
    public async Task A_reading_from_an_unset_clock_is_stored_flagged_and_never_becomes_latest()
    {
        // The example: a gateway whose clock was never set stamps 1970-01-01T00:00:05Z; on a fresh channel it
        // used to be acknowledged, stored as good and become the channel's latest.
        var result = await PublishAsync((1, DateTimeOffset.Parse("1970-01-01T00:00:05Z"), 99));

        Assert.True(result.IsSuccess, result.ReasonString); // stored: the gateway may delete it
        Assert.Equal("before_epoch", (await TsStatusBySeqAsync())[1]);
        Assert.False((await Aggregator.LatestAsync("gw-t")).ContainsKey("env1/pm2_5"));
    }

    [Fact]
    public async Task Every_kind_of_wrong_clock_is_stored_flagged_counted_and_kept_out_of_latest()
    {
        await PublishAsync((1, Now.AddSeconds(-1), 20)); // a plausible reading first

        var result = await PublishAsync(
            (2, DateTimeOffset.Parse("1970-01-01T00:00:05Z"), 91), // clock never set (epoch after a power cut without RTC)
            (3, DateTimeOffset.Parse("0001-01-01T00:00:00Z"), 92), // DateTime.MinValue
            (4, DateTimeOffset.Parse("1999-08-22T00:00:00Z"), 93), // GPS week-number rollover of 2019-04-06 (1024 weeks back)
            (5, DateTimeOffset.Parse("2099-01-01T00:00:00Z"), 94), // RTC battery reset to 2099
            (6, Now.AddMinutes(6), 95),                            // 6 minutes ahead: beyond MaxFuture (5 min default)
            (7, Now.AddDays(-367), 96),                            // beyond the backlog horizon MaxAge (366 days default)
            (8, Now.AddMinutes(4), 21));                           // 4 minutes ahead: within tolerance, plausible

        Assert.True(result.IsSuccess, result.ReasonString);
        var status = await TsStatusBySeqAsync();
        Assert.Equal(["ok", "before_epoch", "before_epoch", "before_epoch", "future", "future", "too_old", "ok"],
            Enumerable.Range(1, 8).Select(i => status[i]));
        Assert.Equal(21.0, (await Aggregator.LatestAsync("gw-t"))["env1/pm2_5"].Value);

        var flagged = (await Aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways")[0].GetProperty("timestamps_flagged");
        Assert.Equal((2L, 1L, 3L), (flagged.GetProperty("future").GetInt64(), flagged.GetProperty("too_old").GetInt64(),
            flagged.GetProperty("before_epoch").GetInt64()));
        var metrics = await Aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(3, PrometheusText.Value(metrics, "iocedge_ingest_timestamp_flagged_total", "gateway", "gw-t", "status", "before_epoch"));
        Assert.Equal(2, PrometheusText.Value(metrics, "iocedge_ingest_timestamp_flagged_total", "gateway", "gw-t", "status", "future"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_ingest_timestamp_flagged_total", "gateway", "gw-t", "status", "too_old"));
    }

    [Fact]
    public async Task A_clock_that_jumps_back_does_not_move_latest_back_between_or_within_messages()
    {
        await PublishAsync((1, Now.AddSeconds(-10), 1));
        await PublishAsync((2, Now.AddSeconds(-60), 2)); // NTP stepped the clock back: a newer seq with an older ts
        Assert.Equal(1.0, (await Aggregator.LatestAsync("gw-t"))["env1/pm2_5"].Value);

        await PublishAsync((3, Now.AddSeconds(-5), 3), (4, Now.AddSeconds(-30), 4)); // out of order within one message
        Assert.Equal(3.0, (await Aggregator.LatestAsync("gw-t"))["env1/pm2_5"].Value);
        Assert.Equal(4, (await TsStatusBySeqAsync()).Count(p => p.Value == "ok"));
    }

    [Fact]
    public async Task A_status_from_an_unset_clock_is_recorded_at_the_receive_time_and_counted()
    {
        await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status("gw-t"))
            .WithPayload(GatewayStatusJson.Encode(new GatewayStatus("gw-t", GatewayState.Online, DateTimeOffset.UnixEpoch, "0.1.0", 0)))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build());

        var gw = (await Aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways")[0];
        Assert.Equal(Now.UtcDateTime, gw.GetProperty("status_at").GetDateTime());
        Assert.Equal(1, gw.GetProperty("timestamps_flagged").GetProperty("before_epoch").GetInt64());
    }
}
