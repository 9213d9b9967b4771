using System.Text.Json.Nodes;
using IocEdge.Aggregator.Provisioning;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// Issue 16's HTTP routes. Admin scope (under <c>/api/v1/admin</c>): enrolment tokens, offline bundles, the gateway
/// registry (list, revoke, rotate) and the configuration push. Open, the token being the credential:
/// <c>POST /api/v1/enrol</c>. Errors are RFC 9457 problems naming the fix; secrets appear once, in the response.
/// </summary>
public static class AdminRegistry
{
    /// <summary>Maps the admin routes on <paramref name="admin"/> (a group already under <c>/api/v1/admin</c> with the admin policy).</summary>
    public static RouteGroupBuilder MapProvisioningAdmin(this RouteGroupBuilder admin)
    {
        ArgumentNullException.ThrowIfNull(admin);
        admin.MapPost("/enrolment-tokens", async (HttpRequest request, EnrolmentService enrolment) =>
        {
            var body = await ReadObjectAsync(request).ConfigureAwait(false);
            var gateway = (string?)body?["gateway_id"];
            var lifetime = body?["expires_in_s"] is { } s ? TimeSpan.FromSeconds((double)s) : (TimeSpan?)null;
            var (token, expires) = enrolment.CreateToken(gateway, lifetime, body?["config"] as JsonObject);
            return Json(new JsonObject { ["token"] = token, ["gateway_id"] = gateway, ["expires_at"] = EnrolmentTokens.Stamp(expires) }, 201);
        }).WithName("CreateEnrolmentToken");

        admin.MapPost("/enrolment-bundles", async (HttpRequest request, EnrolmentService enrolment, TimeProvider time) =>
        {
            var body = await ReadObjectAsync(request).ConfigureAwait(false);
            var grant = await enrolment.ExportBundleAsync((string?)body?["gateway_id"] ?? string.Empty, body?["config"] as JsonObject, request.Host.Host)
                .ConfigureAwait(false);
            return Json(grant.ToJson(bundle: true, time.GetUtcNow()), 201);
        }).WithName("ExportEnrolmentBundle");

        admin.MapGet("/gateways", async (EnrolmentService enrolment, IServiceProvider services) =>
        {
            var connected = services.GetService(typeof(IGatewayBrokerControl)) is IGatewayBrokerControl broker
                ? (await broker.ConnectedClientsAsync().ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal)
                : null;
            var list = new JsonArray();
            foreach (var g in enrolment.Registry.List())
            {
                list.Add(EntryJson(g, connected));
            }

            return Json(new JsonObject { ["gateways"] = list });
        }).WithName("ListRegisteredGateways");

        admin.MapPost("/gateways/{id}/revoke", async (string id, EnrolmentService enrolment, ILogger<EnrolmentService> log) =>
        {
            await enrolment.RevokeAsync(id).ConfigureAwait(false);
            log.RegistryAction(id, "revoked");
            return Json(EntryJson(enrolment.Registry.Find(id)!, null));
        }).WithName("RevokeGateway");

        admin.MapPost("/gateways/{id}/rotate", async (string id, EnrolmentService enrolment, ILogger<EnrolmentService> log) =>
        {
            var password = await enrolment.RotateAsync(id).ConfigureAwait(false);
            log.RegistryAction(id, "credentials rotated");
            return Json(new JsonObject { ["gateway"] = id, ["username"] = id, ["password"] = password });
        }).WithName("RotateGatewayCredentials");

        admin.MapPut("/gateways/{id}/config", async (string id, HttpRequest request, EnrolmentService enrolment, ILogger<EnrolmentService> log) =>
        {
            var body = await ReadObjectAsync(request).ConfigureAwait(false)
                       ?? throw new ProvisioningException(400, "bad_request", "the body must be the configuration: a JSON object with the sections Modbus, Gpio, Sensors, Mqtt.");
            var version = await enrolment.PushConfigAsync(id, body).ConfigureAwait(false);
            log.ConfigPublished(id, version);
            return Json(new JsonObject { ["gateway"] = id, ["version"] = version, ["topic"] = IocEdge.Protocols.Mqtt.ConfigTopics.Config(id) }, 202);
        }).WithName("PushGatewayConfig");

        admin.MapPost("/gateways/{id}/outputs/{output}", async (string id, string output, HttpRequest request, EnrolmentService enrolment, ILogger<EnrolmentService> log) =>
        {
            var body = await ReadObjectAsync(request).ConfigureAwait(false)
                       ?? throw new ProvisioningException(400, "bad_request", "the body must be {\"active\": true|false} or {\"pulse_s\": seconds} (contract §10.1).");
            var active = body["active"] is JsonValue a && a.TryGetValue<bool>(out var b) ? b : (bool?)null;
            var pulse = body["pulse_s"] is JsonValue p && p.TryGetValue<double>(out var seconds) && double.IsFinite(seconds) && seconds is > 0 and <= 3600
                ? TimeSpan.FromSeconds(seconds)
                : body["pulse_s"] is null ? (TimeSpan?)null : throw new ProvisioningException(400, "bad_request", "pulse_s must be a number of seconds, more than 0 and at most 3600.");
            var commandId = await enrolment.CommandOutputAsync(id, output, active, pulse).ConfigureAwait(false);
            log.OutputCommandSent(id, output, commandId);
            return Json(new JsonObject { ["gateway"] = id, ["output"] = output, ["command"] = commandId, ["topic"] = IocEdge.Protocols.Mqtt.OutputCommandTopics.Command(id) }, 202);
        }).WithName("CommandGatewayOutput");

        admin.MapGet("/gateways/{id}/outputs", (string id, EnrolmentService enrolment) =>
            Json(new JsonObject { ["gateway"] = id, ["outputs"] = enrolment.Registry.Outputs(id) })).WithName("GetGatewayOutputs");

        admin.MapGet("/gateways/{id}/config", (string id, EnrolmentService enrolment) =>
        {
            var desired = enrolment.Registry.DesiredConfig(id);
            var entry = enrolment.Registry.Find(id);
            if (desired is null && entry is null)
            {
                throw new ProvisioningException(404, "unknown_gateway", $"no gateway {Security.Bounded.Text(id, 64)}: GET /api/v1/admin/gateways lists them.");
            }

            return Json(new JsonObject
            {
                ["gateway"] = id,
                ["version"] = desired?.Version,
                ["config"] = desired?.Config,
                ["reported"] = ReportJson(entry?.Reported),
            });
        }).WithName("GetGatewayConfig");
        return admin;
    }

