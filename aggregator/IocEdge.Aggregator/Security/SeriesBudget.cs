using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Aggregator.Security;

/// <summary>
/// Bounds the channels (series) a gateway can create: at most <see cref="BoundsOptions.MaxNewSeriesPerMessage"/> new
/// ones in one message and <see cref="BoundsOptions.MaxSeriesPerGateway"/> in all. Each gateway's known channels are
/// read from the store once (<see cref="IReadingStore.Channels"/>) and then kept here; a message within bounds reserves
/// its new channels before it is committed (a failed commit leaves them reserved, which only errs on the safe side).
/// Memory: one string per series, itself bounded by the caps and by the number of accounts.
/// </summary>
internal sealed class SeriesBudget(IReadingStore store, BoundsOptions bounds)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<string>> _known = new(StringComparer.Ordinal);

    /// <summary>Null when the batch may be stored; otherwise the reason label (<see cref="SecurityMetrics.Reasons"/>) and a detail.</summary>
    public (string Reason, string Detail)? Admit(ReadingBatch batch)
    {
        if (batch.Readings.Count > bounds.MaxReadingsPerMessage)
        {
            return (SecurityMetrics.Reasons.TooManyReadings,
                $"{batch.Readings.Count} readings in one message; at most {bounds.MaxReadingsPerMessage} (Aggregator:Bounds:MaxReadingsPerMessage): send smaller batches");
        }

        lock (_lock)
        {
            if (!_known.TryGetValue(batch.GatewayId, out var known))
            {
                known = new HashSet<string>(store.Channels(batch.GatewayId).Select(c => c.Channel), StringComparer.Ordinal);
                _known[batch.GatewayId] = known;
            }

            HashSet<string>? fresh = null;
            foreach (var r in batch.Readings)
            {
                if (!known.Contains(r.Reading.Channel))
                {
                    (fresh ??= new HashSet<string>(StringComparer.Ordinal)).Add(r.Reading.Channel);
                }
            }

            if (fresh is null)
            {
                return null;
            }

            if (fresh.Count > bounds.MaxNewSeriesPerMessage)
            {
                return (SecurityMetrics.Reasons.TooManyNewSeries,
                    $"{fresh.Count} new channels in one message; at most {bounds.MaxNewSeriesPerMessage} (Aggregator:Bounds:MaxNewSeriesPerMessage)");
            }

            if (known.Count + fresh.Count > bounds.MaxSeriesPerGateway)
            {
                return (SecurityMetrics.Reasons.SeriesCap,
                    $"gateway {batch.GatewayId} has {known.Count} channels; {fresh.Count} more would pass Aggregator:Bounds:MaxSeriesPerGateway ({bounds.MaxSeriesPerGateway})");
            }

            known.UnionWith(fresh);
            return null;
        }
    }
}
