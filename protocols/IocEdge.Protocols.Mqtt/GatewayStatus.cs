using System.Buffers;
using System.Text.Json;

namespace IocEdge.Protocols.Mqtt;

public enum GatewayState
{
    Online,
    Offline,
}

/// <summary>
/// The retained message on <c>iocedge/v1/{gateway}/status</c> (contract v1 §5). The gateway publishes "online" when it
/// connects and registers "offline" as its MQTT will, so the broker announces an unclean disconnect for it.
/// </summary>
public sealed record GatewayStatus(string GatewayId, GatewayState State, DateTimeOffset Timestamp, string? Software = null,
    long? OutboxPending = null)
{
    /// <summary>The periodic health report (contract §5.1), absent in a will and in a v1.0 status.</summary>
    public GatewayHealth? Health { get; init; }
}

/// <summary>
/// The gateway's health (contract §5.1, the <c>health</c> object of the status message). Every field is optional on the
/// wire; a reader ignores fields it does not know.
/// </summary>
/// <param name="OutboxOldest">Timestamp of the oldest reading waiting in the outbox (<c>outbox_oldest_ts</c>), null when none waits.</param>
/// <param name="OutboxOldestAgeSeconds">Seconds between that timestamp and the status's <c>ts</c> (<c>outbox_oldest_age_s</c>).</param>
/// <param name="OutboxBytes">Bytes the outbox occupies on the card, database and write-ahead log (<c>outbox_bytes</c>).</param>
/// <param name="DeadLettered">Readings set aside as undeliverable since start (<c>dead_lettered</c>).</param>
/// <param name="DroppedByReason">Readings the gateway had to drop, by reason code such as <c>evicted_age</c> (<c>dropped</c>).</param>
/// <param name="QuarantinedFiles">Corrupt outbox files moved aside at start-up (<c>quarantined_files</c>).</param>
/// <param name="DiskFreeBytes">Free bytes of the data directory's file system available to the gateway (<c>disk_free_bytes</c>).</param>
/// <param name="UptimeSeconds">Seconds since the gateway process started, monotonic (<c>uptime_s</c>).</param>
/// <param name="Clock">Clock state: <c>synced</c> (NTP synchronised), <c>unsynced</c> (no sync yet, or earlier than the
/// software's build date) or <c>unknown</c> (<c>clock</c>).</param>
/// <param name="CpuTemperatureCelsius">CPU temperature in °C from /sys/class/thermal/thermal_zone0/temp, null where not readable (<c>cpu_temp_c</c>).</param>
/// <param name="Forwarded">Readings acknowledged by a successful PUBACK since start (<c>forwarded</c>).</param>
/// <param name="PublishFailures">Connections and publishes that failed since start (<c>publish_failures</c>).</param>
public sealed record GatewayHealth(
    DateTimeOffset? OutboxOldest,
    double? OutboxOldestAgeSeconds,
    long OutboxBytes,
    long DeadLettered,
    IReadOnlyDictionary<string, long> DroppedByReason,
    int QuarantinedFiles,
    long? DiskFreeBytes,
    double UptimeSeconds,
    string Clock,
    double? CpuTemperatureCelsius,
    long Forwarded,
    long PublishFailures);

