using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;

namespace IocEdge.Aggregator.Ingest;

/// <summary>
/// The periodic health a gateway adds to its status message (contract §5: an optional <c>health</c> object; outbox
/// depth and oldest age, bytes, drops by reason, quarantined files, disk free, uptime, clock state, CPU temperature,
/// forwarded, publish failures). The aggregator keeps the object as received (unknown fields included, as a v1 reader
/// must ignore rather than refuse them), serves it in GET /api/v1/gateways and turns its numbers into gauges.
/// </summary>
public static class StatusHealth
{
    /// <summary>Largest health object kept, in bytes of JSON (a status is a small message; anything larger is ignored).</summary>
    public const int MaxBytes = 4096;

    /// <summary>
    /// The raw JSON of the status payload's <c>health</c> object, or null when there is none, it is not an object or it
    /// is larger than <see cref="MaxBytes"/>. Never throws for any payload (a payload that is not JSON has no health).
    /// </summary>
    public static string? Extract(ReadOnlySpan<byte> statusPayload)
    {
        try
        {
            var reader = new Utf8JsonReader(statusPayload, new JsonReaderOptions { MaxDepth = 8 });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("health", out var h) &&
                h.ValueKind == JsonValueKind.Object)
            {
                var raw = h.GetRawText();
                return Encoding.UTF8.GetByteCount(raw) <= MaxBytes ? raw : null;
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>
    /// The gauges of every gateway's latest health, as measurements of two observable gauges (see
    /// <see cref="Api.ApiMetrics"/>): <c>iocedge_gateway_health{gateway, field}</c> for each number (a nested object's
    /// numbers as <c>object.field</c>, such as <c>dropped.evicted_age</c>) and
    /// <c>iocedge_gateway_health_info{gateway, field, value} 1</c> for each string (such as <c>clock</c>). Units are
    /// those of contract §5 (the field names carry them: <c>_s</c>, <c>_bytes</c>, <c>_c</c>). A damaged stored object
    /// gives no measurements rather than breaking /metrics.
    /// </summary>
    public static (List<Measurement<double>> Numbers, List<Measurement<long>> Strings) Measurements(
        IEnumerable<(string Gateway, string Health)> healths)
    {
        ArgumentNullException.ThrowIfNull(healths);
        var numbers = new List<Measurement<double>>();
        var strings = new List<Measurement<long>>();
        foreach (var (gateway, health) in healths)
        {
            try
            {
                using var doc = JsonDocument.Parse(health);
                Flatten(gateway, string.Empty, doc.RootElement, numbers, strings, depth: 0);
            }
            catch (JsonException)
            {
                // Stored by Extract, so always an object; a damaged row shows no gauges rather than breaking /metrics.
            }
        }

        return (numbers, strings);
    }

    private static void Flatten(string gateway, string prefix, JsonElement obj, List<Measurement<double>> numbers,
        List<Measurement<long>> strings, int depth)
    {
        foreach (var p in obj.EnumerateObject())
        {
            var field = prefix + p.Name;
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Number:
                    numbers.Add(new Measurement<double>(p.Value.GetDouble(), new KeyValuePair<string, object?>("gateway", gateway),
                        new KeyValuePair<string, object?>("field", field)));
                    break;
                case JsonValueKind.String:
                    strings.Add(new Measurement<long>(1, new KeyValuePair<string, object?>("gateway", gateway),
                        new KeyValuePair<string, object?>("field", field), new KeyValuePair<string, object?>("value", p.Value.GetString())));
                    break;
                case JsonValueKind.Object when depth < 2:
                    Flatten(gateway, field + ".", p.Value, numbers, strings, depth + 1);
                    break;
                default:
                    break;
            }
        }
    }
}
