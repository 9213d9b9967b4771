using System.Globalization;
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
    /// Appends the gauges of every gateway's latest health (Prometheus text format 0.0.4):
    /// <c>iocedge_gateway_health{gateway, field}</c> for each number (a nested object's numbers as <c>object.field</c>,
    /// such as <c>dropped.evicted_age</c>) and <c>iocedge_gateway_health_info{gateway, field, value} 1</c> for each string
    /// (such as <c>clock</c>). Units are those of contract §5 (the field names carry them: <c>_s</c>, <c>_bytes</c>, <c>_c</c>).
    /// </summary>
    public static void AppendGauges(StringBuilder sb, IEnumerable<(string Gateway, string Health)> healths)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(healths);
        var numbers = new StringBuilder();
        var strings = new StringBuilder();
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

        sb.Append("# HELP iocedge_gateway_health Latest health numbers each gateway reported in its status (contract §5).\n")
            .Append("# TYPE iocedge_gateway_health gauge\n").Append(numbers)
            .Append("# HELP iocedge_gateway_health_info Latest health strings each gateway reported (value label), always 1.\n")
            .Append("# TYPE iocedge_gateway_health_info gauge\n").Append(strings);
    }

    private static void Flatten(string gateway, string prefix, JsonElement obj, StringBuilder numbers, StringBuilder strings, int depth)
    {
        foreach (var p in obj.EnumerateObject())
        {
            var field = prefix + p.Name;
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Number:
                    numbers.Append("iocedge_gateway_health{gateway=\"").Append(Escape(gateway)).Append("\",field=\"").Append(Escape(field))
                        .Append("\"} ").Append(p.Value.GetDouble().ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                    break;
                case JsonValueKind.String:
                    strings.Append("iocedge_gateway_health_info{gateway=\"").Append(Escape(gateway)).Append("\",field=\"").Append(Escape(field))
                        .Append("\",value=\"").Append(Escape(p.Value.GetString()!)).Append("\"} 1\n");
                    break;
                case JsonValueKind.Object when depth < 2:
                    Flatten(gateway, field + ".", p.Value, numbers, strings, depth + 1);
                    break;
                default:
                    break;
            }
        }
    }

    // Prometheus text format: a label value escapes backslash, double quote and line feed.
    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