public static class GatewayStatusJson
{
    public static byte[] Encode(GatewayStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var buffer = new ArrayBufferWriter<byte>(160);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v"u8, ReadingBatchJson.Version);
            w.WriteString("gateway"u8, status.GatewayId);
            w.WriteString("state"u8, status.State == GatewayState.Online ? "online"u8 : "offline"u8);
            w.WriteString("ts"u8, ReadingBatchJson.FormatTimestamp(status.Timestamp));
            if (status.Software is not null)
            {
                w.WriteString("software"u8, status.Software);
            }

            if (status.OutboxPending is { } pending)
            {
                w.WriteNumber("outbox_pending"u8, pending);
            }

            if (status.Health is { } h)
            {
                WriteHealth(w, h);
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteHealth(Utf8JsonWriter w, GatewayHealth h)
    {
        w.WriteStartObject("health"u8);
        if (h.OutboxOldest is { } oldest)
        {
            w.WriteString("outbox_oldest_ts"u8, ReadingBatchJson.FormatTimestamp(oldest));
        }

        if (h.OutboxOldestAgeSeconds is { } age)
        {
            w.WriteNumber("outbox_oldest_age_s"u8, Math.Round(age, 3));
        }

        w.WriteNumber("outbox_bytes"u8, h.OutboxBytes);
        w.WriteNumber("dead_lettered"u8, h.DeadLettered);
        w.WriteStartObject("dropped"u8);
        foreach (var (reason, count) in h.DroppedByReason.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WriteNumber(reason, count);
        }

        w.WriteEndObject();
        w.WriteNumber("quarantined_files"u8, h.QuarantinedFiles);
        if (h.DiskFreeBytes is { } free)
        {
            w.WriteNumber("disk_free_bytes"u8, free);
        }

        w.WriteNumber("uptime_s"u8, Math.Round(h.UptimeSeconds, 3));
        w.WriteString("clock"u8, h.Clock);
        if (h.CpuTemperatureCelsius is { } temp)
        {
            w.WriteNumber("cpu_temp_c"u8, Math.Round(temp, 1));
        }

        w.WriteNumber("forwarded"u8, h.Forwarded);
        w.WriteNumber("publish_failures"u8, h.PublishFailures);
        w.WriteEndObject();
    }

    private static GatewayHealth? ReadHealth(JsonElement root)
    {
        if (!root.TryGetProperty("health", out var h) || h.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        long Long(string name) => h.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) ? v : 0;
        double? Double(string name) => h.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;
        DateTimeOffset? oldest = h.TryGetProperty("outbox_oldest_ts", out var o) && o.ValueKind == JsonValueKind.String &&
                                 ReadingBatchJson.TryParseTimestamp(System.Text.Encoding.UTF8.GetBytes(o.GetString()!), out var t) ? t : null;
        var dropped = new Dictionary<string, long>(StringComparer.Ordinal);
        if (h.TryGetProperty("dropped", out var d) && d.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in d.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt64(out var n))
                {
                    dropped[p.Name] = n;
                }
            }
        }

        return new GatewayHealth(oldest, Double("outbox_oldest_age_s"), Long("outbox_bytes"), Long("dead_lettered"), dropped,
            (int)Math.Clamp(Long("quarantined_files"), 0, int.MaxValue), h.TryGetProperty("disk_free_bytes", out _) ? Long("disk_free_bytes") : null,
            Double("uptime_s") ?? 0, h.TryGetProperty("clock", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "unknown",
            Double("cpu_temp_c"), Long("forwarded"), Long("publish_failures"));
    }

    public static bool TryDecode(ReadOnlySpan<byte> payload, string topicGatewayId, out GatewayStatus? status, out string? error)
    {
        status = null;
        error = null;
        try
        {
            using var doc = JsonDocument.Parse(payload.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "payload must be a JSON object";
                return false;
            }

            if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != ReadingBatchJson.Version)
            {
                error = $"v: must be {ReadingBatchJson.Version}";
                return false;
            }

            if (!root.TryGetProperty("gateway", out var gw) || gw.ValueKind != JsonValueKind.String || gw.GetString() != topicGatewayId)
            {
                error = "gateway: missing or does not match the topic";
                return false;
            }

            GatewayState state;
            if (root.TryGetProperty("state", out var s) && s.ValueKind == JsonValueKind.String && s.ValueEquals("online"u8))
            {
                state = GatewayState.Online;
            }
            else if (s.ValueKind == JsonValueKind.String && s.ValueEquals("offline"u8))
            {
                state = GatewayState.Offline;
            }
            else
            {
                error = "state: must be online or offline";
                return false;
            }

            if (!root.TryGetProperty("ts", out var ts) || ts.ValueKind != JsonValueKind.String ||
                !ReadingBatchJson.TryParseTimestamp(System.Text.Encoding.UTF8.GetBytes(ts.GetString()!), out var t))
            {
                error = "ts: must be an RFC 3339 UTC time";
                return false;
            }

            string? software = root.TryGetProperty("software", out var sw) && sw.ValueKind == JsonValueKind.String ? sw.GetString() : null;
            long? pending = root.TryGetProperty("outbox_pending", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var pv) ? pv : null;
            status = new GatewayStatus(topicGatewayId, state, t, software, pending) { Health = ReadHealth(root) };
            return true;
        }
        catch (JsonException ex)
        {
            error = $"not valid JSON ({ex.Message})";
            return false;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }
        catch (InvalidOperationException ex)
        {
            error = ex.Message;
            return false;
        }
    }
}
