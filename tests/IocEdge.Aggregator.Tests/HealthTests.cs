using System.Text;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 14, "stale health": the gateway's periodic status carries a health object (contract §5); the aggregator keeps
/// the latest one per gateway current in GET /api/v1/gateways and as gauges in /metrics. Real embedded broker, MQTTnet
/// client, HTTP API.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class HealthTests() : AggregatorClientTests("aggregator-health", "gw-h")
{
    private async Task PublishStatusAsync(string json)
    {
        var result = await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status("gw-h"))
            .WithPayload(Encoding.UTF8.GetBytes(json)).WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(result.IsSuccess, result.ReasonCode + " " + result.ReasonString);
    }

    private static string Status(string state, long pending, long outboxBytes, long evicted, string clock) => $$"""
        {"v":1,"gateway":"gw-h","state":"{{state}}","ts":"2026-11-22T02:59:59.000Z","software":"0.2.0","outbox_pending":{{pending}},
         "health":{"outbox_oldest_ts":"2026-11-22T02:49:59.000Z","outbox_oldest_age_s":600,"outbox_bytes":{{outboxBytes}},
                   "dead_lettered":0,"dropped":{"evicted_age":{{evicted}}},"quarantined_files":1,"disk_free_bytes":1048576,
                   "uptime_s":3600.5,"clock":"{{clock}}","cpu_temp_c":51.2,"forwarded":12000,"publish_failures":3,
                   "a_field_from_a_later_revision":7 } }
        """;

    [Fact]
    public async Task The_latest_health_of_a_gateway_is_current_in_the_gateways_API_and_in_metrics()
    {
        // Used to be: status published only on connect, outbox_pending frozen, no health at all.
        await PublishStatusAsync(Status("online", 36000, 4_100_000, 0, "unsynced"));
        Time.Advance(TimeSpan.FromSeconds(60));
        await PublishStatusAsync(Status("online", 120, 65_536, 2294, "synced"));

        var gw = Assert.Single((await Aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways").EnumerateArray());
        Assert.Equal(120, gw.GetProperty("outbox_pending").GetInt64());
        var health = gw.GetProperty("health");
        Assert.Equal(65_536, health.GetProperty("outbox_bytes").GetInt64());
        Assert.Equal(2294, health.GetProperty("dropped").GetProperty("evicted_age").GetInt64());
        Assert.Equal("synced", health.GetProperty("clock").GetString());
        Assert.Equal(51.2, health.GetProperty("cpu_temp_c").GetDouble());
        Assert.Equal(7, health.GetProperty("a_field_from_a_later_revision").GetInt64()); // unknown fields kept, not refused
        Assert.Equal(Now.AddSeconds(60).UtcDateTime, gw.GetProperty("health_at").GetDateTime());

        var metrics = await Aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(65536, PrometheusText.Value(metrics, "iocedge_gateway_health", "gateway", "gw-h", "field", "outbox_bytes"));
        Assert.Equal(2294, PrometheusText.Value(metrics, "iocedge_gateway_health", "gateway", "gw-h", "field", "dropped.evicted_age"));
        Assert.Equal(1, PrometheusText.Value(metrics, "iocedge_gateway_health_info", "gateway", "gw-h", "field", "clock", "value", "synced"));
        Assert.DoesNotContain("4100000", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_offline_will_without_health_keeps_the_last_health_reported()
    {
        await PublishStatusAsync(Status("online", 5, 8192, 0, "synced"));

        await PublishStatusAsync("""{"v":1,"gateway":"gw-h","state":"offline","ts":"2026-11-22T03:00:00.000Z"}""");

        var gw = Assert.Single((await Aggregator.GetJsonAsync("/api/v1/gateways")).GetProperty("gateways").EnumerateArray());
        Assert.Equal("offline", gw.GetProperty("state").GetString());
        Assert.Equal(8192, gw.GetProperty("health").GetProperty("outbox_bytes").GetInt64());
    }
}
