using IocEdge.Hardware.McuNode;
using IocEdge.Protocols.Compact;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.EndToEnd.Tests;

/// <summary>
/// Issue 14, proof: a simulated MCU-class node (RAM ring, boot counter, compact payload) reboots mid-stream against the
/// real aggregator. Contract §8.2: the reboot restarts the sequence at 1 under a new boot epoch; the aggregator stores
/// the new readings (not duplicates of the old seq 1..n) and every acknowledged reading exactly once; what was in RAM
/// unacknowledged at the reboot is the only loss, and the node counts it.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class McuNodeTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("e2e-mcu");
    private readonly FakeTimeProvider _time = new(Start);
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "agg"),
        b => b.Services.AddSingleton<TimeProvider>(_time));

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private McuNode NewNode() => new(new McuNodeOptions("gw-node-07", "node7",
        [new CompactChannel("env1/temperature", "Cel", 1), new CompactChannel("env1/humidity", "%RH", 1)],
        Path.Combine(_dir.Path, "eeprom.bin"), "127.0.0.1", _aggregator.MqttPort, RingCapacity: 300, MaxBatch: 40), _time);

    private void SampleSeconds(McuNode node, int seconds, double baseValue)
    {
        for (var s = 0; s < seconds; s++)
        {
            node.Sample(0, baseValue + (s % 10 / 10.0));
            node.Sample(1, 60 + (s % 5));
            _time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task A_node_that_reboots_mid_stream_loses_only_what_was_unacknowledged_in_RAM()
    {
        using var node = NewNode();
        Assert.Equal(1u, node.BootEpoch);

        // Boot 1: 100 readings sent and acknowledged, then 30 more sampled
        // while the link is "down" (not flushed): in RAM, unacknowledged, when the power cuts.
        SampleSeconds(node, 50, 25.0);
        Assert.Equal(100, await node.FlushAsync());
        SampleSeconds(node, 15, 26.0);
        Assert.Equal(30, node.Buffered);

        node.Reboot();

        // Boot 2: sequence restarts at 1 under epoch 2; 120 readings sent and acknowledged.
        Assert.Equal(2u, node.BootEpoch);
        SampleSeconds(node, 60, 27.0);
        Assert.Equal(120, await node.FlushAsync());

        Assert.Equal(30, node.LostAtReboot); // the only loss, stated by the node
        Assert.Equal(220, node.Acknowledged);
        Assert.Equal(0, node.PublishFailures);
        Assert.Equal(220, _aggregator.Store.Count()); // every acknowledged reading, none twice, none dropped as a duplicate
        Assert.Equal(0, _aggregator.Metrics.Duplicates);
        var temperature = _aggregator.Store.History("gw-node-07", "env1/temperature");
        Assert.Equal(110, temperature.Count);
        // Boot 1's odd seq 1..99 and boot 2's odd seq 1..119 are both there: seq 1 twice, under two identity streams.
        Assert.Equal(2, temperature.Count(r => r.Sequence == 1));
        var latest = await _aggregator.LatestAsync("gw-node-07");
        Assert.Equal(27.9, latest["env1/temperature"].Value!.Value, 9); // the last boot-2 reading (27.0 + 9/10), not a boot-1 one
    }

    [Fact]
    public async Task The_boot_counter_survives_the_node_object_so_a_cold_start_never_reuses_an_epoch()
    {
        // A new process is a cold boot: the EEPROM file, not RAM, carries the counter.
        using (var first = NewNode())
        {
            SampleSeconds(first, 5, 20.0);
            Assert.Equal(10, await first.FlushAsync());
        }

        using var second = NewNode();
        SampleSeconds(second, 5, 21.0);
        Assert.Equal(10, await second.FlushAsync());

        Assert.Equal(2u, second.BootEpoch);
        Assert.Equal(20, _aggregator.Store.Count());
        Assert.Equal(0, _aggregator.Metrics.Duplicates);
    }
}
