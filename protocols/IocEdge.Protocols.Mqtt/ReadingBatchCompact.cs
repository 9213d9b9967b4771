using IocEdge.Protocols.Compact;

namespace IocEdge.Protocols.Mqtt;

/// <summary>
/// Converts between the JSON contract's <see cref="ReadingBatch"/> (net10.0, IocEdge.Protocols.Mqtt) and the compact
/// codec's <see cref="CompactBatch"/> (netstandard2.0, dependency-free), for the gateway's sender and the aggregator's
/// <c>readings/bin</c> ingest (contract §8). IocEdge.Protocols.Mqtt references the compact library; the reverse may not.
/// </summary>
public static class ReadingBatchCompact
{
    /// <summary>
    /// The compact form of a JSON batch. Timestamps travel in whole milliseconds (contract §4: the gateway writes ms);
    /// a sub-millisecond part is refused rather than dropped. Quality numbers are the same in both enums.
    /// </summary>
    /// <exception cref="ArgumentException">a timestamp with a sub-millisecond part.</exception>
    public static CompactBatch ToCompact(ReadingBatch batch, uint bootEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var readings = new CompactReading[batch.Readings.Count];
        for (var i = 0; i < readings.Length; i++)
        {
            var (seq, r) = batch.Readings[i];
            var ms = r.Timestamp.ToUnixTimeMilliseconds();
            if (r.Timestamp.UtcTicks % TimeSpan.TicksPerMillisecond != 0)
            {
                throw new ArgumentException($"readings[{i}].ts: {r.Timestamp:O} has a sub-millisecond part, which the contract does not carry.", nameof(batch));
            }

            readings[i] = new CompactReading(seq, r.Channel, ms, r.Value, r.Unit, (CompactQuality)r.Quality);
        }

        return new CompactBatch(batch.StreamId, bootEpoch, readings);
    }

    /// <summary>
    /// The JSON-contract batch of a decoded compact message received on <paramref name="topicGatewayId"/>'s topic; its
    /// stream id is the identity stream (contract §8.2: "node7e42" for stream "node7", boot epoch 42).
    /// </summary>
    public static ReadingBatch ToReadingBatch(string topicGatewayId, CompactBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var readings = new SequencedReading[batch.Readings.Count];
        for (var i = 0; i < readings.Length; i++)
        {
            var r = batch.Readings[i];
            readings[i] = new SequencedReading(r.Sequence, new Reading(r.Channel, DateTimeOffset.FromUnixTimeMilliseconds(r.TimestampMs), r.Value, r.Unit, (Quality)r.Quality));
        }

        return new ReadingBatch(topicGatewayId, batch.IdentityStreamId, readings);
    }
}
