using System.Text.Json;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace IocEdge.Aggregator.Api;

/// <summary>The IOC's HTTP API, version 1 (see aggregator/README.md).</summary>
internal static class ApiEndpoints
{
    private const int DefaultReadingsPerPage = 100;
    private const int MaxReadingsPerPage = 10_000;

    public static IEndpointRouteBuilder MapIocApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/api/v1");
        v1.MapGet("/latest", (string? gateway, IReadingStore store, TimeProvider time) =>
        {
            if (gateway is not null && !Identifiers.IsValidGatewayId(gateway))
            {
                return Results.Json(new ProblemDto($"gateway '{gateway}' is not a gateway id (lower-case letters, digits, '-')."),
                    ApiJsonContext.Default.ProblemDto, statusCode: StatusCodes.Status400BadRequest);
            }

            var latest = store.Latest(gateway).Select(l => new LatestDto(l.Gateway, l.Channel, l.Timestamp.UtcDateTime, l.Value, l.Unit,
                QualityNames.ToWire(l.Quality), l.Sequence, l.ReceivedAt.UtcDateTime)).ToList();
            return Results.Json(new LatestResponse(time.GetUtcNow().UtcDateTime, latest), ApiJsonContext.Default.LatestResponse);
        });
        v1.MapGet("/gateways", (IReadingStore store, TimeProvider time) =>
        {
            var list = store.Gateways().Select(g => new GatewayDto(g.Gateway, g.State, g.StatusAt?.UtcDateTime, g.Software, g.OutboxPending,
                g.LastSeen?.UtcDateTime, g.Readings, g.Duplicates, g.Channels,
                new TimestampsFlaggedDto(g.TimestampsFlagged.Future, g.TimestampsFlagged.TooOld, g.TimestampsFlagged.BeforeEpoch, g.TimestampsFlagged.ClockUntrusted),
                g.Health is null ? null : ParseHealth(g.Health), g.HealthAt?.UtcDateTime)).ToList();
            return Results.Json(new GatewaysResponse(time.GetUtcNow().UtcDateTime, list), ApiJsonContext.Default.GatewaysResponse);
        });
        v1.MapGet("/readings", (string? gateway, string? channel, int? limit, IReadingStore store, TimeProvider time) =>
        {
            if (gateway is null || !Identifiers.IsValidGatewayId(gateway) || channel is null || !Identifiers.IsValidChannelId(channel) ||
                limit is < 1 or > MaxReadingsPerPage)
            {
                return Results.Json(new ProblemDto(
                        $"give ?gateway=ID&channel=ID[&limit=1-{MaxReadingsPerPage}] (ids as in contract §2, e.g. gateway=gw-demo-01&channel=env1/pm2_5)."),
                    ApiJsonContext.Default.ProblemDto, statusCode: StatusCodes.Status400BadRequest);
            }

            var list = store.Readings(gateway, channel, limit ?? DefaultReadingsPerPage).Select(r => new ReadingDto(r.Sequence,
                r.Timestamp.UtcDateTime, r.Value, r.Unit, QualityNames.ToWire(r.Quality), TimestampPolicy.ToWire(r.TimestampStatus),
                r.ReceivedAt.UtcDateTime)).ToList();
            return Results.Json(new ReadingsResponse(time.GetUtcNow().UtcDateTime, gateway, channel, list), ApiJsonContext.Default.ReadingsResponse);
        });
        app.MapGet("/metrics", (IngestMetrics metrics, IReadingStore store) =>
        {
            var sb = new System.Text.StringBuilder(metrics.ToPrometheusText());
            StatusHealth.AppendGauges(sb, store.Gateways().Where(g => g.Health is not null).Select(g => (g.Gateway, g.Health!)));
            return Results.Text(sb.ToString(), "text/plain; version=0.0.4");
        });
        app.MapGet("/healthz", (IReadingStore store) => Results.Text($"ok {store.Count()} readings\n"));
        app.MapGet("/", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
        return app;
    }

    // The stored health object (contract §5), written by StatusHealth.Extract, back as JSON for the response.
    private static JsonElement ParseHealth(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
