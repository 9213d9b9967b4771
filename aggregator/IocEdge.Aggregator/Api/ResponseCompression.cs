using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// Response compression of the API's JSON and CSV and of <c>/metrics</c>, by ASP.NET Core's response compression
/// middleware: gzip or Brotli at the fastest level, whichever the client's <c>Accept-Encoding</c> prefers (gzip on a
/// tie: at these levels it made the smaller page of the two here, 13.7 KB against 15.3 KB for 180 KB of latest values,
/// in less time); <c>Vary: Accept-Encoding</c> on every answer that could be compressed. A client that sends no
/// <c>Accept-Encoding</c> gets the identity body, as before.
/// </summary>
/// <remarks>
/// Why (issue 15, docs/BENCHMARKS.md "HTTP API latency"): <c>latest</c> for 1,000 channels is about 180 KB of JSON;
/// at 50 concurrent requests on two cores the bare HTTP stack returning those bytes was itself over the 20 ms goal, and
/// an IOC's dashboards reach a district's aggregator over WAN or 4G links, where the bytes are the cost. The JSON of
/// readings compresses about tenfold.
/// <para>
/// Should Kestrel itself serve HTTPS (the service listens on <c>Aggregator:HttpUrls</c>, plain HTTP behind a TLS proxy
/// by default), nothing is compressed over TLS: answers that carry a secret (an enrolment's gateway password, a new
/// API key) would give a compression side channel (BREACH) something to recover. Server-Sent Events
/// (<c>text/event-stream</c>) are never compressed: the compressor would hold events back.
/// </para>
/// </remarks>
public static class ApiResponseCompression
{
    /// <summary>
    /// The media types compressed: the middleware's defaults (JSON, plain text: /metrics, HTML: the dashboard) and
    /// CSV (history with <c>format=csv</c>) and problem details.
    /// </summary>
    public static readonly IReadOnlyList<string> MimeTypes =
        [.. ResponseCompressionDefaults.MimeTypes, "text/csv", "application/problem+json"];

    /// <summary>Registers the middleware's options and the two providers.</summary>
    public static IServiceCollection AddApiResponseCompression(this IServiceCollection services)
    {
        services.AddResponseCompression(o =>
        {
            o.EnableForHttps = false; // the default, said out loud: see the remarks
            o.Providers.Add<GzipCompressionProvider>();
            o.Providers.Add<BrotliCompressionProvider>();
            o.MimeTypes = MimeTypes;
        });
        services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        return services;
    }

    /// <summary>Adds the middleware. Call before the middleware that writes responses of its own (problem bodies).</summary>
    public static IApplicationBuilder UseApiResponseCompression(this IApplicationBuilder app) => app.UseResponseCompression();
}
