using System.IO.Compression;
using IocEdge.Benchmarks.Compact;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>
/// The goal of issue 14's compact payload, measured on the typical 100-channel batch (1 000 readings, StationBatch):
/// at most 6 bytes per reading on the wire, and at most half of the same batch's JSON compressed with gzip.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "outbox")]
public sealed class WireSizeTests
{
    [Fact]
    public void Compact_payload_of_a_typical_station_batch_is_at_most_6_bytes_a_reading_and_half_of_gzip_json()
    {
        var batch = StationBatch.Build();
        Assert.Equal(100, StationBatch.Channels);
        Assert.Equal(1_000, batch.Readings.Count);

        var json = ReadingBatchJson.Encode(batch);
        var gzip = Gzip(json);
        var compact = CompactCodec.Encode(ReadingBatchCompact.ToCompact(batch));

        var perReading = compact.Length / 1000.0;
        Assert.True(perReading <= 6.0, $"compact {perReading:F2} B/reading (json {json.Length / 1000.0:F1}, gzip-json {gzip.Length / 1000.0:F2})");
        Assert.True(compact.Length * 2 <= gzip.Length, $"compact {compact.Length} B vs gzip-json {gzip.Length} B");
    }

    [Fact]
    public void Writer_adds_readings_without_allocating()
    {
        var buffer = new byte[16_384];
        var channels = new[] { new CompactChannel("env1/pm2_5", "ug/m3", 1), new CompactChannel("env1/temperature", "degC", 1), new CompactChannel("pole1/door", "state", 0) };
        var writer = new CompactWriter(channels.Length);
        Assert.True(writer.Begin(buffer, 0, buffer.Length, "k8f2q0w5m1c3", 0, channels));
        writer.TryAdd(1, 0, Golden.T0, 45.2, CompactQuality.Good); // JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 2; i <= 1_000; i++)
        {
            var ok = (i % 3) switch
            {
                0 => writer.TryAdd(i, 0, Golden.T0 + i, 45.2 + (i % 7 / 10.0), CompactQuality.Good),
                1 => writer.TryAdd(i, 1, Golden.T0 + i, 7.2f, CompactQuality.Stale),
                _ => writer.TryAddWithoutValue(i, 2, Golden.T0 + i, CompactQuality.CommFailure),
            };
            Assert.True(ok);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1_000, CompactCodec.Decode(buffer[..writer.Finish()]).Readings.Count);
    }

    [Fact]
    public void A_full_buffer_refuses_the_reading_and_keeps_the_message_valid()
    {
        var buffer = new byte[40];
        var writer = new CompactWriter();
        Assert.True(writer.Begin(buffer, 0, buffer.Length, "s", 0, [new CompactChannel("a", "V", 1)]));
        var added = 0;
        while (writer.TryAdd(added + 1, 0, Golden.T0 + (added * 1000), 1.5 + added, CompactQuality.Good))
        {
            added++;
        }

        var batch = CompactCodec.Decode(buffer[..writer.Finish()]);
        Assert.Equal(added, batch.Readings.Count);
        Assert.Equal(1.5 + added - 1, batch.Readings[^1].Value);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }
}
