using CsCheck;
using IocEdge.Benchmarks.Compact;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>Everything the JSON payload carries comes back out of the compact one, bit for bit (contract §8).</summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "outbox")]
public sealed class RoundTripTests
{
    [Fact]
    public void Every_field_of_every_reading_survives_encode_then_decode()
    {
        Generators.Batch.Sample(batch =>
        {
            var decoded = CompactCodec.Decode(CompactCodec.Encode(batch));

            Assert.Equal(batch.StreamId, decoded.StreamId);
            Assert.Equal(batch.BootEpoch, decoded.BootEpoch);
            Assert.Equal(batch.Readings.Count, decoded.Readings.Count);
            for (var i = 0; i < batch.Readings.Count; i++)
            {
                var (a, b) = (batch.Readings[i], decoded.Readings[i]);
                Assert.Equal((a.Sequence, a.Channel, a.TimestampMs, a.Unit, a.Quality), (b.Sequence, b.Channel, b.TimestampMs, b.Unit, b.Quality));
                Assert.Equal(a.Value is null, b.Value is null);
                if (a.Value is { } v)
                {
                    // Bits, so -0.0 stays -0.0 and no value is "nearly" equal.
                    Assert.Equal(BitConverter.DoubleToInt64Bits(v), BitConverter.DoubleToInt64Bits(b.Value!.Value));
                }
            }
        }, iter: 2_000);
    }

    [Fact]
    public void Allocation_free_writer_and_whole_batch_encoder_write_the_same_bytes()
    {
        Generators.Batch.Sample(batch =>
        {
            var channels = new List<CompactChannel>();
            var indices = new int[batch.Readings.Count];
            for (var i = 0; i < batch.Readings.Count; i++)
            {
                var r = batch.Readings[i];
                var c = channels.FindIndex(x => x.Channel == r.Channel && x.Unit == r.Unit);
                if (c < 0)
                {
                    c = channels.Count;
                    channels.Add(new CompactChannel(r.Channel, r.Unit, 0));
                }

                indices[i] = c;
                if (r.Value is { } v && CompactFormat.MinimalDecimals(v) > channels[c].Decimals)
                {
                    channels[c] = channels[c] with { Decimals = CompactFormat.MinimalDecimals(v) };
                }
            }

            var buffer = new byte[100_000];
            var writer = new CompactWriter();
            Assert.True(writer.Begin(buffer, 3, buffer.Length - 3, batch.StreamId, batch.BootEpoch, channels));
            for (var i = 0; i < batch.Readings.Count; i++)
            {
                var r = batch.Readings[i];
                Assert.True(r.Value is { } v
                    ? writer.TryAdd(r.Sequence, indices[i], r.TimestampMs, v, r.Quality)
                    : writer.TryAddWithoutValue(r.Sequence, indices[i], r.TimestampMs, r.Quality));
            }

            var length = writer.Finish();
            Assert.Equal(CompactCodec.Encode(batch), buffer.AsSpan(3, length).ToArray());
        }, iter: 500);
    }

    [Fact]
    public void A_json_batch_goes_through_compact_and_comes_back_equal_to_the_json_decoder_s_result()
    {
        var station = StationBatch.Build();
        var viaJson = ReadingBatchJson.TryDecode(ReadingBatchJson.Encode(station), station.GatewayId, out var fromJson, out var error)
            ? fromJson! : throw new InvalidOperationException(error);

        var compact = CompactCodec.Encode(ReadingBatchCompact.ToCompact(station));
        var viaCompact = ReadingBatchCompact.ToReadingBatch(station.GatewayId, CompactCodec.Decode(compact));

        Assert.Equal(viaJson.StreamId, viaCompact.StreamId);
        Assert.Equal(viaJson.Readings, viaCompact.Readings);
    }

    [Fact]
    public void The_json_golden_payload_with_every_quality_goes_through_compact_unchanged()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "golden", "readings-qualities.json");
        Assert.True(ReadingBatchJson.TryDecode(File.ReadAllBytes(path), "gw-pole-07", out var batch, out var error), error);

        var back = ReadingBatchCompact.ToReadingBatch("gw-pole-07", CompactCodec.Decode(CompactCodec.Encode(ReadingBatchCompact.ToCompact(batch!))));

        Assert.Equal(batch!.Readings, back.Readings);
        Assert.Equal(6, back.Readings.Select(r => r.Reading.Quality).Distinct().Count());
    }

    [Fact]
    public void A_sub_millisecond_timestamp_is_refused_rather_than_truncated()
    {
        var batch = new ReadingBatch("gw-1", "s1", [new SequencedReading(1, new Reading("a/b", new DateTimeOffset(2026, 11, 22, 3, 15, 0, TimeSpan.Zero).AddTicks(1), 1, "V", Quality.Good))]);

        var ex = Assert.Throws<ArgumentException>(() => ReadingBatchCompact.ToCompact(batch));
        Assert.Contains("readings[0].ts", ex.Message, StringComparison.Ordinal);
    }
}
