using System.Net;
using IocEdge.Testing;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Runs alone (no other test class beside it): it measures this process's managed memory after a full collection, which
/// the aggregators of tests running in parallel would add to, and its 4,000 requests of 16 KB headers would slow their
/// timed start-ups (AggregatorSystemdTests' READY within 2 s failed once beside it).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone";
}

/// <summary>The output cache of latest pages within its documented memory bound, whatever keys clients make it hold.</summary>
[Collection(AloneCollection.Name)]
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class LatestCacheMemoryTests() : AggregatorClientTests("aggregator-cache-memory", Gw)
{
    private const string Gw = "gw-api";

    [Fact]
    public async Task Many_distinct_latest_requests_never_hold_more_memory_than_the_output_cache_bound()
    {
        // The output cache of latest pages is documented as 32 MiB at most. Its key holds the request's whole query and
        // Accept-Encoding, which the store did not count: only the page's bytes were. A client (a misbehaving dashboard,
        // a scanner) sending small pages with long, each different Accept-Encoding headers (or queries such as
        // limit=000…01) made the aggregator keep 32 KB of key per 300-byte page: 4,000 such requests held about
        // 130 MB, and a flood held gigabytes until the entries were swept (a minute later).
        await PublishAsync(("env1/a", 1, Now.AddSeconds(-30), 1));
        const int Requests = 4000;
        var padding = new string('a', 16 * 1024);
        using var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
            { BaseAddress = Aggregator.Http.BaseAddress };
        async Task FloodAsync(int from, int count)
        {
            for (var i = from; i < from + count; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/v1/latest?gateway={Gw}&limit=1", UriKind.Relative));
                request.Headers.TryAddWithoutValidation("Accept-Encoding", $"gzip, x-{i}-{padding}");
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await response.Content.ReadAsByteArrayAsync();
            }
        }

        await FloodAsync(0, 200); // warm-up: connections, buffers, JIT
        var before = GC.GetTotalMemory(forceFullCollection: true);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => FloodAsync(1000 + (t * Requests / 4), Requests / 4)));
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(held < 48L * 1024 * 1024, $"{Requests} distinct latest requests left {held / (1024 * 1024)} MB held (bound: 32 MiB of cached pages)");
    }
}
