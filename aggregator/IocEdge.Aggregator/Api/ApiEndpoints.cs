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
    public static IEndpointRouteBuilder MapIocApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/api/v1");
        v1.MapGet("/latest", (string? gateway, ReadingStore store, TimeProvider time) =>
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
        v1.MapGet("/gateways", (ReadingStore store, TimeProvider time) =>
        {
            var list = store.Gateways().Select(g => new GatewayDto(g.Gateway, g.State, g.StatusAt?.UtcDateTime, g.Software, g.OutboxPending,
                g.LastSeen?.UtcDateTime, g.Readings, g.Duplicates, g.Channels)).ToList();
            return Results.Json(new GatewaysResponse(time.GetUtcNow().UtcDateTime, list), ApiJsonContext.Default.GatewaysResponse);
        });
        app.MapGet("/metrics", (IngestMetrics metrics) => Results.Text(metrics.ToPrometheusText(), "text/plain; version=0.0.4"));
        app.MapGet("/healthz", (ReadingStore store) => Results.Text($"ok {store.Count()} readings\n"));
        app.MapGet("/", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
        return app;
    }
}
