using System.Buffers.Text;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using System.Xml;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Live;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// The route groups of the HTTP API, so that an authorization policy is one call per group
/// (<c>groups.Read.RequireAuthorization("read")</c>). <see cref="Operations"/> (/healthz, /metrics, /openapi) is for
/// the service's own supervision and stays open unless an operator closes it.
/// </summary>
public sealed record IocApiGroups(RouteGroupBuilder Read, RouteGroupBuilder Admin, RouteGroupBuilder Operations);

/// <summary>The IOC's HTTP API, version 1 (see aggregator/README.md, "HTTP API", and openapi.json beside this project).</summary>
public static partial class ApiEndpoints
{
    /// <summary>The OpenTelemetry resource's service name.</summary>
    public const string ServiceName = "iocedge-aggregator";

    /// <summary>Span of a history request that gives no <c>from</c> (ending at <c>to</c>, or now).</summary>
    public static readonly TimeSpan DefaultHistoryRange = TimeSpan.FromDays(1);

    /// <summary>The longest <c>step</c> a history request may give (a bucket of more than 400 days is never useful).</summary>
    private static readonly TimeSpan MaxStep = TimeSpan.FromDays(400);

    // Readings of /api/v1/readings when no limit is given (at most Aggregator:Api:MaxItemsPerResponse).
    private const int DefaultReadingsPerPage = 100;

