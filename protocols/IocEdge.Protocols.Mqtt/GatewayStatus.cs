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
    long? OutboxPending = null);

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

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
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
            status = new GatewayStatus(topicGatewayId, state, t, software, pending);
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
