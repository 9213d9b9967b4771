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

public sealed record LatestResponse(DateTime GeneratedAt, IReadOnlyList<LatestDto> Readings);

/// <summary>
/// One gateway's health (GET /api/v1/gateways). <c>health</c> is the object of its latest status that carried one
/// (contract §5), as the gateway sent it (unknown fields included); <c>health_at</c> is when the aggregator received it.
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
    DateTime? HealthAt);

/// <summary>Stored readings (and status messages) of one gateway whose device timestamp was flagged (contract §4.3).</summary>
public sealed record TimestampsFlaggedDto(long Future, long TooOld, long BeforeEpoch, long ClockUntrusted);

/// <summary>
/// One stored reading (GET /api/v1/readings). <c>ts_status</c> is <c>ok</c>, <c>future</c>, <c>too_old</c>, <c>clock_untrusted</c> (§4.4) or
/// <c>before_epoch</c> (contract §4.3): anything but <c>ok</c> means the device clock was wrong when it read.
/// </summary>
public sealed record ReadingDto(long Seq, DateTime Ts, double? Value, string Unit, string Quality, string TsStatus, DateTime ReceivedAt);

public sealed record ReadingsResponse(DateTime GeneratedAt, string Gateway, string Channel, IReadOnlyList<ReadingDto> Readings);

public sealed record GatewaysResponse(DateTime GeneratedAt, IReadOnlyList<GatewayDto> Gateways);

public sealed record ProblemDto(string Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(LatestResponse))]
[JsonSerializable(typeof(GatewaysResponse))]
[JsonSerializable(typeof(ReadingsResponse))]
[JsonSerializable(typeof(ProblemDto))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