    /// <summary>
    /// Registers what the API needs: JSON options (snake_case, source-generated), the last-value cache and live feed,
    /// the OpenAPI document <c>v1</c>, and OpenTelemetry metrics exported for Prometheus (every meter whose name starts
    /// with <see cref="IngestMetrics.MeterName"/>, created by this host's meter factory).
    /// </summary>
    public static IServiceCollection AddIocApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.WithAddedModifier(
                ApiJsonContext.Default, HistoryResponse.OmitNextOfBuckets));
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        services.AddSingleton<LiveFeed>();
        services.AddSingleton<LatestRenderer>();
        services.AddSingleton<ApiMetrics>();
        services.AddApiResponseCompression();
        services.AddLatestOutputCache();
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((doc, _, _) =>
        {
            // The document is checked into the repository: nothing in it may depend on where this instance listens.
            doc.Servers?.Clear();
            doc.Info.Title = "IocEdge aggregator API";
            doc.Info.Version = "v1";
            doc.Info.Description = "The HTTP API an IOC pulls from: gateways, channel catalogue, latest values, history, live stream.";
            return Task.CompletedTask;
        }).AddSchemaTransformer((schema, context, _) =>
        {
            // A property left out of some answers (JsonIgnore WhenWritingNull, or a ShouldSerialize of its own: history's
            // per-mode properties) is not required.
            foreach (var property in context.JsonTypeInfo.Properties.Where(p => p.ShouldSerialize is not null))
            {
                schema.Required?.Remove(property.Name);
            }

            return Task.CompletedTask;
        }));
        // The resource's service.name (Prometheus: target_info{service_name="iocedge-aggregator"}), the same in the
        // service and the demo, which runs this host; without it OpenTelemetry says unknown_service:<process>.
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService(ServiceName)).WithMetrics(m => m
            .AddMeter(IngestMetrics.MeterName + "*")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        // Meters are process-wide: only this host's own (made by its IMeterFactory) are exported, so two hosts in one
        // process (tests, the demo) never show each other's counters.
        services.ConfigureOpenTelemetryMeterProvider((sp, m) =>
        {
            var factory = sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            m.AddView(i => ReferenceEquals(i.Meter.Scope, factory) ? null : MetricStreamConfiguration.Drop);
        });
        return services;
    }

    private static readonly ParameterDoc GatewayFilter = new("gateway",
        "Only this gateway (contract §2 id, e.g. gw-demo-01); 404 when no such gateway has sent data or is registered.");

    private static readonly ParameterDoc GatewayRequired = new("gateway",
        "The gateway (contract §2 id, e.g. gw-demo-01); 404 when no such gateway has sent data or is registered.", Required: true);

    private static readonly ParameterDoc ChannelPrefix = new("channel", "Only channels whose id starts with this: a device (env1/) or a whole channel id.");

    private static readonly ParameterDoc ChannelRequired = new("channel", "The channel id (contract §2: device/point, e.g. env1/pm2_5); 404 when the gateway has no such channel.",
        Required: true);

    private static readonly ParameterDoc Cursor = new("cursor", "Opaque: follow the next URL of the previous page as it is.");

    /// <summary>Maps every route; returns the groups (see <see cref="IocApiGroups"/>).</summary>
    public static IocApiGroups MapIocApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        _ = app.Services.GetRequiredService<ApiMetrics>(); // its instruments exist from start
        // A query parameter a route does not take is refused, not ignored (QueryParameters).
        var read = app.MapGroup("/api/v1").WithTags("read").RejectUnknownQueryParameters();
        var admin = app.MapGroup("/api/v1/admin").WithTags("admin").RejectUnknownQueryParameters();
        var ops = app.MapGroup(string.Empty).WithTags("operations");

        read.MapGet("/latest", Latest).WithName("latest")
            .Describe(GatewayFilter, ChannelPrefix,
                new("limit", "Channels per page: 1 to Api:MaxItemsPerResponse (10000), default Api:DefaultPageSize (1000)."), Cursor)
            .WithSummary("Latest value of each channel, from the in-memory last-value cache, paged in (gateway, channel) order. Each page carries a weak ETag: with If-None-Match a poller gets 304 while none of its values changed.")
            .Produces<LatestResponse>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .CacheOutput(LatestOutputCache.PolicyName);
        read.MapGet("/gateways", Gateways).WithName("gateways")
            .WithSummary("Every gateway: online/offline, last seen, counters and its latest health (contract §5).");
        read.MapGet("/channels", Channels).WithName("channels")
            .Describe(GatewayFilter)
            .WithSummary("The channel catalogue: gateway, channel, unit, newest device time.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        read.MapGet("/readings", Readings).WithName("readings")
            .Describe(GatewayRequired, ChannelRequired, new("limit", "Readings: 1 to Api:MaxItemsPerResponse (10000), default 100."))
            .WithSummary("The newest stored readings of one channel, by receive order, newest first.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        read.MapGet("/history", History).WithName("history")
            .Describe(GatewayRequired, ChannelRequired,
                new("from", "Start, inclusive, device time: RFC 3339 with a zone (2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00). Default: a day before to.",
                    Format: "date-time"),
                new("to", "End, exclusive, device time: RFC 3339 with a zone. Default: now. At most Api:MaxHistoryRange (400 days) after from.",
                    Format: "date-time"),
                new("step", "Bucket width: seconds (3600), 15m, 1h, 1d or ISO 8601 (PT1H); at least 1 s. With it the answer has points; without it, raw readings."),
                new("agg", "How each bucket is reduced (with step only); default avg.", Values: ["avg", "min", "max", "last", "count"]),
                new("limit", "Raw readings per page (without step only): 1 to Api:MaxItemsPerResponse (10000), default Api:DefaultPageSize (1000)."),
                Cursor,
                new("format", "json (default) or csv; Accept: text/csv also gives CSV.", Values: ["json", "csv"]))
            .WithSummary("One channel's history: buckets of step seconds reduced with agg, or raw readings (keyset paged); JSON or CSV.")
            .Produces<HistoryResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .AddOpenApiOperationTransformer((op, _, _) =>
            {
                // The same 200 as CSV (format=csv or Accept: text/csv): one header line, then one line per point or reading.
                if (op.Responses?.TryGetValue("200", out var ok) == true && ok.Content is { } content)
                {
                    content["text/csv"] = new Microsoft.OpenApi.OpenApiMediaType
                    {
                        Schema = new Microsoft.OpenApi.OpenApiSchema
                        {
                            Type = Microsoft.OpenApi.JsonSchemaType.String,
                            Description = "ts,value,count (with step) or ts,value,unit,quality,ts_status,seq,received_at (raw); CRLF lines.",
                        },
                    };
                }

                return Task.CompletedTask;
            });
        read.MapGet("/stream", Stream).WithName("stream")
            .Describe(GatewayFilter, ChannelPrefix,
                new("Last-Event-ID", "The id of the last event received: the stream resends what followed it (or a resync event when it is no longer held)."))
            .WithSummary("Server-Sent Events: each committed reading and gateway status change; resumable with Last-Event-ID.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        ops.MapGet("/healthz", Healthz).WithName("healthz")
            .WithSummary("O(1) liveness: 200 while the ingest loop runs and its last commit succeeded, 503 otherwise.")
            .Produces<HealthzResponse>(StatusCodes.Status503ServiceUnavailable);
        ops.MapPrometheusScrapingEndpoint("/metrics").ExcludeFromDescription();
        ops.MapOpenApi("/openapi/{documentName}.json");
        ops.MapGet("/", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8")).ExcludeFromDescription();
        return new IocApiGroups(read, admin, ops);
    }

    private static Results<LatestPage, StatusCodeHttpResult, ProblemHttpResult> Latest(string? gateway, string? channel, int? limit, string? cursor,
        LiveFeed live, LatestRenderer renderer, TimeProvider time, HttpRequest request, IOptions<AggregatorOptions> options, IReadingStore store,
        Provisioning.GatewayRegistry registry)
    {
        var api = options.Value.Api;
        if (gateway is not null && !Identifiers.IsValidGatewayId(gateway))
        {
            return Bad("gateway", $"'{Clip(gateway)}' is not a gateway id (contract §2: lower-case letters, digits, '-'), e.g. gw-demo-01.");
        }

        if (channel is { Length: 0 or > 128 })
        {
            return Bad("channel", "give a channel id or the start of one (1-128 characters), e.g. env1/ or env1/pm2_5.");
        }

        if (limit < 1 || limit > api.MaxItemsPerResponse)
        {
            return Bad("limit", $"give 1-{api.MaxItemsPerResponse} (default {api.DefaultPageSize}).");
        }

        SeriesKey? after = null;
        if (cursor is not null)
        {
            if (DecodeCursor(cursor) is not [var g, var c])
            {
                return Bad("cursor", "not a cursor of this API: pass the 'next' URL of the previous page as it is.");
            }

            after = new SeriesKey(g, c);
        }

        var (page, more) = live.Cache.Page(gateway, channel, after, limit ?? api.DefaultPageSize);
        if (page.Count == 0 && gateway is not null && UnknownGateway(gateway, live, store, registry) is { } unknown)
        {
            return unknown;
        }

        // A poller that sends back the page's entity tag gets 304 while none of the page's values changed.
        var tag = LatestTag(live.Cache, page, more);
        var headers = request.HttpContext.Response.GetTypedHeaders();
        headers.ETag = tag;
        headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        if (request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } ifNoneMatch &&
            ifNoneMatch.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Compare(tag, useStrongComparison: false)))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var next = more ? NextUrl(request, EncodeCursor(page[^1].Reading.Gateway, page[^1].Reading.Channel)) : null;
        return new LatestPage(page, time.GetUtcNow().UtcDateTime, next, renderer);
    }

    /// <summary>
    /// The entity tag of the page a latest request asks for, from its raw query (<see cref="LatestOutputCache"/>'s key),
    /// or null when the query is not one the cache should take (a malformed limit or cursor, a repeated parameter): the
    /// endpoint then answers or refuses it as usual. A query the endpoint refuses otherwise gets a tag but is not kept
    /// (only 200 answers are).
    /// </summary>
    internal static string? LatestTagOf(HttpRequest request, LiveFeed live, ApiOptions api)
    {
        var query = request.Query;
        if (query["gateway"].Count > 1 || query["channel"].Count > 1 || query["limit"].Count > 1 || query["cursor"].Count > 1)
        {
            return null;
        }

        var limit = api.DefaultPageSize;
        if (query["limit"] is [{ } l] && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > api.MaxItemsPerResponse))
        {
            return null;
        }

        SeriesKey? after = null;
        if (query["cursor"] is [{ } cursor])
        {
            if (DecodeCursor(cursor) is not [var g, var c])
            {
                return null;
            }

            after = new SeriesKey(g, c);
        }

        var (page, more) = live.Cache.Page(query["gateway"] is [{ } gw] ? gw : null, query["channel"] is [{ } ch] ? ch : null, after, limit);
        return LatestTag(live.Cache, page, more).Tag.Value;
    }

    /// <summary>
    /// The weak entity tag of a latest page (RFC 9110 §8.8.3): the cache's epoch, the page's largest revision, its
    /// count and whether more follow. Any replaced value or joined channel raises the largest revision (entries are
    /// never removed), so two pages with the same tag hold the same values; <c>generated_at</c> differs, hence weak.
    /// </summary>
    internal static EntityTagHeaderValue LatestTag(LatestCache cache, IReadOnlyList<LatestCache.Entry> page, bool more)
    {
        long newest = 0;
        foreach (var e in page)
        {
            newest = Math.Max(newest, e.Revision);
        }

        return new EntityTagHeaderValue(string.Create(CultureInfo.InvariantCulture, $"\"{cache.Epoch}-{newest:x}-{page.Count}{(more ? "+" : "")}\""),
            isWeak: true);
    }

    private static Ok<GatewaysResponse> Gateways(IReadingStore store, TimeProvider time, Provisioning.GatewayRegistry registry)
    {
        var list = store.Gateways().Select(g => new GatewayDto(g.Gateway, g.State, g.StatusAt?.UtcDateTime, g.Software, g.OutboxPending,
            g.LastSeen?.UtcDateTime, g.Readings, g.Duplicates, g.Channels,
            new TimestampsFlaggedDto(g.TimestampsFlagged.Future, g.TimestampsFlagged.TooOld, g.TimestampsFlagged.BeforeEpoch,
                g.TimestampsFlagged.ClockUntrusted),
            g.Health is null ? null : ParseHealth(g.Health), g.HealthAt?.UtcDateTime, registry.ConfigOf(g.Gateway))).ToList();
        return TypedResults.Ok(new GatewaysResponse(time.GetUtcNow().UtcDateTime, list));
    }

    private static Results<Ok<ChannelsResponse>, ProblemHttpResult> Channels(string? gateway, IReadingStore store, TimeProvider time,
        LiveFeed live, Provisioning.GatewayRegistry registry)
    {
        if (gateway is not null && !Identifiers.IsValidGatewayId(gateway))
        {
            return Bad("gateway", $"'{Clip(gateway)}' is not a gateway id (contract §2: lower-case letters, digits, '-'), e.g. gw-demo-01.");
        }

        var list = store.Channels(gateway).Select(c => new ChannelDto(c.Gateway, c.Channel, c.Unit, c.LastTimestamp?.UtcDateTime)).ToList();
        if (list.Count == 0 && gateway is not null && UnknownGateway(gateway, live, store, registry) is { } unknown)
        {
            return unknown;
        }

        return TypedResults.Ok(new ChannelsResponse(time.GetUtcNow().UtcDateTime, list));
    }

    private static Results<Ok<ReadingsResponse>, ProblemHttpResult> Readings(string? gateway, string? channel, int? limit, IReadingStore store,
        TimeProvider time, IOptions<AggregatorOptions> options, LiveFeed live, Provisioning.GatewayRegistry registry)
    {
        var max = options.Value.Api.MaxItemsPerResponse;
        var defaultLimit = Math.Min(DefaultReadingsPerPage, max);
        if (ChannelProblem(gateway, channel) is { } problem)
        {
            return problem;
        }

        if (limit < 1 || limit > max)
        {
            return Bad("limit", $"give 1-{max} (default {defaultLimit}).");
        }

        if (UnknownChannel(gateway!, channel!, live, store, registry) is { } unknown)
        {
            return unknown;
        }

        var list = store.Readings(gateway!, channel!, limit ?? defaultLimit).Select(ToDto).ToList();
        return TypedResults.Ok(new ReadingsResponse(time.GetUtcNow().UtcDateTime, gateway!, channel!, list));
    }

    private static Results<Ok<HistoryResponse>, ContentHttpResult, ProblemHttpResult> History(string? gateway, string? channel, string? from,
        string? to, string? step, string? agg, int? limit, string? cursor, string? format, IReadingStore store, TimeProvider time,
        HttpRequest request, HttpResponse response, IOptions<AggregatorOptions> options, LiveFeed live, Provisioning.GatewayRegistry registry)
    {
        var api = options.Value.Api;
        if (ChannelProblem(gateway, channel) is { } problem)
        {
            return problem;
        }

        var now = time.GetUtcNow();
        DateTimeOffset toTs = now, fromTs;
        if (to is not null && TimeProblem("to", to, out toTs) is { } badTo)
        {
            return badTo;
        }

        if (from is null)
        {
            fromTs = toTs - DefaultHistoryRange;
        }
        else if (TimeProblem("from", from, out fromTs) is { } badFrom)
        {
            return badFrom;
        }

        if (fromTs >= toTs)
        {
            return Bad("from", $"from ({Rfc3339Exact(fromTs)}) must be before to ({(to is null ? "now, " : string.Empty)}{Rfc3339Exact(toTs)}).");
        }

        if (toTs - fromTs > api.MaxHistoryRange)
        {
            return Bad("to", $"from..to spans {(toTs - fromTs).TotalDays:0.#} days; the most is {api.MaxHistoryRange.TotalDays:0.#} days: ask in several requests.");
        }

        bool csv;
        if (format is null)
        {
            csv = request.Headers.Accept.Any(a => a is not null && a.Contains("text/csv", StringComparison.OrdinalIgnoreCase));
        }
        else if (format is "json" or "csv")
        {
            csv = format == "csv";
        }
        else
        {
            return Bad("format", $"'{Clip(format)}' is not a format: give json (default) or csv.");
        }

        // Whether the gateway and channel exist is asked once every parameter is known valid (a bad one is a 400 first).
        var exists = () => UnknownChannel(gateway!, channel!, live, store, registry);

        if (step is null)
        {
            if (agg is not null)
            {
                return Bad("agg", "agg reduces buckets: give step too (e.g. step=1h&agg=avg), or leave agg out for raw readings.");
            }

            return Raw(gateway!, channel!, fromTs, toTs, limit, cursor, csv, now, request, response, store, api, exists);
        }

        if (!TryParseStep(step, out var stepSpan))
        {
            return Bad("step", $"'{Clip(step)}' is not a step: give seconds (3600), 15m, 1h, 1d or ISO 8601 (PT1H); at least 1 s.");
        }

        var buckets = (long)Math.Ceiling((toTs - fromTs).Ticks / (double)stepSpan.Ticks) + 1;
        if (buckets > api.MaxItemsPerResponse)
        {
            return Bad("step", $"from..to in steps of {stepSpan} gives up to {buckets} points; the most is {api.MaxItemsPerResponse}: widen step or narrow from/to.");
        }

        HistoryAggregate aggregate;
        switch (agg ?? "avg")
        {
            case "avg": aggregate = HistoryAggregate.Avg; break;
            case "min": aggregate = HistoryAggregate.Min; break;
            case "max": aggregate = HistoryAggregate.Max; break;
            case "last": aggregate = HistoryAggregate.Last; break;
            case "count": aggregate = HistoryAggregate.Count; break;
            default: return Bad("agg", $"'{Clip(agg!)}' is not an aggregate: give avg (default), min, max, last or count.");
        }

        if (limit is not null || cursor is not null)
        {
            return Bad(limit is not null ? "limit" : "cursor", $"buckets come in one response (at most {api.MaxItemsPerResponse}): limit and cursor page raw readings only.");
        }

        if (exists() is { } unknown)
        {
            return unknown;
        }

        var points = store.Buckets(gateway!, channel!, fromTs, toTs, stepSpan).Select(b => new HistoryPointDto(b.Start.UtcDateTime, aggregate switch
        {
            HistoryAggregate.Avg => b.Avg,
            HistoryAggregate.Min => b.Min,
            HistoryAggregate.Max => b.Max,
            HistoryAggregate.Last => b.Last,
            _ => b.Count,
        }, b.Count)).ToList();
        if (csv)
        {
            var sb = new StringBuilder("ts,value,count\r\n");
            foreach (var p in points)
            {
                sb.Append(Rfc3339(p.Ts)).Append(',').Append(Number(p.Value)).Append(',').Append(p.Count.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            }

            return Csv(sb, gateway!, channel!, response);
        }

        return TypedResults.Ok(new HistoryResponse(now.UtcDateTime, gateway!, channel!, fromTs.UtcDateTime, toTs.UtcDateTime,
            (long)stepSpan.TotalSeconds, agg ?? "avg", points, null, null));
    }

    private static Results<Ok<HistoryResponse>, ContentHttpResult, ProblemHttpResult> Raw(string gateway, string channel, DateTimeOffset from,
        DateTimeOffset to, int? limit, string? cursor, bool csv, DateTimeOffset now, HttpRequest request, HttpResponse response, IReadingStore store,
        ApiOptions api, Func<ProblemHttpResult?> exists)
    {
        if (limit < 1 || limit > api.MaxItemsPerResponse)
        {
            return Bad("limit", $"give 1-{api.MaxItemsPerResponse} (default {api.DefaultPageSize}).");
        }

        DateTimeOffset? afterTs = null;
        long? afterSeq = null;
        if (cursor is not null)
        {
            if (DecodeCursor(cursor) is not [var ts, var seq] ||
                !long.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var tsMs) ||
                !long.TryParse(seq, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s))
            {
                return Bad("cursor", "not a cursor of this API: pass the 'next' URL of the previous page as it is.");
            }

            afterTs = DateTimeOffset.FromUnixTimeMilliseconds(tsMs);
            afterSeq = s;
        }

        if (exists() is { } unknown)
        {
            return unknown;
        }

        var pageSize = limit ?? api.DefaultPageSize;
        var rows = store.Range(gateway, channel, from, to, pageSize + 1, afterTs, afterSeq);
        var more = rows.Count > pageSize;
        var page = more ? rows.Take(pageSize).ToList() : rows;
        string? next = null;
        if (more)
        {
            var last = page[^1];
            next = NextUrl(request, EncodeCursor(last.Timestamp.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                last.Sequence.ToString(CultureInfo.InvariantCulture)));
        }

        if (csv)
        {
            var sb = new StringBuilder("ts,value,unit,quality,ts_status,seq,received_at\r\n");
            foreach (var r in page)
            {
                sb.Append(Rfc3339(r.Timestamp.UtcDateTime)).Append(',').Append(r.Value is { } v ? Number(v) : string.Empty).Append(',')
                    .Append(r.Unit).Append(',').Append(QualityNames.ToWire(r.Quality)).Append(',').Append(TimestampPolicy.ToWire(r.TimestampStatus))
                    .Append(',').Append(r.Sequence.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Rfc3339(r.ReceivedAt.UtcDateTime))
                    .Append("\r\n");
            }

            if (next is not null)
            {
                response.Headers.Link = $"<{next}>; rel=\"next\"";
            }

            return Csv(sb, gateway, channel, response);
        }

        return TypedResults.Ok(new HistoryResponse(now.UtcDateTime, gateway, channel, from.UtcDateTime, to.UtcDateTime, null, null, null,
            page.Select(ToDto).ToList(), next));
    }

    private static Results<ServerSentEventsResult<string>, ProblemHttpResult> Stream(string? gateway, string? channel,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader, LiveFeed live, CancellationToken cancellationToken)
    {
        if (gateway is not null && !Identifiers.IsValidGatewayId(gateway))
        {
            return Bad("gateway", $"'{Clip(gateway)}' is not a gateway id (contract §2: lower-case letters, digits, '-'), e.g. gw-demo-01.");
        }

        if (channel is { Length: 0 or > 128 })
        {
            return Bad("channel", "give a channel id or the start of one (1-128 characters), e.g. env1/.");
        }

        long? lastEventId = null;
        var header = lastEventIdHeader ?? string.Empty;
        if (header.Length > 0)
        {
            if (!long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                return Bad("Last-Event-ID", $"'{Clip(header)}' is not an event id of this stream (a non-negative integer).");
            }

            lastEventId = id;
        }

        return TypedResults.ServerSentEvents(Items(live, gateway, channel, lastEventId, cancellationToken));
    }

    private static async IAsyncEnumerable<SseItem<string>> Items(LiveFeed live, string? gateway, string? channel, long? lastEventId,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // First an "open" event (no id) with the id the stream continues from: it sends the headers at once and tells the
        // client where it stands. A new client resumes from there too, so nothing committed meanwhile is missed.
        var from = lastEventId ?? live.LastId;
        yield return new SseItem<string>($"{{\"last_id\":{from.ToString(CultureInfo.InvariantCulture)}}}", "open");
        await foreach (var e in live.SubscribeAsync(gateway, channel, from, cancellationToken).ConfigureAwait(false))
        {
            yield return new SseItem<string>(e.Data, e.Type) { EventId = e.Id > 0 ? e.Id.ToString(CultureInfo.InvariantCulture) : null };
        }
    }

    private static Results<Ok<HealthzResponse>, JsonHttpResult<HealthzResponse>> Healthz(IngestPipeline pipeline, IngestMetrics metrics)
    {
        var age = metrics.LastCommitAge?.TotalSeconds;
        if (pipeline.ExecuteTask is { IsCompleted: true })
        {
            return TypedResults.Json(new HealthzResponse("unhealthy", "the ingest loop has stopped: restart the service", age),
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (metrics.LastCommitFailed)
        {
            return TypedResults.Json(new HealthzResponse("unhealthy", "the store could not be written at the last commit (disk full? I/O error?)", age),
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return TypedResults.Ok(new HealthzResponse("ok", null, age));
    }

    private static ProblemHttpResult? ChannelProblem(string? gateway, string? channel)
    {
        if (gateway is null || !Identifiers.IsValidGatewayId(gateway))
        {
            return Bad("gateway", gateway is null
                ? "gateway is required, e.g. gateway=gw-demo-01."
                : $"'{Clip(gateway)}' is not a gateway id (contract §2: lower-case letters, digits, '-'), e.g. gw-demo-01.");
        }

        if (channel is null || !Identifiers.IsValidChannelId(channel))
        {
            return Bad("channel", channel is null
                ? "channel is required, e.g. channel=env1/pm2_5."
                : $"'{Clip(channel)}' is not a channel id (contract §2: device/point), e.g. env1/pm2_5.");
        }

        return null;
    }

    /// <summary>
    /// 404 naming <c>gateway</c> when no gateway of that id has sent anything (it has a latest value, or a row in the
    /// store's gateways) nor is registered (<see cref="Provisioning.GatewayRegistry"/>); null when it is known. Asked
    /// only when an answer came out empty: the last-value cache answers first (O(log n)), the store's gateway list and
    /// the registry only when it has nothing of that gateway.
    /// </summary>
    private static ProblemHttpResult? UnknownGateway(string gateway, LiveFeed live, IReadingStore store, Provisioning.GatewayRegistry registry)
    {
        if (live.Cache.Page(gateway, null, null, 1).Page.Count > 0 ||
            store.Gateways().Any(g => string.Equals(g.Gateway, gateway, StringComparison.Ordinal)) || registry.Find(gateway) is not null)
        {
            return null;
        }

        return Bad("gateway", $"no gateway '{gateway}' has sent data or is registered; GET /api/v1/gateways lists them.", StatusCodes.Status404NotFound);
    }

    /// <summary>
    /// 404 naming <c>channel</c> (with the nearest known channel when one differs only slightly) when a known gateway
    /// has no such channel, or naming <c>gateway</c> when the gateway is unknown; null when the channel is known. A
    /// channel with a latest value is known at once (O(1)); otherwise the gateway's channel catalogue is read.
    /// </summary>
    private static ProblemHttpResult? UnknownChannel(string gateway, string channel, LiveFeed live, IReadingStore store,
        Provisioning.GatewayRegistry registry)
    {
        if (live.Cache.Get(gateway, channel) is not null)
        {
            return null;
        }

        var channels = store.Channels(gateway);
        if (channels.Any(c => string.Equals(c.Channel, channel, StringComparison.Ordinal)))
        {
            return null;
        }

        if (channels.Count == 0 && UnknownGateway(gateway, live, store, registry) is { } unknown)
        {
            return unknown;
        }

        var hint = NearestChannel(channel, channels.Select(c => c.Channel)) is { } near
            ? $": did you mean '{near}'?"
            : $"; GET /api/v1/channels?gateway={gateway} lists them.";
        return Bad("channel", $"gateway '{gateway}' has no channel '{channel}'{hint}", StatusCodes.Status404NotFound);
    }

    /// <summary>
    /// The known channel nearest to <paramref name="channel"/> (fewest edits) among those that differ only slightly from
    /// it: the same device (the part before '/') or at most 2 edits away; null when none does.
    /// </summary>
    internal static string? NearestChannel(string channel, IEnumerable<string> known)
    {
        var device = channel.Split('/')[0];
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            var distance = Identifiers.EditDistance(channel, k);
            if ((distance <= 2 || string.Equals(k.Split('/')[0], device, StringComparison.Ordinal)) && distance < bestDistance)
            {
                (best, bestDistance) = (k, distance);
            }
        }

        return best;
    }

    /// <summary>
    /// An RFC 9457 problem (application/problem+json) naming the query parameter at fault in <c>parameter</c>: 400 for
    /// a value that is not valid, 404 for a gateway or channel that does not exist.
    /// </summary>
    internal static ProblemHttpResult Bad(string parameter, string detail, int status = StatusCodes.Status400BadRequest) => TypedResults.Problem(
        detail: $"{parameter}: {detail}",
        statusCode: status,
        title: status == StatusCodes.Status404NotFound ? $"Unknown {parameter}" : $"Invalid parameter '{parameter}'",
        extensions: new Dictionary<string, object?> { ["parameter"] = parameter });

    // Echoed input is clipped, so a long query string does not come back whole in the answer.
    internal static string Clip(string s) => s.Length <= 64 ? s : string.Concat(s.AsSpan(0, 64), "…");

    private static ContentHttpResult Csv(StringBuilder sb, string gateway, string channel, HttpResponse response)
    {
        var name = $"{gateway}_{channel.Replace('/', '_')}.csv";
        response.Headers.ContentDisposition = $"attachment; filename=\"{name}\"";
        return TypedResults.Text(sb.ToString(), "text/csv; charset=utf-8");
    }

    private static ReadingDto ToDto(StoredReading r) => new(r.Sequence, r.Timestamp.UtcDateTime, r.Value, r.Unit, QualityNames.ToWire(r.Quality),
        TimestampPolicy.ToWire(r.TimestampStatus), r.ReceivedAt.UtcDateTime);

    private static string Rfc3339(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    // RFC 3339 date-time; the zone is optional here only to say so when it is missing.
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(?<zone>[Zz]|[+-]\d{2}:\d{2})?$")]
    private static partial Regex DateTime3339();

    /// <summary>
    /// Parses <paramref name="text"/> as an RFC 3339 time with its zone (<c>Z</c> or <c>±hh:mm</c>); null when it is
    /// one, else the problem naming <paramref name="parameter"/>. A time without a zone is refused rather than taken as
    /// UTC (in Vietnam it would be read 7 hours off). A single space right before a final <c>hh:mm</c> is read as '+':
    /// that is what an unencoded <c>+07:00</c> typed in a URL arrives as.
    /// </summary>
    internal static ProblemHttpResult? TimeProblem(string parameter, string text, out DateTimeOffset value)
    {
        value = default;
        var s = text.Length > 7 && text[^6] == ' ' && text[^7] != ' ' && text[^3] == ':' ? string.Concat(text.AsSpan(0, text.Length - 6), "+", text.AsSpan(text.Length - 5)) : text;
        var m = DateTime3339().Match(s);
        if (m.Success && !m.Groups["zone"].Success)
        {
            return Bad(parameter, $"'{Clip(text)}' has no zone, so it could be UTC or local time: give a zone: 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.");
        }

        if (!m.Success || !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out value))
        {
            return Bad(parameter, $"'{Clip(text)}' is not a time: give RFC 3339 such as 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.");
        }

        return null;
    }

    // RFC 3339 in UTC for messages: whole seconds as 2026-11-30T00:00:00Z, a fraction only when there is one.
    private static string Rfc3339Exact(DateTimeOffset t) => t.UtcDateTime.ToString(
        t.UtcTicks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>Seconds ("3600"), a number with s/m/h/d ("15m", "1h"), or ISO 8601 ("PT1H"); at least one second, at most 400 days (<see cref="MaxStep"/>).</summary>
    internal static bool TryParseStep(string s, out TimeSpan step)
    {
        step = default;
        if (s.Length is 0 or > 32)
        {
            return false;
        }

        if (s[0] is 'P' or 'p')
        {
            try
            {
                step = XmlConvert.ToTimeSpan(s.ToUpperInvariant());
            }
            catch (FormatException)
            {
                return false;
            }
        }
        else
        {
            var unit = char.IsAsciiLetter(s[^1]) ? s[^1] : 's';
            var digits = char.IsAsciiLetter(s[^1]) ? s[..^1] : s;
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 400L * 86_400)
            {
                return false;
            }

            step = unit switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => TimeSpan.Zero,
            };
        }

        return step >= TimeSpan.FromSeconds(1) && step <= MaxStep && step.Ticks % TimeSpan.TicksPerSecond == 0;
    }

    private static string EncodeCursor(string a, string b) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(a + "\n" + b));

    private static string[]? DecodeCursor(string cursor)
    {
        if (cursor.Length > 512)
        {
            return null;
        }

        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor)).Split('\n');
            return parts.Length == 2 ? parts : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    // The same request with cursor set: a relative URL the client follows as it is.
    private static string NextUrl(HttpRequest request, string cursor)
    {
        var q = request.Query.Where(p => !string.Equals(p.Key, "cursor", StringComparison.OrdinalIgnoreCase))
            .SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v)))
            .Append(new KeyValuePair<string, string?>("cursor", cursor));
        return request.PathBase + request.Path + QueryString.Create(q);
    }

    // The stored health object (contract §5), written by StatusHealth.Extract, back as JSON for the response.
    private static JsonElement ParseHealth(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
