using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace IocEdge.Aggregator.Security;

/// <summary>
/// Admin routes (admin scope): provision a gateway's MQTT password or a new API key. Each secret is returned once, in the
/// response, and stored only as a hash. The CLI (issue 16) calls <see cref="CredentialStore"/> and
/// <see cref="ApiKeyStore"/> directly on the aggregator's host, or these routes remotely.
/// </summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin");
        admin.MapPost("/gateways/{id}/credentials", (string id, CredentialStore credentials) =>
            Identifiers.IsValid(id)
                ? Results.Text($"{{\"gateway\":\"{id}\",\"password\":\"{credentials.AddGateway(id)}\"}}\n", "application/json")
                : Results.BadRequest("not a gateway id (contract §2: [a-z0-9][a-z0-9-]{0,63})\n"));
        admin.MapPost("/api-keys", (string? scope, string? name, ApiKeyStore keys) =>
            scope is ApiScopes.Read or ApiScopes.Admin
                ? Results.Text($"{{\"scope\":\"{scope}\",\"key\":\"{keys.Create(scope, name ?? "api")}\"}}\n", "application/json")
                : Results.BadRequest("scope must be read or admin\n"));
        return app;
    }

    private static class Identifiers
    {
        public static bool IsValid(string id) => IocEdge.Protocols.Mqtt.Identifiers.IsValidGatewayId(id);
    }
}
