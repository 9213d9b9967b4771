using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Forwarding;

/// <summary>
/// Turns outbox rows into one message payload: JSON (contract §4) or compact binary (contract §8, boot epoch 0: the
/// outbox is persistent, its sequence never restarts). Keeps a payload within a byte limit by halving the batch.
/// </summary>
internal sealed class BatchEncoder(string gatewayId, MqttPayload format)
{
    /// <summary>
    /// Encodes the longest prefix of <paramref name="batch"/> (halving) whose payload is at most <paramref name="maxBytes"/>
    /// (a single reading always goes). A reading the encoder refuses is moved to the dead-letter table with the reason;
    /// then null is returned and the caller reads the outbox again.
    /// </summary>
    /// <exception cref="ArgumentException">The batch as a whole is refused while no single reading is (not a row's fault).</exception>
    /// <returns>The readings sent, the payload, and whether it is compact (topic <c>readings/bin</c>) or JSON
    /// (<c>readings</c>). With the compact format, readings marked clock-untrusted go as JSON (contract §4.4: compact
    /// format 1 has no field for the mark), so a batch is cut where the mark changes.</returns>
    public (IReadOnlyList<SequencedReading> Sent, byte[] Payload, bool Compact)? Encode(SqliteOutbox outbox, IReadOnlyList<SequencedReading> batch,
        int maxBytes, ILogger logger)
    {
        var compact = format == MqttPayload.Compact && !batch[0].ClockUntrusted;
        if (format == MqttPayload.Compact)
        {
            var cut = 1;
            while (cut < batch.Count && batch[cut].ClockUntrusted == batch[0].ClockUntrusted)
            {
                cut++;
            }

            if (cut < batch.Count)
            {
                batch = batch.Take(cut).ToList();
            }
        }

        try
        {
            var payload = EncodeOne(outbox.StreamId, batch, compact);
            while (payload.Length > maxBytes && batch.Count > 1)
            {
                batch = batch.Take(batch.Count / 2).ToList();
                payload = EncodeOne(outbox.StreamId, batch, compact);
            }

            return (batch, payload, compact);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException)
        {
            var set = 0;
            foreach (var one in batch)
            {
                try
                {
                    _ = EncodeOne(outbox.StreamId, [one], compact);
                }
                catch (Exception single) when (single is ArgumentException or InvalidOperationException or FormatException)
                {
                    logger.RowDeadLettered(one.Sequence, single.Message);
                    outbox.DeadLetter([one], "could not be encoded: " + single.Message);
                    set++;
                }
            }

            if (set == 0)
            {
                throw; // not one reading's fault: back off and retry, never drop good rows
            }

            return null;
        }
    }

    private byte[] EncodeOne(string streamId, IReadOnlyList<SequencedReading> batch, bool compact) => compact
        ? CompactCodec.Encode(new CompactBatch(streamId, 0, batch.Select(ToCompact).ToList()))
        : ReadingBatchJson.Encode(new ReadingBatch(gatewayId, streamId, batch));

    /// <summary>Contract §8: the same fields as §4; ts in whole milliseconds UTC; quality codes 0-5 are the same numbers.</summary>
    internal static CompactReading ToCompact(SequencedReading r) => new(r.Sequence, r.Reading.Channel,
        r.Reading.Timestamp.ToUnixTimeMilliseconds(), r.Reading.Value, r.Reading.Unit, (CompactQuality)(byte)r.Reading.Quality);
}
