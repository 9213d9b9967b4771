using IocEdge.Benchmarks.Compact;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>The golden vectors of contract §8 (hand-checked bytes, one comment per field) decode to the documented batch and
/// the encoder reproduces them byte for byte.</summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "outbox")]
public sealed class GoldenVectorTests
{
    private static readonly CompactReading[] Qualities =
    [
        new(41, "pole7/door", Golden.T0, 1, "state", CompactQuality.Good),
        new(42, "wq1/ph", Golden.T0 + 1000, 7.02, "pH", CompactQuality.Stale),
        new(43, "wq1/do", Golden.T0 + 1000, null, "mg/L", CompactQuality.CommFailure),
        new(44, "gas1/no2", Golden.T0 + 1000, null, "ppb", CompactQuality.DeviceException),
        new(45, "met1/air_temp", Golden.T0 + 1000, null, "degC", CompactQuality.Invalid),
        new(46, "met1/rh", Golden.T0 + 1000, 3276.7, "%RH", CompactQuality.OutOfRange),
        new(47, "pole7/door", Golden.T0 + 2000, 0, "state", CompactQuality.Good),
        new(50, "wq1/ph", Golden.T0 + 1990, 7.2f, "pH", CompactQuality.Good),
        new(51, "met1/rh", Golden.T0 + 2000, 0.1 + 0.2, "%RH", CompactQuality.Good),
    ];

    [Fact]
    public void Qualities_vector_decodes_to_all_six_qualities_and_three_value_kinds()
    {
        var batch = CompactCodec.Decode(Golden.Load("readings-qualities.hex"));

        Assert.Equal("a1", batch.StreamId);
        Assert.Equal(0u, batch.BootEpoch);
        Assert.Equal("a1", batch.IdentityStreamId);
        Assert.Equal(Qualities, batch.Readings);
        // Bit-exact values, not just ==: 7.2f widened and 0.1 + 0.2 are the float fallbacks (§8.3).
        Assert.Equal(BitConverter.DoubleToInt64Bits(7.2f), BitConverter.DoubleToInt64Bits(batch.Readings[7].Value!.Value));
        Assert.Equal(0x3FD3333333333334, BitConverter.DoubleToInt64Bits(batch.Readings[8].Value!.Value));
    }

    [Fact]
    public void Encoder_reproduces_the_qualities_vector_byte_for_byte()
    {
        var bytes = CompactCodec.Encode(new CompactBatch("a1", 0, Qualities));

        Assert.Equal(Convert.ToHexString(Golden.Load("readings-qualities.hex")), Convert.ToHexString(bytes));
    }

    [Fact]
    public void Boot_epoch_vector_maps_to_the_identity_stream_the_aggregator_keys_on()
    {
        var bytes = Golden.Load("readings-boot-epoch.hex");
        var batch = CompactCodec.Decode(bytes);

        Assert.Equal("node7", batch.StreamId);
        Assert.Equal(42u, batch.BootEpoch);
        Assert.Equal(
            [new CompactReading(1, "n7/temp", Golden.T0, 29.5, "degC", CompactQuality.Good), new CompactReading(2, "n7/temp", Golden.T0 + 1000, 29.4, "degC", CompactQuality.Good)],
            batch.Readings);

        var json = ReadingBatchCompact.ToReadingBatch("gw-node-07", batch);
        Assert.Equal("node7e42", json.StreamId);
        Assert.True(Identifiers.IsValidStreamId(json.StreamId));
        Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(CompactCodec.Encode(batch)));
    }

    [Fact]
    public void Same_sequence_after_a_reboot_is_a_different_identity()
    {
        var before = new CompactBatch("node7", 42, [new CompactReading(1, "n7/temp", Golden.T0, 29.5, "degC", CompactQuality.Good)]);
        var after = before with { BootEpoch = 43 };

        Assert.NotEqual(before.IdentityStreamId, after.IdentityStreamId);
        // The split at the last 'e' is unique, so no two (stream, epoch) pairs share an identity: "a1e2"+3 vs "a1"+23.
        Assert.NotEqual(CompactFormat.IdentityStreamId("a1e2", 3), CompactFormat.IdentityStreamId("a1", 23));
        // The longest base (21) with the largest epoch still makes a valid contract stream id (§2: at most 32).
        Assert.True(Identifiers.IsValidStreamId(CompactFormat.IdentityStreamId(new string('z', 21), uint.MaxValue)));
    }
}
