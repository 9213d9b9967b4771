using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IocEdge.Protocols.Mqtt;

/// <summary>An output command (contract §10.1), decoded.</summary>
/// <param name="Gateway">The gateway addressed (contract §2).</param>
/// <param name="Id">The command's id, chosen by the aggregator, echoed in the report (1-64 printable ASCII).</param>
/// <param name="Output">The output's id (<c>Gateway:Gpio:Outputs[].Id</c>).</param>
/// <param name="Action"><c>set</c> (hold <paramref name="Active"/>) or <c>pulse</c> (the opposite of the safe state for <paramref name="Duration"/>, then back).</param>
/// <param name="Active">For <c>set</c>: true = active (relay energised, for an active-high output the pin high).</param>
/// <param name="Duration">For <c>pulse</c>: how long, from <c>duration_ms</c> (positive).</param>
public sealed record OutputCommand(string Gateway, string Id, string Output, string Action, bool Active, TimeSpan Duration);

/// <summary>A gateway's report on an output command (contract §10.2).</summary>
/// <param name="Gateway">The reporting gateway.</param>
/// <param name="Id">The command's id (§10.1).</param>
/// <param name="Output">The output's id.</param>
/// <param name="Reason">Why it was refused (one line), null when done.</param>
/// <param name="Timestamp">When the gateway acted (its clock).</param>
/// <param name="Result"><c>done</c> or <c>refused</c> (<see cref="OutputResults"/>).</param>
/// <param name="Active">The output's state after the command (or its unchanged state when refused); null when the output is unknown.</param>
public sealed record OutputAck(string Gateway, string Id, string Output, string Result, string? Reason, bool? Active, DateTimeOffset Timestamp);

/// <summary>The <c>result</c> of an output report (contract §10.2).</summary>
public static class OutputResults
{
    /// <summary>The output was driven as asked (for a pulse: the pulse started).</summary>
    public const string Done = "done";

    /// <summary>Not done (unknown output, pulse too long, a pulse already running); the output kept its state.</summary>
    public const string Refused = "refused";
}

/// <summary>
/// Contract §10 (v1.3, additive): commands to a gateway's outputs (relays) on <c>iocedge/v1/{gateway}/command</c>
/// (aggregator → gateway, QoS 1, never retained: a stale command must not run again at the next connection) and the
/// gateway's report on <c>iocedge/v1/{gateway}/command/ack</c> (gateway → aggregator, QoS 1). Pure: no I/O.
/// </summary>
public static class OutputCommandTopics
{
    /// <summary>Actions of §10.1.</summary>
    public const string Set = "set";

    /// <summary>Actions of §10.1.</summary>
    public const string Pulse = "pulse";

    /// <summary>Most bytes of a command or report (4 KiB: a command is under 200 bytes).</summary>
    public const int MaxPayloadBytes = 4 * 1024;

    public static string Command(string gatewayId) => $"{Topics.Root}/{Checked(gatewayId)}/command";

    public static string Ack(string gatewayId) => $"{Topics.Root}/{Checked(gatewayId)}/command/ack";

    /// <summary>True for <c>iocedge/v1/{valid gateway id}/command/ack</c>.</summary>
    public static bool IsAck(string topic, out string gatewayId)
    {
        var levels = (topic ?? string.Empty).Split('/');
        gatewayId = levels.Length == 5 ? levels[2] : string.Empty;
        return levels is ["iocedge", "v1", _, "command", "ack"] && Identifiers.IsValidGatewayId(levels[2]);
    }

    /// <summary>The §10.1 message.</summary>
    public static JsonObject Message(OutputCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var o = new JsonObject
        {
            ["v"] = 1,
            ["gateway"] = command.Gateway,
            ["id"] = command.Id,
            ["output"] = command.Output,
            ["action"] = command.Action,
        };
        if (command.Action == Set)
        {
            o["active"] = command.Active;
        }
        else
        {
            o["duration_ms"] = (long)command.Duration.TotalMilliseconds;
        }

        return o;
    }

