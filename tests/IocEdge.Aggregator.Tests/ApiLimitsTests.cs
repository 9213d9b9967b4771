using System.Net;
using System.Text.Json;
using IocEdge.Aggregator.Live;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15 leftover: the HTTP API's limits are options under <c>Aggregator:Api:*</c> (aggregator/README.md,
/// "Configuration"): a changed limit takes effect, and a value out of range stops the service at start with one line
/// naming the key (exit 78, sysexits.h EX_CONFIG).
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ApiLimitsTests
{
    private static void StoreChannels(string dataDirectory, int channels, DateTimeOffset ts)
    {
        using var store = new ReadingStore(Path.Combine(dataDirectory, "aggregator.db"), NullLogger<ReadingStore>.Instance);
        store.Store([new ReadingBatch("gw-lim", "s1", Enumerable.Range(0, channels).Select(i =>
            new SequencedReading(i + 1, new Reading($"env1/c{i:00}", ts.AddSeconds(i), i, "degC", Quality.Good))).ToArray())], ts.AddMinutes(1));
    }

    [Fact]
    public async Task Smaller_page_and_response_limits_cap_latest_readings_and_history_and_say_the_configured_bound()
    {
        using var dir = new TempDirectory("aggregator-limits");
        var ts = DateTimeOffset.UtcNow.AddHours(-1);
        StoreChannels(dir.Path, 5, ts);
        await using var aggregator = await TestAggregator.StartAsync(dir.Path, b => b.Configuration.AddInMemoryCollection([
            new("Aggregator:Api:DefaultPageSize", "2"),
            new("Aggregator:Api:MaxItemsPerResponse", "3"),
            new("Aggregator:Api:MaxHistoryRange", "2.00:00:00"),
        ]));

        // Latest: 2 a page by default (was 1000), and the next page goes on from there.
        var first = await aggregator.GetJsonAsync("/api/v1/latest");
        Assert.Equal(["env1/c00", "env1/c01"], first.GetProperty("readings").EnumerateArray().Select(r => r.GetProperty("channel").GetString()));
        var second = await aggregator.GetJsonAsync(first.GetProperty("next").GetString()!);
        Assert.Equal(["env1/c02", "env1/c03"], second.GetProperty("readings").EnumerateArray().Select(r => r.GetProperty("channel").GetString()));
        Assert.Equal(3, (await aggregator.GetJsonAsync("/api/v1/latest?limit=3")).GetProperty("readings").GetArrayLength());

        // Beyond MaxItemsPerResponse: 400 naming the parameter and the configured bound, on every route it caps.
        await AssertBadAsync(aggregator, "/api/v1/latest?limit=4", "limit", "give 1-3 (default 2)");
        await AssertBadAsync(aggregator, "/api/v1/readings?gateway=gw-lim&channel=env1/c00&limit=4", "limit", "give 1-3 (default 3)");
        var from = Z(ts.AddHours(-1));
        await AssertBadAsync(aggregator, $"/api/v1/history?gateway=gw-lim&channel=env1/c00&from={from}&to={Z(ts.AddHours(3))}&step=1h", "step", "the most is 3");
        await AssertBadAsync(aggregator, $"/api/v1/history?gateway=gw-lim&channel=env1/c00&from={Z(ts.AddDays(-3))}&to={Z(ts)}", "to", "the most is 2 days");
        // Within them, answers as before; raw history pages by the default page size.
        var raw = await aggregator.GetJsonAsync($"/api/v1/history?gateway=gw-lim&channel=env1/c00&from={from}&to={Z(ts.AddHours(1))}");
        Assert.Equal(1, raw.GetProperty("readings").GetArrayLength());
    }

    private static string Z(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task AssertBadAsync(TestAggregator aggregator, string path, string parameter, string detail)
    {
        using var response = await aggregator.Http.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode} {body}");
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(parameter, problem.RootElement.GetProperty("parameter").GetString());
        Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Smaller_stream_replay_and_client_queue_take_effect()
    {
        using var dir = new TempDirectory("livefeed-limits");
        using var store = new ReadingStore(Path.Combine(dir.Path, "a.db"), NullLogger<ReadingStore>.Instance);
        var feed = new LiveFeed(store, Options.Create(new AggregatorOptions { Api = { StreamReplayEvents = 1_024, StreamClientQueue = 16 } }),
            NullLogger<LiveFeed>.Instance);
        var now = new DateTimeOffset(2026, 11, 30, 3, 0, 0, TimeSpan.Zero);
        void Commit(long first, int count) => feed.Committed([new ReadingBatch("gw-l", "s1", Enumerable.Range(0, count).Select(i =>
            new SequencedReading(first + i, new Reading("env1/t", now.AddSeconds(first + i - 10_000), first + i, "degC", Quality.Good))).ToArray())],
            [new StoreResult(count, 0)], [], now);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using (var slow = feed.SubscribeAsync(null, null, null, cts.Token).GetAsyncEnumerator(cts.Token))
        {
            var subscribed = slow.MoveNextAsync();
            Commit(1, 1);
            Assert.True(await subscribed);
            Commit(2, 100); // 100 events for a queue of 16 (default 4096: none would be lost)
            Assert.Equal(100 - 16, feed.Dropped);
        }

        Commit(102, 2_000);
        // Id 5 is no longer among the last 1024 events (default 65536: it would be).
        await using var resumed = feed.SubscribeAsync(null, null, lastEventId: feed.IdBase + 5, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await resumed.MoveNextAsync());
        Assert.Equal("resync", resumed.Current.Type);
        Assert.Equal(feed.IdBase + 2_101 - 1_024 + 1, JsonDocument.Parse(resumed.Current.Data).RootElement.GetProperty("oldest_id").GetInt64());
    }

    [Theory]
    [InlineData("--Aggregator:Api:MaxItemsPerResponse=0", "Aggregator:Api:MaxItemsPerResponse", "use 1-1000000")]
    [InlineData("--Aggregator:Api:DefaultPageSize=-5", "Aggregator:Api:DefaultPageSize", "use 1 to Aggregator:Api:MaxItemsPerResponse (10000)")]
    [InlineData("--Aggregator:Api:MaxHistoryRange=00:00:00", "Aggregator:Api:MaxHistoryRange", "use 01:00:00 to 36500.00:00:00")]
    [InlineData("--Aggregator:Api:StreamReplayEvents=0", "Aggregator:Api:StreamReplayEvents", "use 1024-16777216")]
    [InlineData("--Aggregator:Api:StreamClientQueue=-1", "Aggregator:Api:StreamClientQueue", "use 16-1048576")]
    [InlineData("--Aggregator:Api:StreamClientQueue=many", "Aggregator:Api:StreamClientQueue", "not a whole number")]
    public async Task An_api_limit_out_of_range_is_one_line_naming_the_key_and_exit_78(string argument, string key, string expected)
    {
        using var dir = new TempDirectory("aggregator-limits-exe");
        var data = Path.Combine(dir.Path, "data");
        var (code, _, err) = await AggregatorExecutable.RunAsync([argument, .. AggregatorExecutable.OnLoopback(data)]);
        Assert.Equal(78, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(key, StringComparison.Ordinal));
        Assert.Contains($"configuration: {key} (command line)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data)); // nothing created
    }
}
