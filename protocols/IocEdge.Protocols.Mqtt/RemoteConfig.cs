using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IocEdge.Protocols.Mqtt;

/// <summary>What a gateway did with a configuration version (contract §9.2, <c>result</c>).</summary>
public static class ConfigResults
{
    /// <summary>Validated, applied, and the gateway reached the aggregator with it.</summary>
    public const string Applied = "applied";

    /// <summary>Not valid for this gateway: not applied; the previous configuration keeps running.</summary>
    public const string Refused = "refused";

    /// <summary>Applied, but the gateway could not reach the aggregator within its timeout: the previous one was restored.</summary>
    public const string RolledBack = "rolled_back";
}

/// <summary>A configuration message (contract §9.1), decoded.</summary>
public sealed record ConfigMessage(string Gateway, long Version, JsonObject Config);

/// <summary>A configuration report (contract §9.2), decoded.</summary>
public sealed record ConfigAck(string Gateway, long Version, string Result, string? Reason, DateTimeOffset Timestamp);

/// <summary>
/// Contract §9 (v1.3, additive): remote configuration on <c>iocedge/v1/{gateway}/config</c> (aggregator → gateway,
/// retained, QoS 1) and its report on <c>iocedge/v1/{gateway}/config/ack</c> (gateway → aggregator, QoS 1). Pure: no I/O.
/// </summary>
public static class ConfigTopics
{
    /// <summary>The sections of the gateway's <c>Gateway</c> configuration a remote configuration may carry (each replaces the local one; Mqtt is merged key by key).</summary>
    public static readonly string[] Sections = ["Modbus", "Gpio", "Sensors", "Mqtt"];

    /// <summary>Most bytes of a configuration message's payload (64 KiB: a pole's channel list is a few KiB).</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    public static string Config(string gatewayId) => $"{Topics.Root}/{Checked(gatewayId)}/config";

    public static string Ack(string gatewayId) => $"{Topics.Root}/{Checked(gatewayId)}/config/ack";

    /// <summary>True for <c>iocedge/v1/{valid gateway id}/config/ack</c>.</summary>
    public static bool IsAck(string topic, out string gatewayId)
    {
        var levels = (topic ?? string.Empty).Split('/');
        gatewayId = levels.Length == 5 ? levels[2] : string.Empty;
        return levels is ["iocedge", "v1", _, "config", "ack"] && Identifiers.IsValidGatewayId(levels[2]);
    }

    /// <summary>The §9.1 message: <c>{"v":1,"gateway":…,"version":N,"config":{…}}</c>.</summary>
    public static JsonObject Message(string gatewayId, long version, JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new JsonObject { ["v"] = 1, ["gateway"] = gatewayId, ["version"] = version, ["config"] = config.DeepClone() };
    }

    /// <summary>The §9.2 report.</summary>
    public static JsonObject AckMessage(ConfigAck ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        return new JsonObject
        {
            ["v"] = 1,
            ["gateway"] = ack.Gateway,
            ["version"] = ack.Version,
            ["result"] = ack.Result,
            ["reason"] = ack.Reason,
            ["ts"] = ack.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Decodes a §9.1 message for <paramref name="expectedGateway"/>; false with a one-line <paramref name="error"/> otherwise.</summary>
    public static bool TryDecodeMessage(ReadOnlySpan<byte> payload, string expectedGateway, out ConfigMessage? message, out string? error)
    {
        message = null;
        if (payload.Length > MaxPayloadBytes)
        {
            error = $"payload of {payload.Length} bytes; at most {MaxPayloadBytes}";
            return false;
        }

        if (!TryParse(payload, out var o, out error))
        {
            return false;
        }

        if ((int?)Number(o!["v"]) != 1)
        {
            error = "\"v\" must be 1";
            return false;
        }

        if ((string?)Text(o["gateway"]) != expectedGateway)
        {
            error = $"\"gateway\" must be {expectedGateway}";
            return false;
        }

        if (Number(o["version"]) is not { } version || version < 1)
        {
            error = "\"version\" must be a whole number from 1";
            return false;
        }

        if (o["config"] is not JsonObject config)
        {
            error = "\"config\" must be an object";
            return false;
        }

        message = new ConfigMessage(expectedGateway, version, config);
        return true;
    }

    /// <summary>Decodes a §9.2 report for <paramref name="expectedGateway"/>.</summary>
    public static bool TryDecodeAck(ReadOnlySpan<byte> payload, string expectedGateway, out ConfigAck? ack, out string? error)
    {
        ack = null;
        if (payload.Length > 16 * 1024)
        {
            error = "a config report is at most 16 KiB";
            return false;
        }

        if (!TryParse(payload, out var o, out error))
        {
            return false;
        }

        if ((string?)Text(o!["gateway"]) != expectedGateway || (int?)Number(o["v"]) != 1 || Number(o["version"]) is not { } version ||
            Text(o["result"]) is not (ConfigResults.Applied or ConfigResults.Refused or ConfigResults.RolledBack) ||
            !DateTimeOffset.TryParse(Text(o["ts"]), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts))
        {
            error = $"a config report needs v=1, gateway={expectedGateway}, version, result (applied|refused|rolled_back) and ts (contract §9.2)";
            return false;
        }

        var reason = Text(o["reason"]);
        ack = new ConfigAck(expectedGateway, version, Text(o["result"])!, reason is { Length: > 1024 } ? reason[..1024] : reason, ts);
        return true;
    }

    private static bool TryParse(ReadOnlySpan<byte> payload, out JsonObject? o, out string? error)
    {
        o = null;
        error = null;
        try
        {
            o = JsonNode.Parse(payload) as JsonObject;
        }
        catch (JsonException ex)
        {
            error = "not JSON: " + ex.Message;
            return false;
        }

        if (o is null)
        {
            error = "not a JSON object";
            return false;
        }

        return true;
    }

    private static long? Number(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<long>(out var n) ? n :
        node is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) && Math.Abs(x) < 9e15 ? (long)x : null;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Checked(string gatewayId) => Identifiers.IsValidGatewayId(gatewayId)
        ? gatewayId
        : throw new ArgumentException($"'{gatewayId}' is not a gateway id (contract §2).", nameof(gatewayId));
}
