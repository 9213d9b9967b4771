using System.Net;
using System.Text;
using System.Text.Json;
using IocEdge.Aggregator.Live;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "live push over Server-Sent Events": each committed reading and status change as an event with an
/// increasing id, resumable with Last-Event-ID, a resync event when the id is no longer kept. Real aggregator, real
/// MQTT client, real HTTP stream read line by line.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class StreamTests() : AggregatorClientTests("aggregator-sse", Gw)
{
    private const string Gw = "gw-sse";

    private async Task PublishAsync(long firstSeq, int count, string channel = "env1/t")
    {
        var batch = new ReadingBatch(Gw, "s1", Enumerable.Range(0, count).Select(i => new SequencedReading(firstSeq + i,
            new Reading(channel, Now.AddSeconds(-100 + firstSeq + i), firstSeq + i, "degC", Quality.Good))).ToArray());
        var result = await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Readings(Gw))
            .WithPayload(ReadingBatchJson.Encode(batch)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(result.IsSuccess, result.ReasonCode + " " + result.ReasonString);
    }

    [Fact]
    public async Task Each_committed_reading_and_status_is_pushed_once_with_increasing_ids()
    {
        await using var sse = await SseClient.OpenAsync(Aggregator.Http, $"/api/v1/stream?gateway={Gw}");
        Assert.Equal("open", (await sse.NextAsync()).Type);
        await Eventually.True(() => Aggregator.Live.Subscribers == 1, TimeSpan.FromSeconds(10), "the stream client subscribed");

        await PublishAsync(1, 3);
        await PublishAsync(1, 3); // a redelivery: stored once, announced once
        await PublishAsync(4, 1, "aq/no2");
        await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status(Gw)).WithRetainFlag()
            .WithPayload(Encoding.UTF8.GetBytes($$"""{"v":1,"gateway":"{{Gw}}","state":"online","ts":"2026-11-22T02:59:00.000Z"}"""))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        var events = new List<SseEvent>();
        for (var i = 0; i < 5; i++)
        {
            events.Add(await sse.NextAsync());
        }

        Assert.Equal(["reading", "reading", "reading", "reading", "status"], events.Select(e => e.Type));
        Assert.Equal([1L, 2L, 3L, 4L], events.Take(4).Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("seq").GetInt64()));
        var ids = events.Select(e => long.Parse(e.Id!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal("online", JsonDocument.Parse(events[4].Data).RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_client_resumes_with_Last_Event_ID_and_gets_what_it_missed_filtered()
    {
        await PublishAsync(1, 2);
        await PublishAsync(3, 2, "aq/no2");
        await PublishAsync(5, 2);
        var lastSeen = Aggregator.Live.LastId - 4; // the client had the first two events (seq 1, 2)

        await using var sse = await SseClient.OpenAsync(Aggregator.Http, $"/api/v1/stream?gateway={Gw}&channel=env1/", lastSeen);
        Assert.Equal("open", (await sse.NextAsync()).Type);
        var missed = new[] { await sse.NextAsync(), await sse.NextAsync() };

        Assert.Equal([5L, 6L], missed.Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task An_id_the_stream_no_longer_holds_gets_a_resync_event()
    {
        await PublishAsync(1, 2);

        await using var sse = await SseClient.OpenAsync(Aggregator.Http, $"/api/v1/stream?gateway={Gw}", lastEventId: 1_000_000);
        Assert.Equal("open", (await sse.NextAsync()).Type);
        var resync = await sse.NextAsync();

        Assert.Equal("resync", resync.Type);
        Assert.Null(resync.Id);
        Assert.Equal(1_000_000, JsonDocument.Parse(resync.Data).RootElement.GetProperty("last_event_id").GetInt64());
    }

    [Fact]
    public async Task A_bad_Last_Event_ID_gets_a_problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stream");
        request.Headers.Add("Last-Event-ID", "yesterday");
        using var response = await Aggregator.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"parameter\":\"Last-Event-ID\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

/// <summary>The live feed on its own (no host): a slow subscriber, the ring's bound, the cache's rule.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class LiveFeedTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("livefeed");
    private readonly ReadingStore _store;
    private readonly LiveFeed _feed;

    public LiveFeedTests()
    {
        _store = new ReadingStore(Path.Combine(_dir.Path, "a.db"), NullLogger<ReadingStore>.Instance);
        _feed = new LiveFeed(_store, Options.Create(new AggregatorOptions()), NullLogger<LiveFeed>.Instance);
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private void Commit(long firstSeq, int count, string stream = "s1", int duplicates = 0, DateTimeOffset? ts = null)
    {
        var batch = new ReadingBatch("gw-l", stream, Enumerable.Range(0, count).Select(i => new SequencedReading(firstSeq + i,
            new Reading("env1/t", ts ?? Now.AddSeconds(firstSeq + i - 1_000_000), firstSeq + i, "degC", Quality.Good))).ToArray());
        _feed.Committed([batch], [new StoreResult(count - duplicates, duplicates)], [], Now);
    }

    [Fact]
    public async Task A_client_that_does_not_read_never_blocks_ingest_and_is_told_what_it_lost()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var slow = _feed.SubscribeAsync(null, null, null, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = slow.MoveNextAsync(); // subscribed; reads nothing more for now
        Commit(1, 1);
        Assert.True(await first);

        var started = System.Diagnostics.Stopwatch.StartNew();
        Commit(2, LiveFeed.ClientQueueCapacity + 500); // more than its queue holds, in one commit
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), "the commit waited for a slow client");

        Assert.Equal(500, _feed.Dropped);
        Assert.True(await slow.MoveNextAsync());
        Assert.Equal("dropped", slow.Current.Type);
        Assert.Equal(500, JsonDocument.Parse(slow.Current.Data).RootElement.GetProperty("dropped").GetInt64());
        Assert.True(await slow.MoveNextAsync());
        Assert.Equal("reading", slow.Current.Type); // and the stream goes on
    }

    [Fact]
    public async Task Ids_older_than_the_ring_get_a_resync_and_then_what_the_ring_still_holds()
    {
        Commit(1, LiveFeed.RingCapacity + 10);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var e = _feed.SubscribeAsync(null, null, lastEventId: _feed.IdBase + 5, cts.Token).GetAsyncEnumerator(cts.Token);

        Assert.True(await e.MoveNextAsync());
        Assert.Equal("resync", e.Current.Type);
        Assert.Equal(_feed.IdBase + 11, JsonDocument.Parse(e.Current.Data).RootElement.GetProperty("oldest_id").GetInt64());
        Assert.True(await e.MoveNextAsync());
        Assert.Equal(_feed.IdBase + 11, e.Current.Id);
    }

    // After a restart the ids go on above the last run's: a Last-Event-ID from before it, even one lower than the new
    // run's event count, gets a resync and then the new run's events from its first, never a silent gap.
    [Fact]
    public async Task An_id_from_before_a_restart_gets_a_resync_and_the_new_runs_events_from_the_first()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Now);
        var before = new LiveFeed(_store, Options.Create(new AggregatorOptions()), NullLogger<LiveFeed>.Instance, clock);
        before.Committed([new ReadingBatch("gw-l", "s1", Enumerable.Range(1, 600).Select(i => new SequencedReading(i,
            new Reading("env1/t", Now, i, "degC", Quality.Good))).ToArray())], [new StoreResult(600, 0)], [], Now);
        var lastBefore = before.LastId;
        clock.Advance(TimeSpan.FromSeconds(30)); // a restart
        var after = new LiveFeed(_store, Options.Create(new AggregatorOptions()), NullLogger<LiveFeed>.Instance, clock);
        after.Committed([new ReadingBatch("gw-l", "s1", Enumerable.Range(601, 900).Select(i => new SequencedReading(i,
            new Reading("env1/t", Now, i, "degC", Quality.Good))).ToArray())], [new StoreResult(900, 0)], [], Now);
        Assert.True(after.IdBase > lastBefore);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var e = after.SubscribeAsync(null, null, lastEventId: before.IdBase + 500, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await e.MoveNextAsync());
        Assert.Equal("resync", e.Current.Type);
        Assert.True(await e.MoveNextAsync());
        Assert.Equal(after.IdBase + 1, e.Current.Id);
        Assert.Equal(601, JsonDocument.Parse(e.Current.Data).RootElement.GetProperty("seq").GetInt64());
    }

    [Fact]
    public void A_partly_redelivered_batch_announces_only_its_new_readings_and_a_flagged_clock_never_reaches_latest()
    {
        Commit(1, 5);
        var before = _feed.LastId;
        Commit(3, 5, duplicates: 3); // seqs 3-5 stored before, 6-7 new
        Assert.Equal(before + 2, _feed.LastId);
        Assert.Equal(7, _feed.Cache.Get("gw-l", "env1/t")!.Sequence);

        Commit(8, 1, ts: Now.AddHours(1)); // a clock an hour ahead (contract §4.3)
        Assert.Equal(7, _feed.Cache.Get("gw-l", "env1/t")!.Sequence);
        Assert.Equal(before + 3, _feed.LastId); // still announced, with its ts_status
    }
}

internal sealed record SseEvent(string? Id, string Type, string Data);

/// <summary>A Server-Sent Events reader (the WHATWG event-stream format: id, event, data lines, blank line ends an event).</summary>
internal sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(20));

    private SseClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public static async Task<SseClient> OpenAsync(HttpClient http, string path, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new SseClient(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    public async Task<SseEvent> NextAsync()
    {
        string? id = null, type = "message";
        var data = new StringBuilder();
        while (true)
        {
            var line = await _reader.ReadLineAsync(_cts.Token) ?? throw new EndOfStreamException("the stream ended");
            if (line.Length == 0)
            {
                if (data.Length > 0 || id is not null)
                {
                    return new SseEvent(id, type, data.ToString());
                }

                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data.Append(data.Length > 0 ? "\n" : string.Empty).Append(value); break;
                default: break;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _cts.Cancel();
        _reader.Dispose();
        _response.Dispose();
        _cts.Dispose();
        return ValueTask.CompletedTask;
    }
}
