using IocEdge.Aggregator.Broker;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Aggregator.Ingest;

/// <summary>What one received MQTT message is, once read by <see cref="MessageIntake.Read"/>.</summary>
internal enum IntakeKind
{
    /// <summary>A readings message (JSON §4 or compact §8) decoded into <see cref="Intake.Batch"/>.</summary>
    Readings,

    /// <summary>A status message (§5) decoded into <see cref="Intake.Status"/>, with its health object's raw JSON.</summary>
    Status,

    /// <summary>Refused by the contract (§6): <see cref="Intake.Refusal"/> says why; nothing to store.</summary>
    Refused,

    /// <summary>Nothing to store and nothing wrong (an empty retained status: MQTT's way of clearing a retained message).</summary>
    Ignore,
}

/// <summary>One received message, read. <see cref="IsReadings"/> is true for the readings topics even when refused.</summary>
internal readonly record struct Intake(IntakeKind Kind, string GatewayId, bool IsReadings, PayloadKind PayloadKind,
    ReadingBatch? Batch = null, GatewayStatus? Status = null, string? HealthJson = null, Refusal Refusal = default);

/// <summary>
/// The one reading of a received message that every transport shares (the embedded broker's publish interceptor, the
/// external broker's subscription): topic (§3), retain flag (§1), payload (§4, §5, §8). Pure: no I/O, no clock.
/// </summary>
internal static class MessageIntake
{
    /// <summary>Reads <paramref name="payload"/> received on <paramref name="topic"/>; never throws on bad input.</summary>
    public static Intake Read(string topic, ReadOnlySpan<byte> payload, bool retain)
    {
        if (IngestRules.CheckTopic(topic, out var gatewayId, out var kind) is { } topicRefusal)
        {
            return new Intake(IntakeKind.Refused, gatewayId, false, PayloadKind.Json, Refusal: topicRefusal);
        }

        var isReadings = kind is TopicKind.Readings or TopicKind.ReadingsCompact;
        var payloadKind = kind == TopicKind.ReadingsCompact ? PayloadKind.Compact : PayloadKind.Json;
        Intake Refuse(Refusal r) => new(IntakeKind.Refused, gatewayId, isReadings, payloadKind, Refusal: r);

        if (payload.IsEmpty)
        {
            return kind == TopicKind.Status && retain
                ? new Intake(IntakeKind.Ignore, gatewayId, false, payloadKind)
                : Refuse(IngestRules.EmptyPayload);
        }

        if (isReadings && retain)
        {
            return Refuse(IngestRules.RetainedReadings);
        }

        if (kind == TopicKind.Status)
        {
            return GatewayStatusJson.TryDecode(payload, gatewayId, out var status, out var statusError)
                ? new Intake(IntakeKind.Status, gatewayId, false, payloadKind, Status: status, HealthJson: StatusHealth.Extract(payload))
                : Refuse(IngestRules.BadPayload(statusError!));
        }

        if (kind == TopicKind.ReadingsCompact)
        {
            // Contract §8: a boot epoch maps to the identity stream (§8.2), so the exactly-once key is the one JSON uses.
            return CompactCodec.TryDecode(payload, out var compact, out var compactError)
                ? new Intake(IntakeKind.Readings, gatewayId, true, payloadKind, Batch: ReadingBatchCompact.ToReadingBatch(gatewayId, compact))
                : Refuse(IngestRules.BadPayload("compact " + compactError));
        }

        return ReadingBatchJson.TryDecode(payload, gatewayId, out var batch, out var error)
            ? new Intake(IntakeKind.Readings, gatewayId, true, payloadKind, Batch: batch)
            : Refuse(IngestRules.BadPayload(error!));
    }
}
