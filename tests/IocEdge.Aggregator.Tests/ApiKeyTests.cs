using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using IocEdge.Aggregator.Security;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MQTTnet;

namespace IocEdge.Aggregator.Tests;

/// <summary>Issue 15, "Security": HTTP API keys with scopes read and admin, hashed at rest; 401 and 403 counted.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ApiKeyTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator-keys");
    private TestAggregator _aggregator = null!;
    private MetricRecorder _metrics = null!;
    private string _read = null!;
    private string _admin = null!;

    public async Task InitializeAsync()
    {
        var keys = new ApiKeyStore(Options.Create(new AggregatorOptions { DataDirectory = _dir.Path }));
        _read = keys.Create(ApiScopes.Read, "ioc");
        _admin = keys.Create(ApiScopes.Admin, "ops");
        _aggregator = await TestAggregator.StartAsync(_dir.Path);
        _metrics = new MetricRecorder(_aggregator.Services.GetRequiredService<SecurityMetrics>().Meter);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<HttpStatusCode> GetAsync(string path, string? key, bool bearer = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (key is not null)
        {
            if (bearer)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            else
            {
                request.Headers.Add("X-Api-Key", key);
            }
        }

        using var response = await _aggregator.Http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        using var response = await _aggregator.Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Without_a_key_the_api_answers_401_and_with_a_read_key_200_while_healthz_stays_open()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync("/api/v1/latest", null));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync("/api/v1/gateways", "iek_not-a-key"));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync("/metrics", null));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/v1/latest", _read));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/v1/gateways", _read, bearer: true));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/metrics", _read));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/v1/latest", _admin));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/healthz", null)); // liveness for systemd/load balancers

        Assert.Equal(2, _metrics.Sum("iocedge.http.refusals", "reason=no_key"));
        Assert.Equal(1, _metrics.Sum("iocedge.http.refusals", "reason=bad_key"));
        // Hashed at rest: the key file holds no key.
        var file = await File.ReadAllTextAsync(Path.Combine(_dir.Path, "api-keys.json"));
        Assert.DoesNotContain(_read, file, StringComparison.Ordinal);
        Assert.Contains(ApiKeyStore.HashOf(_read), file, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_latest_page_cached_for_a_keyed_request_is_never_served_without_a_valid_key()
    {
        // Wave 13: latest pages are kept by ASP.NET Core's output cache. It runs after authorization, so a page a read
        // key fetched (and the cache holds: the second answer carries an Age) is not what a request without a key gets.
        async Task<(HttpStatusCode Status, TimeSpan? Age)> LatestAsync(string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/latest", UriKind.Relative));
            if (key is not null)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            using var response = await _aggregator.Http.SendAsync(request);
            return (response.StatusCode, response.Headers.Age);
        }

        Assert.Equal(HttpStatusCode.OK, (await LatestAsync(_read)).Status);
        var cached = await LatestAsync(_read);
        Assert.Equal(HttpStatusCode.OK, cached.Status);
        Assert.NotNull(cached.Age);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LatestAsync(null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LatestAsync("iek_not-a-key")).Status);
    }

    [Fact]
    public async Task A_read_key_on_an_admin_route_is_403_and_an_admin_key_provisions_a_gateway_that_can_then_connect()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync("/api/v1/admin/gateways/gw-new/credentials", null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync("/api/v1/admin/gateways/gw-new/credentials", _read)).Status);
        Assert.Equal(1, _metrics.Sum("iocedge.http.refusals", "reason=scope"));

        var (status, body) = await PostAsync("/api/v1/admin/gateways/gw-new/credentials", _admin);
        Assert.Equal(HttpStatusCode.OK, status);
        var password = JsonDocument.Parse(body).RootElement.GetProperty("password").GetString();

        using var client = new MqttClientFactory().CreateMqttClient();
        var connected = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort)
            .WithClientId("gw-new").WithCredentials("gw-new", password).Build());
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
    }

    [Fact]
    public async Task An_admin_route_refuses_a_misspelt_parameter_with_an_admin_key_and_creates_nothing()
    {
        var keysBefore = await File.ReadAllTextAsync(Path.Combine(_dir.Path, "api-keys.json"));

        // "scop" for "scope": without the check the key would be made with the default scope, not the one meant.
        var (status, body) = await PostAsync("/api/v1/admin/api-keys?scop=admin&name=ioc", _admin);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal("scop", problem.GetProperty("parameter").GetString());
        Assert.Equal("scop: unknown parameter 'scop': this route takes scope, name.", problem.GetProperty("detail").GetString());
        Assert.Equal(keysBefore, await File.ReadAllTextAsync(Path.Combine(_dir.Path, "api-keys.json")));

        (status, body) = await PostAsync("/api/v1/admin/gateways/gw-x/revoke?now=1", _admin);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("now: unknown parameter 'now': this route takes no query parameters.",
            JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString());
    }
}

/// <summary>With no key at all (a first start, the demo), reads are open and admin routes are not.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ApiWithoutKeysTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator-nokeys");
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(_dir.Path);

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Reads_are_open_but_admin_routes_need_a_key()
    {
        using var latest = await _aggregator.Http.GetAsync(new Uri("/api/v1/latest", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, latest.StatusCode);
        using var admin = await _aggregator.Http.PostAsync(new Uri("/api/v1/admin/api-keys?scope=admin", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, admin.StatusCode);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "api-keys.json")));
    }
}
