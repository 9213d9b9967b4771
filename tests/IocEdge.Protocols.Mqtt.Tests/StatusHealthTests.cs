using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>Contract §5.1 (health, v1.1, additive): the golden status is the README's example, byte for byte.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public class StatusHealthTests
{
    private static byte[] Golden() =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", "status-health.json"));

    private static void AssertGoldenHealth(GatewayHealth? h)
    {
        // Every value of the §5.1 example, in the units of its table (s, bytes, readings, °C).
        Assert.NotNull(h);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 3, 5, 0, TimeSpan.Zero), h.OutboxOldest);
        Assert.Equal(600, h.OutboxOldestAgeSeconds);
        Assert.Equal(1_540_096, h.OutboxBytes);
        Assert.Equal(0, h.DeadLettered);
        Assert.Equal(new Dictionary<string, long> { ["evicted_age"] = 3 }, h.DroppedByReason);
        Assert.Equal(0, h.QuarantinedFiles);
        Assert.Equal(1_048_576_000, h.DiskFreeBytes);
        Assert.Equal(3600.5, h.UptimeSeconds);
        Assert.Equal("synced", h.Clock);
        Assert.Equal(48.3, h.CpuTemperatureCelsius);
        Assert.Equal(123_456, h.Forwarded);
        Assert.Equal(2, h.PublishFailures);
    }

    [Fact]
    public void The_golden_health_status_decodes_with_every_field()
    {
        Assert.True(GatewayStatusJson.TryDecode(Golden(), "gw-demo-01", out var status, out var error), error);

        Assert.Equal(GatewayState.Online, status!.State);
        Assert.Equal(12_000, status.OutboxPending);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 3, 15, 0, TimeSpan.Zero), status.Timestamp);
        AssertGoldenHealth(status.Health);
    }

    [Fact]
    public void The_golden_health_status_round_trips_through_the_encoder()
    {
        Assert.True(GatewayStatusJson.TryDecode(Golden(), "gw-demo-01", out var status, out _));

        Assert.True(GatewayStatusJson.TryDecode(GatewayStatusJson.Encode(status!), "gw-demo-01", out var back, out var error), error);

        Assert.Equal(status!.OutboxPending, back!.OutboxPending);
        AssertGoldenHealth(back.Health);
    }

    [Fact]
    public void A_v1_0_status_without_health_still_decodes_and_has_no_health()
    {
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", "status-online.json"));

        Assert.True(GatewayStatusJson.TryDecode(bytes, "gw-demo-01", out var status, out var error), error);
        Assert.Null(status!.Health);
    }
}
