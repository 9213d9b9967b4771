using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using IocEdge.Aggregator.Live;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.AspNetCore.Http;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// The 200 of GET /api/v1/latest: a <see cref="LatestResponse"/> written from the cache's rendered entries. Each
/// channel's JSON object is serialised once per value (<see cref="LatestCache.Entry.Rendered"/>) with the API's own
/// serializer options, so the bytes are the ones <c>Ok&lt;LatestResponse&gt;</c> would write; a request only writes the
/// envelope (<c>generated_at</c>, the array, <c>next</c>) around copies of them.
/// </summary>
/// <remarks>
/// Why (docs/BENCHMARKS.md, issue 15 "latest"): serialising 1,000 values per request (about 180 KB) was most of a
/// request's CPU, and at 50 concurrent requests on two cores p99 was 2-2.5× what the bare HTTP stack takes to return
/// the same bytes. The OpenAPI document still describes <see cref="LatestResponse"/> (the route's <c>Produces</c>), and
/// the tests that hold responses to the document cover this writer.
/// </remarks>
internal sealed class LatestPage(IReadOnlyList<LatestCache.Entry> entries, DateTime generatedAt, string? next, LatestRenderer renderer)
    : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    // Flush to the response body every this many bytes (Kestrel's default response buffer segment is 4 KiB; a few of
    // them per flush keeps a 1,000-channel page to about a dozen writes).
    private const int FlushBytes = 16 * 1024;

    /// <inheritdoc/>
    public int? StatusCode => StatusCodes.Status200OK;

    /// <inheritdoc/>
    public string ContentType => "application/json; charset=utf-8";

    /// <inheritdoc/>
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        var writer = new Utf8JsonWriter(response.Body, renderer.WriterOptions);
        await using var _ = writer.ConfigureAwait(false);
        writer.WriteStartObject();
        writer.WriteString(renderer.GeneratedAt, generatedAt);
        writer.WriteStartArray(renderer.Readings);
        foreach (var entry in entries)
        {
            writer.WriteRawValue(entry.Rendered(renderer.Render), skipInputValidation: true);
            if (writer.BytesPending >= FlushBytes)
            {
                await writer.FlushAsync(httpContext.RequestAborted).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        if (next is null)
        {
            writer.WriteNull(renderer.Next);
        }
        else
        {
            writer.WriteString(renderer.Next, next);
        }

        writer.WriteEndObject();
        await writer.FlushAsync(httpContext.RequestAborted).ConfigureAwait(false);
    }
}

/// <summary>
/// Renders one latest value as the API's JSON object (<see cref="LatestDto"/>) with the API's serializer options, and
/// names the envelope's properties with the same naming policy. One per application (a singleton).
/// </summary>
internal sealed class LatestRenderer
{
    private readonly JsonTypeInfo<LatestDto> _dto;

    public LatestRenderer(Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var serializer = options.Value.SerializerOptions;
        _dto = (JsonTypeInfo<LatestDto>)serializer.GetTypeInfo(typeof(LatestDto));
        WriterOptions = new JsonWriterOptions { Encoder = serializer.Encoder, Indented = serializer.WriteIndented, SkipValidation = true };
        var naming = serializer.PropertyNamingPolicy;
        GeneratedAt = JsonEncodedText.Encode(naming?.ConvertName(nameof(LatestResponse.GeneratedAt)) ?? nameof(LatestResponse.GeneratedAt));
        Readings = JsonEncodedText.Encode(naming?.ConvertName(nameof(LatestResponse.Readings)) ?? nameof(LatestResponse.Readings));
        Next = JsonEncodedText.Encode(naming?.ConvertName(nameof(LatestResponse.Next)) ?? nameof(LatestResponse.Next));
        Render = r => JsonSerializer.SerializeToUtf8Bytes(ToDto(r), _dto);
    }

    public JsonWriterOptions WriterOptions { get; }

    public JsonEncodedText GeneratedAt { get; }

    public JsonEncodedText Readings { get; }

    public JsonEncodedText Next { get; }

    /// <summary>The one render function every entry is rendered with (<see cref="LatestCache.Entry.Rendered"/>).</summary>
    public Func<LatestReading, byte[]> Render { get; }

    internal static LatestDto ToDto(LatestReading l) => new(l.Gateway, l.Channel, l.Timestamp.UtcDateTime, l.Value, l.Unit,
        QualityNames.ToWire(l.Quality), l.Sequence, l.ReceivedAt.UtcDateTime);
}