    /// <summary>The §10.2 report.</summary>
    public static JsonObject AckMessage(OutputAck ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        return new JsonObject
        {
            ["v"] = 1,
            ["gateway"] = ack.Gateway,
            ["id"] = ack.Id,
            ["output"] = ack.Output,
            ["result"] = ack.Result,
            ["reason"] = ack.Reason,
            ["active"] = ack.Active,
            ["ts"] = ack.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Decodes a §10.1 command for <paramref name="expectedGateway"/>; false with a one-line <paramref name="error"/> otherwise.</summary>
    public static bool TryDecodeCommand(ReadOnlySpan<byte> payload, string expectedGateway, out OutputCommand? command, out string? error)
    {
        command = null;
        if (!TryParse(payload, out var o, out error))
        {
            return false;
        }

        var id = Text(o!["id"]);
        var output = Text(o["output"]);
        var action = Text(o["action"]);
        if (Number(o["v"]) != 1 || Text(o["gateway"]) != expectedGateway || !IsId(id) || !IsId(output) || action is not (Set or Pulse))
        {
            error = $"a command needs v=1, gateway={expectedGateway}, id, output and action (set|pulse) (contract §10.1)";
            return false;
        }

        var active = o["active"] is JsonValue a && a.TryGetValue<bool>(out var b) ? b : (bool?)null;
        var duration = Number(o["duration_ms"]);
        if (action == Set && active is null)
        {
            error = "a set command needs \"active\": true or false (contract §10.1)";
            return false;
        }

        if (action == Pulse && duration is not > 0)
        {
            error = "a pulse command needs \"duration_ms\", a whole number of milliseconds from 1 (contract §10.1)";
            return false;
        }

        command = new OutputCommand(expectedGateway, id!, output!, action, active ?? false, TimeSpan.FromMilliseconds(duration ?? 0));
        return true;
    }

    /// <summary>Decodes a §10.2 report for <paramref name="expectedGateway"/>.</summary>
    public static bool TryDecodeAck(ReadOnlySpan<byte> payload, string expectedGateway, out OutputAck? ack, out string? error)
    {
        ack = null;
        if (!TryParse(payload, out var o, out error))
        {
            return false;
        }

        var id = Text(o!["id"]);
        var output = Text(o["output"]);
        var result = Text(o["result"]);
        if (Number(o["v"]) != 1 || Text(o["gateway"]) != expectedGateway || !IsId(id) || !IsId(output) ||
            result is not (OutputResults.Done or OutputResults.Refused) ||
            !DateTimeOffset.TryParse(Text(o["ts"]), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts))
        {
            error = $"an output report needs v=1, gateway={expectedGateway}, id, output, result (done|refused) and ts (contract §10.2)";
            return false;
        }

        var reason = Text(o["reason"]);
        var active = o["active"] is JsonValue a && a.TryGetValue<bool>(out var b) ? b : (bool?)null;
        ack = new OutputAck(expectedGateway, id!, output!, result, reason is { Length: > 1024 } ? reason[..1024] : reason, active, ts);
        return true;
    }

    /// <summary>An id of §10: 1-64 characters, printable ASCII without spaces.</summary>
    public static bool IsId(string? s) => s is { Length: >= 1 and <= 64 } && s.All(c => c is > ' ' and <= '~');

    private static bool TryParse(ReadOnlySpan<byte> payload, out JsonObject? o, out string? error)
    {
        o = null;
        error = null;
        if (payload.Length > MaxPayloadBytes)
        {
            error = $"payload of {payload.Length} bytes; at most {MaxPayloadBytes}";
            return false;
        }

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

    private static long? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Checked(string gatewayId) => Identifiers.IsValidGatewayId(gatewayId)
        ? gatewayId
        : throw new ArgumentException($"'{gatewayId}' is not a gateway id (contract §2).", nameof(gatewayId));
}
