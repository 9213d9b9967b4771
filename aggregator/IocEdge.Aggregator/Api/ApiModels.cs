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

/// <summary>One gateway's health (GET /api/v1/gateways).</summary>
public sealed record GatewayDto(
    string Gateway,
    string State,
    DateTime? StatusAt,
    string? Software,
    long? OutboxPending,
    DateTime? LastSeen,
    long Readings,
    long Duplicates,
    int Channels);

public sealed record GatewaysResponse(DateTime GeneratedAt, IReadOnlyList<GatewayDto> Gateways);

public sealed record ProblemDto(string Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(LatestResponse))]
[JsonSerializable(typeof(GatewaysResponse))]
[JsonSerializable(typeof(ProblemDto))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
