using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using IocEdge.Aggregator.Ingest;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "HTTP API v1": the OpenAPI document served and checked in, responses held to it, latest values from the
/// last-value cache (paged, filtered, never backwards), history (buckets, raw, CSV), RFC 9457 problems, O(1) /healthz.
/// Real aggregator, real embedded broker, a real MQTTnet client as gateway gw-api, real HTTP.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ApiTests() : AggregatorClientTests("aggregator-api", Gw)
{
    private const string Gw = "gw-api";

    /// <summary>Where the checked-in document lives, from the repository root.</summary>
    private const string CheckedIn = "aggregator/IocEdge.Aggregator/openapi.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private async Task<(HttpStatusCode Status, string? MediaType, JsonElement Body)> GetAsync(string path)
    {
        using var response = await Aggregator.Http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, doc.RootElement.Clone());
    }

    // GET path and assert an RFC 9457 problem of this status naming parameter, with exactly this detail; returns its body.
    private async Task<JsonElement> ProblemAsync(string path, HttpStatusCode expected, string parameter, string detail)
    {
        var (status, media, body) = await GetAsync(path);
        Assert.Equal(expected, status);
        Assert.Equal("application/problem+json", media);
        Assert.Equal(parameter, body.GetProperty("parameter").GetString());
        Assert.Equal(detail, body.GetProperty("detail").GetString());
        return body;
    }

    [Fact]
    public async Task The_served_OpenAPI_document_is_the_one_checked_into_the_repository()
    {
        // Issue 15: "an OpenAPI 3.1 document served and checked into the repo".
        var served = await Aggregator.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        using var doc = JsonDocument.Parse(served);
        Assert.StartsWith("3.1", doc.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var pretty = JsonSerializer.Serialize(doc.RootElement, Indented) + "\n";
        var path = Path.Combine(RepositoryRoot.Path, CheckedIn);
        if (Environment.GetEnvironmentVariable("IOCEDGE_WRITE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(path, pretty);
        }

        Assert.True(File.Exists(path), $"{CheckedIn} is missing: {Regenerate}");
        Assert.True(pretty == (await File.ReadAllTextAsync(path)).ReplaceLineEndings("\n"),
            $"the served /openapi/v1.json differs from {CheckedIn}: the API changed. {Regenerate}");
    }

    private const string Regenerate = "Regenerate it with: IOCEDGE_WRITE_OPENAPI=1 dotnet test tests/IocEdge.Aggregator.Tests -c Release " +
        "--filter FullyQualifiedName~The_served_OpenAPI_document, then review and commit the diff.";

    [Fact]
    public async Task The_OpenAPI_document_describes_every_parameter_and_says_which_are_required_and_what_values_they_take()
    {
        var (_, _, doc) = await GetAsync("/openapi/v1.json");
        JsonElement Parameter(string path, string name) => doc.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

        foreach (var path in new[] { "/api/v1/latest", "/api/v1/channels", "/api/v1/readings", "/api/v1/history", "/api/v1/stream" })
        {
            foreach (var p in doc.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray())
            {
                Assert.True(p.TryGetProperty("description", out var d) && d.GetString()!.Length > 10, $"{path} {p.GetProperty("name")} has no description");
            }
        }

        foreach (var path in new[] { "/api/v1/readings", "/api/v1/history" })
        {
            Assert.True(Parameter(path, "gateway").GetProperty("required").GetBoolean(), path + " gateway");
            Assert.True(Parameter(path, "channel").GetProperty("required").GetBoolean(), path + " channel");
        }

        Assert.Equal(["avg", "min", "max", "last", "count"], Parameter("/api/v1/history", "agg").GetProperty("schema").GetProperty("enum")
            .EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["json", "csv"], Parameter("/api/v1/history", "format").GetProperty("schema").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("date-time", Parameter("/api/v1/history", "from").GetProperty("schema").GetProperty("format").GetString());
        Assert.Equal("date-time", Parameter("/api/v1/history", "to").GetProperty("schema").GetProperty("format").GetString());
    }

    [Fact]
    public async Task Real_responses_hold_to_the_OpenAPI_document()
    {
        await Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status(Gw)).WithRetainFlag()
            .WithPayload(Encoding.UTF8.GetBytes($$"""{"v":1,"gateway":"{{Gw}}","state":"online","ts":"2026-11-22T02:59:00.000Z","health":{"uptime_s":5,"clock":"synced"} }"""))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await PublishAsync(("env1/t", 1, Now.AddMinutes(-90), 20.5), ("env1/t", 2, Now.AddMinutes(-30), 21.5), ("env1/rh", 3, Now.AddMinutes(-1), 55));
        var (_, _, docBody) = await GetAsync("/openapi/v1.json");
        var contract = new OpenApiContract(docBody);

        var cases = new (string Path, string Url, int Status, string Media)[]
        {
            ("/api/v1/latest", "/api/v1/latest?limit=1", 200, "application/json"),
            ("/api/v1/latest", "/api/v1/latest?limit=0", 400, "application/problem+json"),
            ("/api/v1/latest", "/api/v1/latest?limit=abc", 400, "application/problem+json"),
            ("/api/v1/history", $"/api/v1/history?gateway={Gw}&channel=env1/t&limit=1.5", 400, "application/problem+json"),
            ("/api/v1/gateways", "/api/v1/gateways", 200, "application/json"),
            ("/api/v1/channels", "/api/v1/channels", 200, "application/json"),
            ("/api/v1/readings", $"/api/v1/readings?gateway={Gw}&channel=env1/t", 200, "application/json"),
            ("/api/v1/history", $"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T00:00:00Z&to=2026-11-22T03:00:00Z&step=1h&agg=max", 200, "application/json"),
            ("/api/v1/history", $"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T00:00:00Z&limit=1", 200, "application/json"),
            ("/api/v1/history", $"/api/v1/history?gateway={Gw}&channel=env1/t&step=banana", 400, "application/problem+json"),
            ("/healthz", "/healthz", 200, "application/json"),
        };
        foreach (var (path, url, status, media) in cases)
        {
            var (actual, mediaType, body) = await GetAsync(url);
            Assert.Equal((HttpStatusCode)status, actual);
            Assert.Equal(media, mediaType);
            if (status == 400)
            {
                // Every refusal names its parameter, a bad number as much as a number out of range.
                Assert.True(body.TryGetProperty("parameter", out _), $"GET {url}: no 'parameter' in {body}");
            }

            var errors = contract.Check(path, status, media, body);
            Assert.True(errors.Count == 0, $"GET {url} ({status}) does not match the document: {string.Join("; ", errors)}\n{body}");
        }
    }

    [Fact]
    public async Task Latest_is_paged_filtered_and_never_moves_back_nor_to_a_flagged_timestamp()
    {
        // 25 channels, then an older reading of c00 (a late resend) and one from a clock 10 minutes ahead (contract §4.3).
        await PublishAsync(Enumerable.Range(0, 25).Select(i => ($"env1/c{i:D2}", (long)i + 1, Now.AddSeconds(-60 + i), (double)i)).ToArray());
        await PublishAsync(("aq2/no2", 100, Now.AddSeconds(-5), 41));
        await PublishAsync(("env1/c00", 101, Now.AddSeconds(-3600), -1));
        await PublishAsync(("env1/c01", 102, Now.AddMinutes(10), 999));

        var channels = new List<string>();
        var url = $"/api/v1/latest?gateway={Gw}&channel=env1/&limit=10";
        var pages = 0;
        while (url is not null)
        {
            var page = await Aggregator.GetJsonAsync(url);
            channels.AddRange(page.GetProperty("readings").EnumerateArray().Select(r => r.GetProperty("channel").GetString()!));
            url = page.GetProperty("next").GetString()!;
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"env1/c{i:D2}"), channels); // ordered, each once, aq2/no2 filtered out
        var latest = await Aggregator.LatestAsync(Gw);
        Assert.Equal(26, latest.Count);
        Assert.Equal(0, latest["env1/c00"].Value); // not moved back to the older -1
        Assert.Equal(1, latest["env1/c01"].Value); // not moved to the future-stamped 999
        Assert.Equal(41, latest["aq2/no2"].Value);

        // A value read once (and so rendered into the cache's entry) is replaced by the next newer reading, not served
        // from the rendered bytes of the old one.
        await PublishAsync(("env1/c00", 103, Now.AddSeconds(1), 7.5));
        Assert.Equal(7.5, (await Aggregator.LatestAsync(Gw))["env1/c00"].Value);
    }

    // GET /api/v1/latest?{query} with If-None-Match: tag (when given): the status, the entity tag, Cache-Control and the body.
    private async Task<(HttpStatusCode Status, EntityTagHeaderValue? Tag, string? CacheControl, string Body)> ConditionalLatestAsync(
        string query, EntityTagHeaderValue? tag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/v1/latest?{query}", UriKind.Relative));
        if (tag is not null)
        {
            request.Headers.IfNoneMatch.Add(tag);
        }

        using var response = await Aggregator.Http.SendAsync(request);
        return (response.StatusCode, response.Headers.ETag, response.Headers.CacheControl?.ToString(), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Latest_answers_304_to_a_poller_while_none_of_its_pages_values_changed()
    {
        await PublishAsync(("env1/a", 1, Now.AddSeconds(-30), 1), ("env1/b", 2, Now.AddSeconds(-30), 2), ("aq2/no2", 3, Now.AddSeconds(-30), 3));
        var query = $"gateway={Gw}&channel=env1/";

        var (status, tag, cacheControl, body) = await ConditionalLatestAsync(query, null);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotNull(tag);
        Assert.True(tag.IsWeak, $"{tag} is a strong tag, but generated_at differs between two answers of the same values");
        Assert.Equal("no-cache", cacheControl); // a browser's cache asks again each time, with the tag
        Assert.Contains("\"env1/b\"", body, StringComparison.Ordinal);

        // Nothing changed: 304, no body, the same tag.
        (status, var again, _, body) = await ConditionalLatestAsync(query, tag);
        Assert.Equal(HttpStatusCode.NotModified, status);
        Assert.Equal(tag, again);
        Assert.Empty(body);

        // A new value of a channel outside the page (another prefix), and a late resend older than env1/a's value:
        // the page's values are unchanged, so still 304.
        await PublishAsync(("aq2/no2", 4, Now.AddSeconds(-10), 40), ("env1/a", 5, Now.AddSeconds(-3600), -1));
        Assert.Equal(HttpStatusCode.NotModified, (await ConditionalLatestAsync(query, tag)).Status);

        // A newer value of env1/a: 200, a new tag, the new value.
        await PublishAsync(("env1/a", 6, Now.AddSeconds(-5), 11));
        (status, var changed, _, body) = await ConditionalLatestAsync(query, tag);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEqual(tag, changed);
        Assert.Contains("\"value\":11", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotModified, (await ConditionalLatestAsync(query, changed)).Status);

        // A channel that joins the page: 200 again.
        await PublishAsync(("env1/c", 7, Now.AddSeconds(-5), 12));
        (status, _, _, body) = await ConditionalLatestAsync(query, changed);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"env1/c\"", body, StringComparison.Ordinal);

        // A tag from another instance of the cache (a restart): never a match, whatever its numbers.
        var foreign = new EntityTagHeaderValue(changed!.Tag.Replace(changed.Tag.Split('-')[0].TrimStart('"'), "0000000000000000", StringComparison.Ordinal), true);
        Assert.Equal(HttpStatusCode.OK, (await ConditionalLatestAsync(query, foreign)).Status);
    }

    [Fact]
    public async Task Latest_pages_are_rendered_once_per_version_of_their_values_and_a_stored_value_is_never_served_stale()
    {
        // Wave 13: a latest page is kept by the output cache per version of its values (its entity tag), per query and
        // per content coding. A repeat is served from the cache (it carries an Age); a value stored since is in the very
        // next answer; each coding is a page of its own with the same content; a refusal is never cached.
        await PublishAsync(("env1/a", 1, Now.AddSeconds(-30), 1), ("env1/b", 2, Now.AddSeconds(-30), 2));
        var url = new Uri($"/api/v1/latest?gateway={Gw}&channel=env1/", UriKind.Relative);
        async Task<(string Body, TimeSpan? Age)> GetLatestAsync(HttpClient client)
        {
            using var response = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadAsStringAsync(), response.Headers.Age);
        }

        var (first, age) = await GetLatestAsync(Aggregator.Http);
        Assert.Null(age);
        var (again, cachedAge) = await GetLatestAsync(Aggregator.Http);
        Assert.Equal(first, again);
        Assert.NotNull(cachedAge);

        await PublishAsync(("env1/a", 3, Now.AddSeconds(-5), 11));
        var (changed, changedAge) = await GetLatestAsync(Aggregator.Http);
        Assert.Null(changedAge);
        Assert.Contains("\"value\":11", changed, StringComparison.Ordinal);

        // gzip: its own entry (the identity page is not sent as gzip, nor the other way), the same content decoded.
        using var gzip = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.GZip }) { BaseAddress = Aggregator.Http.BaseAddress };
        gzip.DefaultRequestHeaders.AcceptEncoding.ParseAdd("gzip");
        Assert.Equal(changed, (await GetLatestAsync(gzip)).Body);
        Assert.NotNull((await GetLatestAsync(gzip)).Age);
        Assert.Equal(changed, (await GetLatestAsync(Aggregator.Http)).Body);

        // A misspelt parameter on the cached page's query is still refused, not answered from the cache.
        using var refused = await Aggregator.Http.GetAsync(new Uri($"/api/v1/latest?gateway={Gw}&channel=env1/&limt=5", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task A_client_that_hangs_up_mid_page_never_leaves_a_truncated_page_nor_an_error_for_the_others(string coding)
    {
        // The output cache keeps what the request that rendered a page wrote. A dashboard tab closed mid-download must not
        // leave half a page for the next poller, nor fail the requests for the same page made meanwhile (with the
        // cache's request locking they wait for the first one, and got its failure: a 500). Each round a new value (a
        // new page version) is fetched first by a client with a tiny receive window (the server is still writing when
        // it hangs up), then, while that one is in flight, by one that reads it all; then the first hangs up.
        foreach (var chunk in Enumerable.Range(0, 5000).Chunk(500))
        {
            await PublishAsync(chunk.Select(i => ($"bulk/c{i:D4}", (long)i + 1, Now.AddSeconds(-600), (double)i)).ToArray());
        }

        var url = new Uri($"/api/v1/latest?gateway={Gw}&channel=bulk/&limit=5000", UriKind.Relative);
        // Both clients send the same Accept-Encoding (none, or exactly "gzip"): the same cache entry.
        using var client = new HttpClient(new SocketsHttpHandler
        {
            AutomaticDecompression = coding == "gzip" ? DecompressionMethods.GZip : DecompressionMethods.None,
        }) { BaseAddress = Aggregator.Http.BaseAddress };
        for (var round = 0; round < 10; round++)
        {
            await PublishAsync(($"bulk/c{round:D4}", 10_000 + round, Now.AddSeconds(-60 + round), -round));
            Task<string> reader;
            using (var quitter = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (context, cancel) =>
                {
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 2048 };
                    await socket.ConnectAsync(context.DnsEndPoint, cancel);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                },
            }) { BaseAddress = Aggregator.Http.BaseAddress })
            {
                if (coding != "identity")
                {
                    quitter.DefaultRequestHeaders.AcceptEncoding.ParseAdd(coding);
                }

                using var hungUp = await quitter.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
                reader = client.GetStringAsync(url);
                await Task.Delay(100);
            }

            using var page = JsonDocument.Parse(await reader);
            Assert.Equal(5000, page.RootElement.GetProperty("readings").GetArrayLength());
            using var next = JsonDocument.Parse(await client.GetStringAsync(url));
            Assert.Equal(5000, next.RootElement.GetProperty("readings").GetArrayLength());
        }
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task Json_and_csv_answers_are_compressed_for_a_client_that_accepts_it_and_the_stream_never_is(string coding)
    {
        await PublishAsync(Enumerable.Range(0, 200).Select(i => ($"env1/c{i:D3}", (long)i + 1, Now.AddSeconds(-300 + i), i * 0.25)).ToArray());
        using var raw = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
            { BaseAddress = Aggregator.Http.BaseAddress };
        raw.DefaultRequestHeaders.AcceptEncoding.ParseAdd(coding);

        foreach (var path in new[] { $"/api/v1/latest?gateway={Gw}", $"/api/v1/history?gateway={Gw}&channel=env1/c007&from=2026-11-22T00:00:00Z&format=csv" })
        {
            var identity = await Aggregator.Http.GetByteArrayAsync(new Uri(path, UriKind.Relative));
            using var response = await raw.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal([coding], response.Content.Headers.ContentEncoding);
            Assert.Contains("Accept-Encoding", response.Headers.Vary);
            var wire = await response.Content.ReadAsByteArrayAsync();
            await using var decoder = coding == "gzip"
                ? (Stream)new System.IO.Compression.GZipStream(new MemoryStream(wire), System.IO.Compression.CompressionMode.Decompress)
                : new System.IO.Compression.BrotliStream(new MemoryStream(wire), System.IO.Compression.CompressionMode.Decompress);
            using var text = new StreamReader(decoder);
            var decoded = await text.ReadToEndAsync();
            // The same content (latest's generated_at is the only part that may differ between two requests).
            Assert.Equal(Regex.Replace(Encoding.UTF8.GetString(identity), "\"generated_at\":\"[^\"]*\"", ""),
                Regex.Replace(decoded, "\"generated_at\":\"[^\"]*\"", ""));
            if (path.Contains("latest", StringComparison.Ordinal))
            {
                Assert.True(wire.Length * 4 < identity.Length, $"{coding}: {wire.Length} bytes for {identity.Length}");
            }
        }

        // Server-Sent Events stay identity: a compressor would hold events back.
        using var stream = await raw.GetAsync(new Uri($"/api/v1/stream?gateway={Gw}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        Assert.All(stream.Content.Headers.ContentEncoding, e => Assert.Equal("identity", e)); // ASP.NET Core's SSE result says identity
    }

    [Fact]
    public async Task Latest_values_survive_a_restart_because_the_cache_is_seeded_from_the_store()
    {
        await PublishAsync(("env1/t", 1, Now.AddSeconds(-10), 23.25));
        Client.Dispose();
        await Aggregator.StopAsync();
        await Aggregator.StartAgainAsync();

        Assert.Equal(23.25, (await Aggregator.LatestAsync(Gw))["env1/t"].Value);
    }

    private async Task PublishTwoHoursAsync()
    {
        // One reading a minute from 01:00 to 02:59, values 0..119: the hour from 01:00 holds 0..59, from 02:00 60..119.
        var start = new DateTimeOffset(2026, 11, 22, 1, 0, 0, TimeSpan.Zero);
        await PublishAsync(Enumerable.Range(0, 120).Select(i => ("env1/t", (long)i + 1, start.AddMinutes(i), (double)i)).ToArray());
    }

    [Theory]
    [InlineData("avg", 29.5, 89.5)]
    [InlineData("min", 0, 60)]
    [InlineData("max", 59, 119)]
    [InlineData("last", 59, 119)]
    [InlineData("count", 60, 60)]
    public async Task History_reduces_each_bucket_with_the_aggregate_asked(string agg, double first, double second)
    {
        await PublishTwoHoursAsync();

        var h = await Aggregator.GetJsonAsync($"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T00:00:00Z&to=2026-11-22T03:00:00Z&step=1h&agg={agg}");

        var points = h.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, points.Count); // the empty hour from 00:00 is not returned
        Assert.Equal(new DateTime(2026, 11, 22, 1, 0, 0, DateTimeKind.Utc), points[0].GetProperty("ts").GetDateTime());
        Assert.Equal(first, points[0].GetProperty("value").GetDouble());
        Assert.Equal(second, points[1].GetProperty("value").GetDouble());
        Assert.Equal(3600, h.GetProperty("step_s").GetInt64());
    }

    [Fact]
    public async Task A_history_answer_has_only_the_properties_of_its_mode()
    {
        await PublishTwoHoursAsync();

        var buckets = await Aggregator.GetJsonAsync($"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T01:00:00Z&to=2026-11-22T03:00:00Z&step=1h");
        var raw = await Aggregator.GetJsonAsync($"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T01:00:00Z&to=2026-11-22T01:10:00Z");

        string[] common = ["generated_at", "gateway", "channel", "from", "to"];
        Assert.Equal([.. common, "step_s", "agg", "points"], buckets.EnumerateObject().Select(p => p.Name));
        Assert.Equal([.. common, "readings", "next"], raw.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, raw.GetProperty("next").ValueKind); // the last page: paging applies, nothing follows
    }

    [Fact]
    public async Task Raw_history_is_keyset_paged_and_comes_as_CSV_for_spreadsheets()
    {
        await PublishTwoHoursAsync();

        var values = new List<double>();
        var url = $"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T01:30:00Z&to=2026-11-22T02:30:00Z&limit=25";
        var pages = 0;
        while (url is not null)
        {
            var page = await Aggregator.GetJsonAsync(url);
            values.AddRange(page.GetProperty("readings").EnumerateArray().Select(r => r.GetProperty("value").GetDouble()));
            url = page.GetProperty("next").GetString()!;
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(30, 60).Select(i => (double)i), values);

        using var csvByFormat = await Aggregator.Http.GetAsync(new Uri(
            $"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T01:00:00Z&to=2026-11-22T03:00:00Z&step=1h&format=csv", UriKind.Relative));
        Assert.Equal("text/csv", csvByFormat.Content.Headers.ContentType?.MediaType);
        Assert.Equal("ts,value,count\r\n2026-11-22T01:00:00.000Z,29.5,60\r\n2026-11-22T02:00:00.000Z,89.5,60\r\n",
            await csvByFormat.Content.ReadAsStringAsync());

        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"/api/v1/history?gateway={Gw}&channel=env1/t&from=2026-11-22T01:00:00Z&to=2026-11-22T01:02:00Z");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var csvByAccept = await Aggregator.Http.SendAsync(request);
        var lines = (await csvByAccept.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("ts,value,unit,quality,ts_status,seq,received_at", lines[0]);
        Assert.Equal("2026-11-22T01:01:00.000Z,1,degC,good,ok,2,2026-11-22T03:00:00.000Z", lines[2]);
        Assert.Equal(3, lines.Length);
    }

    [Theory]
    [InlineData("channel=env1/t", "gateway")]
    [InlineData("gateway=GW!&channel=env1/t", "gateway")]
    [InlineData("gateway=gw-api", "channel")]
    [InlineData("gateway=gw-api&channel=env1/t&from=yesterday", "from")]
    [InlineData("gateway=gw-api&channel=env1/t&from=2026-11-22T03:00:00Z&to=2026-11-22T01:00:00Z", "from")]
    [InlineData("gateway=gw-api&channel=env1/t&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&step=1d", "to")]
    [InlineData("gateway=gw-api&channel=env1/t&step=0", "step")]
    [InlineData("gateway=gw-api&channel=env1/t&from=2026-01-01T00:00:00Z&to=2026-11-01T00:00:00Z&step=1m", "step")]
    [InlineData("gateway=gw-api&channel=env1/t&step=1h&agg=median", "agg")]
    [InlineData("gateway=gw-api&channel=env1/t&agg=max", "agg")]
    [InlineData("gateway=gw-api&channel=env1/t&limit=10001", "limit")]
    [InlineData("gateway=gw-api&channel=env1/t&cursor=nonsense", "cursor")]
    [InlineData("gateway=gw-api&channel=env1/t&format=xlsx", "format")]
    public async Task A_bad_history_parameter_gets_an_RFC_9457_problem_naming_it(string query, string parameter)
    {
        using var response = await Aggregator.Http.GetAsync(new Uri("/api/v1/history?" + query, UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(parameter, doc.RootElement.GetProperty("parameter").GetString());
        Assert.Equal(400, doc.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith(parameter + ":", doc.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/history?gatway=gw-api&channel=env1/t", "gatway", "this route takes gateway, channel, from, to, step, agg, limit, cursor, format.")]
    [InlineData("/api/v1/history?gateway=gw-api&channel=env1/t&step=1h&aggr=max", "aggr", "this route takes gateway, channel, from, to, step, agg, limit, cursor, format.")]
    [InlineData("/api/v1/latest?gateway=gw-api&limt=5", "limt", "this route takes gateway, channel, limit, cursor.")]
    [InlineData("/api/v1/readings?gateway=gw-api&chanel=env1/t", "chanel", "this route takes gateway, channel, limit.")]
    [InlineData("/api/v1/channels?gw=gw-api", "gw", "this route takes gateway.")]
    [InlineData("/api/v1/stream?gateway=gw-api&chanel=env1/", "chanel", "this route takes gateway, channel.")]
    [InlineData("/api/v1/gateways?gateway=gw-api", "gateway", "this route takes no query parameters.")]
    public async Task A_query_parameter_the_route_does_not_take_is_refused_naming_it_and_what_the_route_takes(string url, string parameter, string takes)
    {
        // A typo (gatway) used to be ignored: the answer was that of a request without a gateway.
        await PublishAsync(("env1/t", 1, Now.AddMinutes(-1), 20));

        await ProblemAsync(url, HttpStatusCode.BadRequest, parameter, $"{parameter}: unknown parameter '{parameter}': {takes}");
    }

    [Fact]
    public async Task Query_parameters_are_matched_like_ASP_NET_Core_binds_them_and_next_urls_are_accepted()
    {
        await PublishAsync(Enumerable.Range(0, 3).Select(i => ($"env1/c{i}", (long)i + 1, Now.AddSeconds(-10 + i), (double)i)).ToArray());

        // Names bind case-insensitively, so they are accepted case-insensitively; a next URL (cursor added) is taken.
        var page = await Aggregator.GetJsonAsync($"/api/v1/latest?Gateway={Gw}&LIMIT=2");
        Assert.Equal(2, page.GetProperty("readings").GetArrayLength());
        var last = await Aggregator.GetJsonAsync(page.GetProperty("next").GetString()!);
        Assert.Equal("env1/c2", Assert.Single(last.GetProperty("readings").EnumerateArray()).GetProperty("channel").GetString());
    }

    [Theory]
    [InlineData("/api/v1/latest?gateway=gw-typo", "gateway", "no gateway 'gw-typo' has sent data or is registered; GET /api/v1/gateways lists them.")]
    [InlineData("/api/v1/channels?gateway=gw-typo", "gateway", "no gateway 'gw-typo' has sent data or is registered; GET /api/v1/gateways lists them.")]
    [InlineData("/api/v1/history?gateway=gw-typo&channel=env1/pm2_5", "gateway", "no gateway 'gw-typo' has sent data or is registered; GET /api/v1/gateways lists them.")]
    [InlineData("/api/v1/readings?gateway=gw-typo&channel=env1/pm2_5", "gateway", "no gateway 'gw-typo' has sent data or is registered; GET /api/v1/gateways lists them.")]
    [InlineData("/api/v1/history?gateway=gw-api&channel=env1/pm25", "channel", "gateway 'gw-api' has no channel 'env1/pm25': did you mean 'env1/pm2_5'?")]
    [InlineData("/api/v1/readings?gateway=gw-api&channel=env1/pm25", "channel", "gateway 'gw-api' has no channel 'env1/pm25': did you mean 'env1/pm2_5'?")]
    [InlineData("/api/v1/history?gateway=gw-api&channel=env2/pm2_5&step=1h", "channel", "gateway 'gw-api' has no channel 'env2/pm2_5': did you mean 'env1/pm2_5'?")]
    [InlineData("/api/v1/readings?gateway=gw-api&channel=wx1/rain", "channel", "gateway 'gw-api' has no channel 'wx1/rain'; GET /api/v1/channels?gateway=gw-api lists them.")]
    public async Task A_gateway_or_channel_that_does_not_exist_is_a_404_naming_it_not_an_empty_answer(string url, string parameter, string detail)
    {
        await PublishAsync(("env1/pm2_5", 1, Now.AddMinutes(-1), 20), ("env1/t", 2, Now.AddMinutes(-1), 30));
        var (_, _, docBody) = await GetAsync("/openapi/v1.json");

        var body = await ProblemAsync(url, HttpStatusCode.NotFound, parameter, $"{parameter}: {detail}");

        var path = url[..url.IndexOf('?', StringComparison.Ordinal)];
        var errors = new OpenApiContract(docBody).Check(path, 404, "application/problem+json", body);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
    }

    [Fact]
    public async Task A_registered_gateway_without_data_and_a_known_one_answer_200_not_404()
    {
        await PublishAsync(("env1/t", 1, Now.AddMinutes(-1), 20));
        var registry = (IocEdge.Aggregator.Provisioning.GatewayRegistry)Aggregator.Services.GetService(typeof(IocEdge.Aggregator.Provisioning.GatewayRegistry))!;
        registry.Reported("gw-new", new IocEdge.Aggregator.Provisioning.ConfigReport(1, "applied", null, Now));

        Assert.Equal(0, (await Aggregator.GetJsonAsync("/api/v1/latest?gateway=gw-new")).GetProperty("readings").GetArrayLength());
        Assert.Equal(0, (await Aggregator.GetJsonAsync("/api/v1/channels?gateway=gw-new")).GetProperty("channels").GetArrayLength());
        Assert.Equal(0, (await Aggregator.GetJsonAsync($"/api/v1/latest?gateway={Gw}&channel=aq9/")).GetProperty("readings").GetArrayLength());
        Assert.Equal(1, (await Aggregator.GetJsonAsync($"/api/v1/readings?gateway={Gw}&channel=env1/t")).GetProperty("readings").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/api/v1/readings?gateway=gw-new&channel=env1/t")).Status);
    }

    [Theory]
    [InlineData("from=2026-11-22T03:00:00Z&to=2026-11-22T01:00:00Z", "from", "from: from (2026-11-22T03:00:00Z) must be before to (2026-11-22T01:00:00Z).")]
    [InlineData("from=2026-11-22T10:00:00%2B07:00&to=2026-11-22T01:00:00Z", "from", "from: from (2026-11-22T03:00:00Z) must be before to (2026-11-22T01:00:00Z).")]
    [InlineData("to=tomorrow", "to", "to: 'tomorrow' is not a time: give RFC 3339 such as 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.")]
    [InlineData("from=yesterday", "from", "from: 'yesterday' is not a time: give RFC 3339 such as 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.")]
    [InlineData("from=2026-11-22T00:00:00", "from", "from: '2026-11-22T00:00:00' has no zone, so it could be UTC or local time: give a zone: 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.")]
    [InlineData("to=2026-11-22T00:00:00", "to", "to: '2026-11-22T00:00:00' has no zone, so it could be UTC or local time: give a zone: 2026-11-30T00:00:00Z or 2026-11-30T07:00:00+07:00.")]
    public async Task A_bad_time_gets_a_message_in_RFC_3339_naming_its_own_parameter(string query, string parameter, string detail)
    {
        await PublishAsync(("env1/t", 1, Now.AddMinutes(-1), 20));

        await ProblemAsync($"/api/v1/history?gateway={Gw}&channel=env1/t&{query}", HttpStatusCode.BadRequest, parameter, detail);
    }

    [Fact]
    public async Task A_time_in_Vietnam_s_zone_answers_as_its_UTC_equivalent_encoded_or_typed_with_a_bare_plus()
    {
        await PublishTwoHoursAsync();

        const string Utc = "from=2026-11-22T01:30:00Z&to=2026-11-22T02:30:00Z";
        const string Encoded = "from=2026-11-22T08:30:00%2B07:00&to=2026-11-22T09:30:00%2B07:00";
        const string Typed = "from=2026-11-22T08:30:00+07:00&to=2026-11-22T09:30:00+07:00"; // '+' arrives as a space
        var answers = new List<string>();
        foreach (var range in new[] { Utc, Encoded, Typed })
        {
            var (status, _, body) = await GetAsync($"/api/v1/history?gateway={Gw}&channel=env1/t&{range}");
            Assert.True(status == HttpStatusCode.OK, $"{range}: {status} {body}");
            Assert.Equal(60, body.GetProperty("readings").GetArrayLength());
            answers.Add($"{body.GetProperty("from")} {body.GetProperty("to")} {body.GetProperty("readings")}");
        }

        Assert.Equal(answers[0], answers[1]);
        Assert.Equal(answers[0], answers[2]);
    }

    [Fact]
    public async Task Healthz_answers_from_the_ingest_loop_and_is_503_once_it_has_stopped()
    {
        await PublishAsync(("env1/t", 1, Now, 1));
        var (status, _, body) = await GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Equal(0, body.GetProperty("last_commit_age_s").GetDouble()); // the fake clock has not moved since the commit

        Time.Advance(TimeSpan.FromSeconds(42));
        Assert.Equal(42, (await GetAsync("/healthz")).Body.GetProperty("last_commit_age_s").GetDouble());

        await Aggregator.Pipeline.StopAsync(CancellationToken.None);
        var (dead, _, why) = await GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, dead);
        Assert.Contains("ingest loop", why.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_come_from_meters_of_this_host_only()
    {
        await PublishAsync(("env1/t", 1, Now, 1), ("env1/rh", 2, Now, 50));
        await using var other = await TestAggregator.StartAsync(Path.Combine(Aggregator.DataDirectory, "other"));

        var mine = await Aggregator.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var theirs = await other.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(2, PrometheusText.Value(mine, "iocedge_ingest_stored_total"));
        Assert.Equal(1, PrometheusText.Value(mine, "iocedge_ingest_commits_total"));
        Assert.Equal(2, PrometheusText.Value(mine, "iocedge_api_latest_channels"));
        Assert.Contains(PrometheusText.Value(mine, "iocedge_store_unfolded_readings"), new double?[] { 2, 0 }); // 0 once the 10 s fold ran
        Assert.Equal(0, PrometheusText.Value(mine, "iocedge_store_backstop_folds_total"));
        Assert.Contains("iocedge_store_backstop_folds_total{otel_scope_name=\"IocEdge.Aggregator.Store\"}", mine, StringComparison.Ordinal);
        Assert.Equal(0, PrometheusText.Value(theirs, "iocedge_ingest_stored_total"));
        // The exporter's resource: the service's own name, not unknown_service:<process>.
        Assert.Contains("service_name=\"iocedge-aggregator\"", mine, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown_service", mine, StringComparison.Ordinal);
    }
}