    /// <summary>Maps <c>POST /api/v1/enrol</c>, open (the one-time token authenticates the caller).</summary>
    public static IEndpointRouteBuilder MapEnrol(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/enrol", async (HttpContext context, EnrolmentService enrolment, ILogger<EnrolmentService> log) =>
        {
            var body = await ReadObjectAsync(context.Request).ConfigureAwait(false);
            var gateway = (string?)body?["gateway_id"] ?? string.Empty;
            try
            {
                var grant = await enrolment.EnrolAsync((string?)body?["token"] ?? string.Empty, gateway, (string?)body?["csr"], context.Request.Host.Host)
                    .ConfigureAwait(false);
                log.GatewayEnrolled(gateway, grant.ConfigVersion);
                return Json(grant.ToJson());
            }
            catch (ProvisioningException ex)
            {
                log.EnrolmentRefused(Security.Bounded.Text(gateway, 64), context.Connection.RemoteIpAddress?.ToString(), ex.Reason);
                throw;
            }
        }).WithName("Enrol").RejectUnknownQueryParameters();
        return app;
    }

    /// <summary>Turns a <see cref="ProvisioningException"/> (and malformed JSON bodies) into problem responses for the routes above.</summary>
    public static IApplicationBuilder UseProvisioningProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (ProvisioningException ex) when (!context.Response.HasStarted)
        {
            await Problem(context, ex.Status, ex.Reason, ex.Message).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException ex) when (!context.Response.HasStarted)
        {
            await Problem(context, 400, "bad_json", "the body is not valid JSON: " + ex.Message).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (!context.Response.HasStarted && ex.Source == "System.Text.Json")
        {
            await Problem(context, 400, "bad_json", "a field of the body has the wrong type: " + ex.Message).ConfigureAwait(false);
        }
    });

    private static Task Problem(HttpContext context, int status, string reason, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        var problem = new JsonObject { ["status"] = status, ["title"] = reason, ["detail"] = detail };
        return context.Response.WriteAsync(problem.ToJsonString());
    }

    private static async Task<JsonObject?> ReadObjectAsync(HttpRequest request)
    {
        if (request.ContentLength is 0)
        {
            return null;
        }

        var node = await JsonNode.ParseAsync(request.Body).ConfigureAwait(false);
        return node as JsonObject ?? (node is null ? null : throw new ProvisioningException(400, "bad_request", "the body must be a JSON object."));
    }

    private static IResult Json(JsonObject body, int status = 200) =>
        Results.Text(body.ToJsonString(), "application/json", System.Text.Encoding.UTF8, status);

    private static JsonObject EntryJson(GatewayEntry g, HashSet<string>? connected) => new()
    {
        ["gateway"] = g.Gateway,
        ["credential"] = g.Credential,
        ["connected"] = connected is null ? null : connected.Contains(g.Gateway),
        ["enrolled_at"] = Stamp(g.EnrolledAt),
        ["revoked_at"] = Stamp(g.RevokedAt),
        ["rotated_at"] = Stamp(g.RotatedAt),
        ["config_version"] = g.DesiredConfigVersion,
        ["config_reported"] = ReportJson(g.Reported),
    };

    private static JsonObject? ReportJson(ConfigReport? r) => r is null ? null : new JsonObject
    {
        ["version"] = r.Version,
        ["result"] = r.Result,
        ["reason"] = r.Reason,
        ["at"] = EnrolmentTokens.Stamp(r.At),
    };

    private static string? Stamp(DateTimeOffset? t) => t is { } v ? EnrolmentTokens.Stamp(v) : null;
}
