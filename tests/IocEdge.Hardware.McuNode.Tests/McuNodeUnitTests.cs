using IocEdge.Hardware.McuNode;
using IocEdge.Protocols.Compact;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.McuNode.Tests;

/// <summary>The node's RAM ring, boot counter and encoder, without a broker (issue 14; contract §8).</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class McuNodeUnitTests : IDisposable
{
    private readonly TempDirectory _dir = new("mcu-unit");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));

    public void Dispose() => _dir.Dispose();

    private McuNode NewNode(int ring = 8) => new(new McuNodeOptions("gw-node-07", "node7",
        [new CompactChannel("env1/temperature", "Cel", 1)], Path.Combine(_dir.Path, "eeprom.bin"), "127.0.0.1", 1,
        RingCapacity: ring, MaxBatch: 64), _time);

    [Fact]
    public void Each_boot_takes_the_next_epoch_from_the_eeprom_file_and_restarts_the_sequence()
    {
        using var node = NewNode();
        node.Sample(0, 20.0);
        node.Sample(0, 20.1);

        node.Reboot();

        Assert.Equal(2u, node.BootEpoch);
        Assert.Equal("node7e2", node.IdentityStreamId); // §8.2
        Assert.Equal(1, node.Sample(0, 20.2));
        Assert.Equal(2, node.LostAtReboot);
        Assert.Equal(2u, new BootCounter(Path.Combine(_dir.Path, "eeprom.bin")).Read());
    }

    [Fact]
    public void A_full_ring_overwrites_its_oldest_reading_and_counts_it()
    {
        using var node = NewNode(ring: 4);
        for (var i = 0; i < 6; i++)
        {
            node.Sample(0, 20 + i);
        }

        Assert.Equal(4, node.Buffered);
        Assert.Equal(2, node.Overwritten);
        var payload = node.Encode(out var n);
        Assert.True(CompactCodec.TryDecode(payload.ToArray(), out var batch, out var error), error.ToString());
        Assert.Equal(4, n);
        Assert.Equal([3L, 4, 5, 6], batch.Readings.Select(r => r.Sequence));
        Assert.Equal("node7e1", batch.IdentityStreamId);
    }

    [Fact]
    public void Sampling_and_encoding_allocate_nothing_per_reading()
    {
        using var node = NewNode(ring: 300);
        node.Sample(0, 1);
        node.Encode(out _); // warm up
        node.Reboot();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 250; i++)
        {
            node.Sample(0, 20 + (i / 10.0));
        }

        node.Encode(out var n);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(64, n);
        Assert.Equal(0, allocated);
    }
}
