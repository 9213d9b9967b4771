namespace IocEdge.Protocols.Mqtt;

/// <summary>The topic tree of contract v1 (see README.md §3).</summary>
public static class Topics
{
    public const string Root = "iocedge/v1";

    /// <summary>Subscription filter for every gateway's readings.</summary>
    public const string AllReadings = Root + "/+/readings";

    /// <summary>Subscription filter for every gateway's compact readings (contract §8: <c>iocedge/v1/+/readings/bin</c>).</summary>
    public const string AllReadingsCompact = Root + "/+/readings/bin";

    /// <summary>Subscription filter for every gateway's status.</summary>
    public const string AllStatus = Root + "/+/status";

    public static string Readings(string gatewayId) => $"{Root}/{Checked(gatewayId)}/readings";

    /// <summary>The compact payload's topic, <c>iocedge/v1/{gateway}/readings/bin</c> (contract §8).</summary>
    public static string ReadingsCompact(string gatewayId) => $"{Root}/{Checked(gatewayId)}/readings/bin";

    public static string Status(string gatewayId) => $"{Root}/{Checked(gatewayId)}/status";

    /// <summary>Splits "iocedge/v1/{gateway}/{kind}" (kind: readings, readings/bin or status) and checks the gateway id.</summary>
    public static bool TryParse(string topic, out string gatewayId, out TopicKind kind)
    {
        gatewayId = string.Empty;
        kind = default;
        if (!topic.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            return false;
        }

        var rest = topic.AsSpan(Root.Length + 1);
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        var id = rest[..slash];
        var leaf = rest[(slash + 1)..];
        if (!Identifiers.IsValidGatewayId(id))
        {
            return false;
        }

        if (leaf.SequenceEqual("readings"))
        {
            kind = TopicKind.Readings;
        }
        else if (leaf.SequenceEqual("readings/bin"))
        {
            kind = TopicKind.ReadingsCompact;
        }
        else if (leaf.SequenceEqual("status"))
        {
            kind = TopicKind.Status;
        }
        else
        {
            return false;
        }

        gatewayId = id.ToString();
        return true;
    }

    private static string Checked(string gatewayId) => Identifiers.IsValidGatewayId(gatewayId)
        ? gatewayId
        : throw new ArgumentException($"'{gatewayId}' is not a valid gateway id (lower-case letters, digits and '-', at most 64).", nameof(gatewayId));
}

/// <summary>What a contract topic carries (README §3).</summary>
public enum TopicKind
{
    /// <summary><c>…/readings</c>: the JSON readings of §4.</summary>
    Readings,
    /// <summary><c>…/status</c>: the gateway status of §5.</summary>
    Status,
    /// <summary><c>…/readings/bin</c>: the compact binary readings of §8.</summary>
    ReadingsCompact,
}
