using IocEdge.Aggregator.Live;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// ASP.NET Core's output cache in front of <c>GET /api/v1/latest</c>: a page is rendered (and compressed) once per
/// version of its values and content coding, and later requests for that version get the stored bytes. The cache key holds the whole query string, the
/// client's <c>Accept-Encoding</c> and the page's entity tag (<see cref="ApiEndpoints.LatestTag"/>: the last-value
/// cache's epoch, the page's newest revision, its count), computed for every request before the lookup: a value stored
/// a moment ago changes the tag, so a request never gets a page older than the values it could read.
/// </summary>
/// <remarks>
/// <para>Why (issue 15, "latest for 1,000 channels &lt; 20 ms at 50 concurrent"; docs/BENCHMARKS.md "HTTP API latency",
/// wave 13): with an external client (wrk) the bare HTTP stack returns a 1,000-channel page at 50 concurrent in 2-3 ms
/// p99 gzip, the API took 20-24 ms: each request wrote 180 KB and compressed it. Dashboards poll the same pages.</para>
/// <para>A cached page lives at most <see cref="Lifetime"/>, so its <c>generated_at</c> is at most that much older than
/// the request (its values are the newest either way). Only 200 answers are kept, so a refusal (400, 404) is never
/// served from the cache; the middleware runs after authentication and authorization, so a request without a valid key
/// never reaches it. A poller's <c>If-None-Match</c> gets 304 from the cache too. Memory: at most
/// <see cref="SizeLimit"/> bytes of pages (the aggregator's memory budget, aggregator/README.md).</para>
/// <para>The cache's request locking (concurrent requests for a page being rendered wait for that rendering) is off:
/// waiting requests share the outcome of the one they wait for, and when that one failed (its client hung up and its
/// write was cancelled: injected in a test, the waiting request got a 500) they all failed. Without it, requests that
/// arrive while a new version is being rendered render it too, until one has stored it.</para>
/// </remarks>
public static class LatestOutputCache
{
    /// <summary>The policy's name, on the <c>latest</c> route.</summary>
    public const string PolicyName = "latest";

    /// <summary>How long a rendered page may be served for the same values: 1 s, so <c>generated_at</c> lags at most that.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    /// <summary>Bytes of cached pages at most (32 MiB: about 18 of the largest pages, 10,000 channels uncompressed).</summary>
    public const long SizeLimit = 32L * 1024 * 1024;

    /// <summary>Registers the output cache with the latest policy and its size limit.</summary>
    public static IServiceCollection AddLatestOutputCache(this IServiceCollection services)
    {
        // Before AddOutputCache, which adds its own memory store only when none is registered.
        services.AddSingleton<IOutputCacheStore, PageStore>();
        return services.AddOutputCache(o =>
        {
            o.SizeLimit = SizeLimit;
            o.MaximumBodySize = 4 * 1024 * 1024; // a page of 10,000 channels is about 1.7 MB
            o.DefaultExpirationTimeSpan = Lifetime;
            o.AddPolicy(PolicyName, new LatestPolicy());
        });
    }

    /// <summary>Adds the middleware: after authorization (a refused request never reaches it), before compression (it keeps the compressed bytes).</summary>
    public static IApplicationBuilder UseLatestOutputCache(this IApplicationBuilder app) => app.UseOutputCache();

    private sealed class LatestPolicy : IOutputCachePolicy
    {
        public ValueTask CacheRequestAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            var http = context.HttpContext;
            if (!(HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)) ||
                ApiEndpoints.LatestTagOf(http.Request, http.RequestServices.GetRequiredService<LiveFeed>(),
                    http.RequestServices.GetRequiredService<IOptions<AggregatorOptions>>().Value.Api) is not { } tag)
            {
                return ValueTask.CompletedTask; // not cached: the endpoint answers (or refuses) as usual
            }

            context.EnableOutputCaching = true;
            context.AllowCacheLookup = true;
            context.AllowCacheStorage = true;
            context.AllowLocking = false; // see the remarks: a waiter would share the failure of the request it waits for
            context.ResponseExpirationTimeSpan = Lifetime;
            context.CacheVaryByRules.QueryKeys = "*";
            context.CacheVaryByRules.HeaderNames = HeaderNames.AcceptEncoding;
            context.CacheVaryByRules.VaryByHost = false;
            context.CacheVaryByRules.VaryByValues["page"] = tag;
            return ValueTask.CompletedTask;
        }

        public ValueTask ServeFromCacheAsync(OutputCacheContext context, CancellationToken cancellation) => ValueTask.CompletedTask;

        public ValueTask ServeResponseAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            if (context.HttpContext.Response.StatusCode != StatusCodes.Status200OK)
            {
                context.AllowCacheStorage = false;
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// The cache's store: ASP.NET Core's memory store, except that an entry counts its key as well as its bytes against
    /// <see cref="SizeLimit"/>, and expired entries are swept every second instead of every minute.
    /// </summary>
    /// <remarks>
    /// The key holds the request's whole query and <c>Accept-Encoding</c> (kept as UTF-16 strings). The framework's store
    /// counts only the entry's bytes, so a client sending small pages with long, each different headers (or queries such as
    /// <c>limit=000…01</c>) made each 300-byte page keep up to 64 KB of key: 4,000 requests held 130 MB, and entries
    /// outlived their second until the minute's sweep (ApiTests, many distinct latest requests).
    /// </remarks>
    private sealed class PageStore : IOutputCacheStore, IDisposable
    {
        // What an entry costs beyond its key and bytes: the memory cache's entry, its options, the byte array's header.
        private const int EntryOverhead = 256;

        private readonly MemoryCache _cache = new(new MemoryCacheOptions
        {
            SizeLimit = SizeLimit,
            ExpirationScanFrequency = TimeSpan.FromSeconds(1),
        });

        public ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(_cache.Get<byte[]>(key));

        public ValueTask SetAsync(string key, byte[] value, string[]? tags, TimeSpan validFor, CancellationToken cancellationToken)
        {
            _cache.Set(key, value, new MemoryCacheEntryOptions
            {
                AbsoluteExpirationRelativeToNow = validFor,
                Size = value.Length + (2L * key.Length) + EntryOverhead,
            });
            return ValueTask.CompletedTask;
        }

        // The latest policy sets no tags, so there is nothing to evict by tag.
        public ValueTask EvictByTagAsync(string tag, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose() => _cache.Dispose();
    }
}
