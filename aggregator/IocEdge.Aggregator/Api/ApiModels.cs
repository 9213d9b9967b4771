using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IocEdge.Aggregator.Api;

/// <summary>One channel's latest value (GET /api/v1/latest). Times are UTC (written with a trailing Z).</summary>
public sealed record LatestDto(
    string Gateway,
    string Channel,
    DateTime Ts,
    double? Value,
    string Unit,
    string Quality,
    long Seq,
    DateTime ReceivedAt);

/// <summary>
/// A page of latest values, ordered by gateway then channel. <c>next</c> is the URL of the following page (same
/// filters, <c>cursor</c> set), null on the last page.
/// </summary>
public sealed record LatestResponse(DateTime GeneratedAt, IReadOnlyList<LatestDto> Readings, string? Next);

/// <summary>
/// One gateway's health (GET /api/v1/gateways). <c>health</c> is the object of its latest status that carried one
/// (contract §5), as the gateway sent it (unknown fields included); <c>health_at</c> is when the aggregator received it.
/// <c>config</c> is its remote configuration (contract §9), null when none was ever pushed or reported.
/// </summary>
public sealed record GatewayDto(
    string Gateway,
    string State,
    DateTime? StatusAt,
    string? Software,
    long? OutboxPending,
    DateTime? LastSeen,
    long Readings,
    long Duplicates,
    int Channels,
    TimestampsFlaggedDto TimestampsFlagged,
    JsonElement? Health,
    DateTime? HealthAt,
    GatewayConfigDto? Config = null);

/// <summary>
/// A gateway's remote configuration (contract §9, issue 16): <c>desired_version</c> the last one the aggregator pushed;
/// <c>reported_version</c>, <c>result</c> (<c>applied</c>, <c>refused</c>, <c>rolled_back</c>), <c>reason</c> and
/// <c>reported_at</c> its last report on <c>iocedge/v1/{id}/config/ack</c>; <c>applied_version</c> the version it runs
/// (the last one reported <c>applied</c>, null when none was).
/// </summary>
public sealed record GatewayConfigDto(long? DesiredVersion, long? AppliedVersion, long? ReportedVersion, string? Result, string? Reason,
    DateTime? ReportedAt);

/// <summary>Stored readings (and status messages) of one gateway whose device timestamp was flagged (contract §4.3).</summary>
public sealed record TimestampsFlaggedDto(long Future, long TooOld, long BeforeEpoch, long ClockUntrusted);

/// <summary>
/// One stored reading (GET /api/v1/readings, /api/v1/history without <c>step</c>). <c>ts_status</c> is <c>ok</c>, <c>future</c>, <c>too_old</c>, <c>clock_untrusted</c> (§4.4) or
/// <c>before_epoch</c> (contract §4.3): anything but <c>ok</c> means the device clock was wrong when it read.
/// </summary>
public sealed record ReadingDto(long Seq, DateTime Ts, double? Value, string Unit, string Quality, string TsStatus, DateTime ReceivedAt);

public sealed record ReadingsResponse(DateTime GeneratedAt, string Gateway, string Channel, IReadOnlyList<ReadingDto> Readings);

public sealed record GatewaysResponse(DateTime GeneratedAt, IReadOnlyList<GatewayDto> Gateways);

/// <summary>
/// One channel of the catalogue (GET /api/v1/channels): its unit (contract §4 vocabulary) and the device time of its
/// newest stored reading. The instrument (make, model) is not part of contract v1's messages, so it is not served yet.
/// </summary>
public sealed record ChannelDto(string Gateway, string Channel, string Unit, DateTime? LastTs);

public sealed record ChannelsResponse(DateTime GeneratedAt, IReadOnlyList<ChannelDto> Channels);

/// <summary>
/// One bucket of history (GET /api/v1/history with <c>step</c>): <c>ts</c> is the bucket's start (aligned to the Unix
/// epoch, UTC), <c>value</c> the bucket reduced with <c>agg</c>, <c>count</c> the measurements in it (quality good and a
/// plausible timestamp).
/// </summary>
public sealed record HistoryPointDto(DateTime Ts, double Value, long Count);

/// <summary>
/// A channel's history between <c>from</c> (inclusive) and <c>to</c> (exclusive), device time. Two modes, and each
/// answer has only its own mode's properties: with <c>step</c>, <c>step_s</c>, <c>agg</c> and <c>points</c> (one bucket
/// each, in one response); without it, <c>readings</c> (raw readings, oldest first) and <c>next</c> (the URL of the
/// following page, null on the last).
/// </summary>
public sealed record HistoryResponse(
    DateTime GeneratedAt,
    string Gateway,
    string Channel,
    DateTime From,
    DateTime To,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [property: Description("Buckets only (with step): the bucket width in seconds.")]
    long? StepS,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [property: Description("Buckets only (with step): how each bucket was reduced.")]
    string? Agg,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [property: Description("Buckets only (with step): one point per bucket that holds measurements, oldest first. Absent for raw readings.")]
    IReadOnlyList<HistoryPointDto>? Points,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [property: Description("Raw readings only (without step): one page, oldest first. Absent with step.")]
    IReadOnlyList<ReadingDto>? Readings,
    [property: Description("Raw readings only (without step): the URL of the next page, null on the last page. Absent with step.")]
    string? Next)
{
    /// <summary>
    /// Leaves <c>next</c> out of bucket answers (it is written, null on the last page, in raw answers): a modifier of
    /// the serializer's contract, as <c>next</c> is null in both cases.
    /// </summary>
    internal static void OmitNextOfBuckets(System.Text.Json.Serialization.Metadata.JsonTypeInfo type)
    {
        if (type.Type != typeof(HistoryResponse))
        {
            return;
        }

        foreach (var property in type.Properties.Where(p => p.Name == "next"))
        {
            property.ShouldSerialize = static (o, _) => ((HistoryResponse)o).Readings is not null;
        }
    }
}

/// <summary>/healthz: <c>ok</c> or <c>unhealthy</c>, why, and seconds since the last successful commit (null before the first).</summary>
public sealed record HealthzResponse(string Status, string? Problem, double? LastCommitAgeS);

/// <summary>A <c>reading</c> event of /api/v1/stream: one committed reading.</summary>
public sealed record StreamReadingDto(string Gateway, string Channel, DateTime Ts, double? Value, string Unit, string Quality, long Seq,
    string TsStatus, DateTime ReceivedAt);

/// <summary>A <c>status</c> event of /api/v1/stream: a gateway went online or offline (contract §5).</summary>
public sealed record StreamStatusDto(string Gateway, string State, DateTime Ts, DateTime ReceivedAt);

/// <summary>A <c>resync</c> event: the events after <c>last_event_id</c> up to <c>oldest_id</c> are gone; re-read, then follow.</summary>
public sealed record StreamResyncDto(long LastEventId, long OldestId, string Message);

/// <summary>A <c>dropped</c> event: this client fell behind and <c>dropped</c> events were lost (<c>total</c> since it connected).</summary>
public sealed record StreamDroppedDto(long Dropped, long Total, string Message);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(LatestResponse))]
[JsonSerializable(typeof(GatewaysResponse))]
[JsonSerializable(typeof(ReadingsResponse))]
[JsonSerializable(typeof(ChannelsResponse))]
[JsonSerializable(typeof(HistoryResponse))]
[JsonSerializable(typeof(HealthzResponse))]
[JsonSerializable(typeof(StreamReadingDto))]
[JsonSerializable(typeof(StreamStatusDto))]
[JsonSerializable(typeof(StreamResyncDto))]
[JsonSerializable(typeof(StreamDroppedDto))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
