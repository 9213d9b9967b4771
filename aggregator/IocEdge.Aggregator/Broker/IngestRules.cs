using IocEdge.Protocols.Mqtt;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Broker;

/// <summary>
/// Why a message was not stored: a stable label (the <c>reason</c> of <c>iocedge_ingest_rejected_total</c>), the PUBACK
/// reason code an MQTT 5 sender receives, and a human detail for the reason string and the log (contract §6).
/// </summary>
internal readonly record struct Refusal(string Reason, MqttPubAckReasonCode Code, string Detail);

/// <summary>
/// The aggregator's reading of every topic its embedded broker can receive (contract §3 and §6). Pure: no I/O, no clock.
/// Only <c>iocedge/v1/{gateway}/readings</c>, <c>…/readings/bin</c> (compact, §8) and <c>…/status</c> are accepted; everything else is
/// refused with a named reason, so nothing is ever acknowledged as a success without being stored.
/// </summary>
internal static class IngestRules
{
    // Labels of iocedge_ingest_rejected_total, one per row of contract §6.
    public const string NotServed = "topic_not_served";
    public const string TopicVersion = "topic_version";
    public const string TopicShape = "topic_shape";
    public const string TopicGateway = "topic_gateway";
    public const string TopicReserved = "topic_reserved";
    public const string Retained = "retained_readings";
    public const string PayloadEmpty = "payload_empty";
    public const string PayloadInvalid = "payload_invalid";
    public const string PayloadGateway = "payload_gateway";
    public const string NotStored = "store_failed";

    /// <summary>Every reason label, for documentation and tests.</summary>
    public static readonly string[] Reasons =
        [NotServed, TopicVersion, TopicShape, TopicGateway, TopicReserved, Retained, PayloadEmpty, PayloadInvalid, PayloadGateway, NotStored];

    /// <summary>
    /// Accepts <c>iocedge/v1/{gateway}/readings</c>, <c>…/readings/bin</c> and <c>…/status</c> with a valid gateway id (contract §2);
    /// otherwise returns the refusal (reason code 0x90, topic name invalid).
    /// </summary>
    public static Refusal? CheckTopic(string topic, out string gatewayId, out TopicKind kind)
    {
        gatewayId = string.Empty;
        kind = default;
        var levels = topic.Split('/');
        if (levels[0] != "iocedge")
        {
            return new Refusal(NotServed, MqttPubAckReasonCode.TopicNameInvalid,
                "this broker serves only the iocedge/v1/ tree (contract §3); nothing else is stored or relayed");
        }

        if (levels.Length < 2 || levels[1] != "v1")
        {
            return new Refusal(TopicVersion, MqttPubAckReasonCode.TopicNameInvalid,
                "this aggregator speaks contract v1 only: publish to iocedge/v1/{gateway}/readings");
        }

        if (levels.Length < 4)
        {
            return new Refusal(TopicShape, MqttPubAckReasonCode.TopicNameInvalid,
                "not a contract v1 topic: publish to iocedge/v1/{gateway}/readings or iocedge/v1/{gateway}/status");
        }

        if (!Identifiers.IsValidGatewayId(levels[2]))
        {
            return new Refusal(TopicGateway, MqttPubAckReasonCode.TopicNameInvalid,
                "the topic's gateway level is not a gateway id (contract §2: lower-case letters, digits and '-', 1-64, such as gw-01)");
        }

        if (levels is [_, _, _, "config"])
        {
            return new Refusal(TopicReserved, MqttPubAckReasonCode.TopicNameInvalid,
                "reserved for a later contract revision (§3) and not stored by v1: send readings to iocedge/v1/{gateway}/readings");
        }

        switch (levels)
        {
            case [_, _, _, "readings"]:
                kind = TopicKind.Readings;
                break;
            case [_, _, _, "readings", "bin"]:
                kind = TopicKind.ReadingsCompact;
                break;
            case [_, _, _, "status"]:
                kind = TopicKind.Status;
                break;
            default:
                return new Refusal(TopicShape, MqttPubAckReasonCode.TopicNameInvalid,
                    "not a contract v1 topic: publish to iocedge/v1/{gateway}/readings, …/readings/bin or …/status");
        }

        gatewayId = levels[2];
        return null;
    }

    /// <summary>A readings message must not be retained (contract §1): reason 0x83, implementation specific error.</summary>
    public static Refusal RetainedReadings { get; } = new(Retained, MqttPubAckReasonCode.ImplementationSpecificError,
        "readings must be published without the retain flag (contract §1); nothing was stored: publish again without retain");

    /// <summary>An empty payload where one is required: reason 0x99.</summary>
    public static Refusal EmptyPayload { get; } = new(PayloadEmpty, MqttPubAckReasonCode.PayloadFormatInvalid,
        "the payload is empty: a readings or status message carries the JSON of contract §4 or §5, a readings/bin one the bytes of §8");

    /// <summary>A payload the reference codec refused (its error names the field): reason 0x99.</summary>
    public static Refusal BadPayload(string codecError) => new(
        codecError.StartsWith("gateway:", StringComparison.Ordinal) ? PayloadGateway : PayloadInvalid,
        MqttPubAckReasonCode.PayloadFormatInvalid, codecError);
}
