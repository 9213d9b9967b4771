using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Provisioning;
using IocEdge.Aggregator.Security;
using IocEdge.Devices.Profiles;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Remote;
using IocEdge.Hardware.Simulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Testing;

/// <summary>
/// Issue 16, "Done when": a fresh gateway provisioned end to end against the real aggregator (its embedded broker) and a
/// real gateway host in-process (GatewayRunner, what iocedge-gateway runs), reading the station simulator over Modbus TCP:
/// token → credentials → config → first reading stored; then a remote configuration change applied and reported, a bad
/// one refused while the old one keeps running, and one that cuts the gateway off the aggregator rolled back (contract §9).
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ProvisioningTests : IAsyncLifetime
{
    private const string Gateway = "gw-prov";
    private readonly TempDirectory _dir = new("prov");
    private readonly FakeTimeProvider _stationClock = new(new DateTimeOffset(2026, 11, 30, 1, 0, 0, TimeSpan.Zero));
    // The enrolment service's clock (token expiry): moved by hand, so an expired token needs no sleep.
    private readonly FakeTimeProvider _tokenClock = new(DateTimeOffset.UtcNow);
    private StationSimulator _station = null!;
    private TestAggregator _aggregator = null!;
    private IocEdge.Aggregator.Tests.MetricRecorder _metrics = null!;

    public async Task InitializeAsync()
    {
        _station = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            // Two instruments on one line, unit ids 1 and 2 (env1, env2): a line's devices need distinct unit ids.
            Instruments = { new SimulatedInstrument(ProfileCatalog.LoadBuiltIn().Get("env-station"), 1), new SimulatedInstrument(ProfileCatalog.LoadBuiltIn().Get("env-station"), 2) },
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            Seed = 7,
        }, _stationClock);
        _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "aggregator"), b => b.Services.AddSingleton(sp => new EnrolmentService(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<IocEdge.Aggregator.AggregatorOptions>>(), sp.GetRequiredService<CredentialStore>(),
            sp.GetRequiredService<GatewayRegistry>(), _tokenClock, sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetService<IGatewayBrokerControl>())));
        _metrics = new IocEdge.Aggregator.Tests.MetricRecorder(_aggregator.Services.GetRequiredService<SecurityMetrics>().Meter);
        var key = _aggregator.Services.GetRequiredService<ApiKeyStore>().Create(ApiScopes.Admin, "test");
        _aggregator.Http.DefaultRequestHeaders.Add("X-Api-Key", key);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        await _aggregator.DisposeAsync();
        await _station.DisposeAsync();
        _dir.Dispose();
    }

    private JsonObject Channels(params string[] devices) => new()
    {
        ["Modbus"] = new JsonObject
        {
            ["Links"] = new JsonArray(new JsonObject { ["Id"] = "station", ["Transport"] = "Tcp", ["Host"] = "127.0.0.1", ["Port"] = _station.TcpEndPoint!.Port }),
            ["Devices"] = new JsonArray([.. devices.Select(d => (JsonNode)new JsonObject
            {
                ["Id"] = d, ["Link"] = "station", ["Profile"] = "env-station", ["UnitId"] = int.Parse(d[3..], System.Globalization.CultureInfo.InvariantCulture), ["PollPeriod"] = "00:00:00.2",
            })]),
        },
    };

    private async Task<JsonObject> PostAsync(string path, JsonObject body, HttpStatusCode expected)
    {
        using var response = await _aggregator.Http.PostAsync(new Uri(path, UriKind.Relative),
            new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return (JsonObject)JsonNode.Parse(text)!;
    }

    private async Task<long> PushAsync(JsonObject config)
    {
        using var response = await _aggregator.Http.PutAsync(new Uri($"/api/v1/admin/gateways/{Gateway}/config", UriKind.Relative),
            new StringContent(config.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        return (long)JsonNode.Parse(text)!["version"]!;
    }

    private async Task<JsonObject> ReportedAsync(long version, string result)
    {
        JsonObject? last = null;
        try
        {
            return await Eventually.Get(async () =>
            {
                last = (JsonObject)JsonNode.Parse(await _aggregator.Http.GetStringAsync(new Uri($"/api/v1/admin/gateways/{Gateway}/config", UriKind.Relative)))!;
                return last["reported"] is JsonObject r && (long)r["version"]! == version && (string)r["result"]! == result ? r : null;
            }, TimeSpan.FromSeconds(40), $"the gateway to report version {version} {result}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Last report: {last?["reported"]?.ToJsonString() ?? "none"}", ex);
        }
    }

    private async Task<long> StoredReadingsAsync()
    {
        var gateways = await _aggregator.GetJsonAsync("/api/v1/gateways");
        return gateways.GetProperty("gateways").EnumerateArray().Where(g => g.GetProperty("gateway").GetString() == Gateway)
            .Select(g => g.GetProperty("readings").GetInt64()).FirstOrDefault();
    }

    /// <summary>The gateway's <c>config</c> object in the public GET /api/v1/gateways (what an operator's dashboard reads).</summary>
    private async Task<(long? Applied, long? Reported, string? Result)> PublicConfigAsync()
    {
        var gateways = await _aggregator.GetJsonAsync("/api/v1/gateways");
        foreach (var g in gateways.GetProperty("gateways").EnumerateArray().Where(g => g.GetProperty("gateway").GetString() == Gateway))
        {
            if (g.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object)
            {
                static long? N(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
                return (N(c, "applied_version"), N(c, "reported_version"), c.TryGetProperty("result", out var r) ? r.GetString() : null);
            }
        }

        return (null, null, null);
    }

    [Fact]
    public async Task A_fresh_gateway_enrols_reads_takes_a_remote_change_refuses_a_bad_one_and_rolls_back_one_that_cuts_it_off()
    {
        // 1. The admin makes a one-time token carrying the initial configuration (one device, env1).
        var token = await PostAsync("/api/v1/admin/enrolment-tokens",
            new JsonObject { ["gateway_id"] = Gateway, ["expires_in_s"] = 600, ["config"] = Channels("env1") }, HttpStatusCode.Created);
        var tokenText = (string)token["token"]!;
        Assert.DoesNotContain(tokenText, await File.ReadAllTextAsync(Path.Combine(_aggregator.DataDirectory, "enrolment-tokens.json"))); // hashed at rest

        // 2. The gateway (the CLI on its behalf) presents it and gets its credentials, the broker and the configuration.
        using var enrolResponse = await _aggregator.Http.PostAsync(new Uri("/api/v1/enrol", UriKind.Relative),
            new StringContent(Provisioning.EnrolRequest(tokenText, Gateway), Encoding.UTF8, "application/json"));
        var grant = (JsonObject)JsonNode.Parse(await enrolResponse.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, enrolResponse.StatusCode);
        Assert.Equal(_aggregator.MqttPort, (int)grant["mqtt"]!["port"]!);
        Assert.Equal(1, (long)grant["config"]!["version"]!);
        Assert.NotNull(_aggregator.Services.GetRequiredService<CredentialStore>().Find(Gateway)); // a real MQTT account now: the broker requires passwords

        var configPath = _dir.File("gateway.json");
        await File.WriteAllTextAsync(configPath, $$"""
            { "Gateway": { "DataDirectory": "{{_dir.Path}}/gateway", "RemoteConfig": { "RollbackTimeout": "00:00:03" },
              "Mqtt": { "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:00.5", "Timeout": "00:00:02" } } }
            """);
        var provisioned = Provisioning.Apply(grant, configPath);
        Assert.Equal(1, provisioned.ConfigVersion);
        Assert.Empty(provisioned.ConfigProblems);

        // A used token is refused (one-time), and counted.
        await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = tokenText, ["gateway_id"] = Gateway }, HttpStatusCode.Forbidden);
        Assert.Equal(1, _aggregator.Services.GetRequiredService<EnrolmentService>().Refused);

        IHost? current = null;
        using var stop = new CancellationTokenSource();
        var run = GatewayRunner.RunAsync(["--config", configPath, "--Logging:LogLevel:Default=Warning"], null, h => Volatile.Write(ref current, h), stop.Token);
        try
        {
            // 3. First reading stored, from the configuration that came with the token.
            await Eventually.True(async () => (await _aggregator.LatestAsync(Gateway)).Keys.Any(k => k.StartsWith("env1/", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "a reading of env1 stored at the aggregator");
            await Eventually.True(async () => (await PublicConfigAsync()).Applied == 1, TimeSpan.FromSeconds(30),
                "the initial configuration (version 1) reported applied in GET /api/v1/gateways");

            // 4. A remote change (a second device) is applied, reported, and its channels arrive.
            var v2 = await PushAsync(Channels("env1", "env2"));
            Assert.Equal(2, v2);
            await ReportedAsync(v2, "applied");
            Assert.Equal((2, 2, "applied"), await PublicConfigAsync());
            await Eventually.True(async () => (await _aggregator.LatestAsync(Gateway)).Keys.Any(k => k.StartsWith("env2/", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "a reading of env2 (the new device) stored");

            // 5. A bad one (an unknown profile) is refused with the gateway's own reason; the old one keeps running.
            var bad = Channels("env1", "env2");
            bad["Modbus"]!["Devices"]![1]!["Profile"] = "no-such-profile";
            var v3 = await PushAsync(bad);
            var refused = await ReportedAsync(v3, "refused");
            Assert.Contains("no-such-profile", (string?)refused["reason"], StringComparison.Ordinal);
            Assert.Equal((2, 3, "refused"), await PublicConfigAsync()); // version 2 still runs
            var before = await StoredReadingsAsync();
            await Eventually.True(async () => await StoredReadingsAsync() > before + 10, TimeSpan.FromSeconds(20), "readings still flowing after the refusal");

            // 6. One that applies but cuts the gateway off (a port where nothing listens) is rolled back and reported.
            var cutOff = Channels("env1", "env2");
            cutOff["Mqtt"] = new JsonObject { ["Port"] = FreePort.Next() };
            var v4 = await PushAsync(cutOff);
            var rolledBack = await ReportedAsync(v4, "rolled_back");
            Assert.Contains("did not reach the aggregator", (string?)rolledBack["reason"], StringComparison.Ordinal);
            Assert.Equal((2, 4, "rolled_back"), await PublicConfigAsync());
            var afterRollback = await StoredReadingsAsync();
            await Eventually.True(async () => await StoredReadingsAsync() > afterRollback + 10, TimeSpan.FromSeconds(20), "readings flowing again after the rollback");

            // 7. Nothing buffered was lost through three restarts: every sequence number the outbox gave is stored once.
            // "Drained" is a moment (the gateway keeps sampling): every sequence numbered before the outbox was seen empty
            // was acknowledged, hence committed; each must be stored exactly once (count = distinct = contiguous).
            long highest = 0;
            await Eventually.True(() =>
            {
                var outbox = Volatile.Read(ref current)!.Services.GetRequiredService<SqliteOutbox>();
                highest = outbox.LastSequence;
                return outbox.Count == 0;
            }, TimeSpan.FromSeconds(30), "the outbox to drain");
            var stored = _aggregator.Store.Channels(Gateway).SelectMany(c => _aggregator.Store.History(Gateway, c.Channel))
                .Select(h => h.Sequence).Where(s => s <= highest).ToList();
            Assert.True(highest > 100, $"only {highest} readings taken through four configurations");
            Assert.Equal(stored.Count, stored.Distinct().Count());
            Assert.Equal(Enumerable.Range(1, (int)highest).Select(i => (long)i), stored.Order());
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    [Fact]
    public async Task Tokens_are_one_time_expire_and_revoked_or_rotated_gateways_lose_their_old_access()
    {
        var expired = await PostAsync("/api/v1/admin/enrolment-tokens", new JsonObject { ["gateway_id"] = "gw-late", ["expires_in_s"] = 60 }, HttpStatusCode.Created);
        _tokenClock.Advance(TimeSpan.FromSeconds(60)); // expiry is inclusive: at expires_at the token is already refused
        var refusal = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = expired["token"]!.DeepClone(), ["gateway_id"] = "gw-late" }, HttpStatusCode.Forbidden);
        Assert.Equal("expired", (string?)refusal["title"]);
        refusal = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = "iet_nonsense", ["gateway_id"] = "gw-late" }, HttpStatusCode.Forbidden);
        Assert.Equal("unknown", (string?)refusal["title"]);

        var token = await PostAsync("/api/v1/admin/enrolment-tokens", new JsonObject { ["gateway_id"] = "gw-a" }, HttpStatusCode.Created);
        refusal = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = token["token"]!.DeepClone(), ["gateway_id"] = "gw-b" }, HttpStatusCode.Forbidden);
        Assert.Equal("wrong_gateway", (string?)refusal["title"]);
        var grant = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = token["token"]!.DeepClone(), ["gateway_id"] = "gw-a" }, HttpStatusCode.OK);
        Assert.Equal(3, _aggregator.Services.GetRequiredService<EnrolmentService>().Refused);
        refusal = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = token["token"]!.DeepClone(), ["gateway_id"] = "gw-a" }, HttpStatusCode.Forbidden);
        Assert.Equal("used", (string?)refusal["title"]);
        foreach (var reason in (string[])["expired", "unknown", "wrong_gateway", "used"])
        {
            Assert.Equal(1, _metrics.Sum("iocedge.enrolment.refusals", "reason=" + reason));
        }

        Assert.Equal(1, _metrics.Sum("iocedge.enrolment.grants"));

        // Rotate: the new password works, the old one no longer does.
        var oldPassword = (string)grant["mqtt"]!["password"]!;
        var rotated = await PostAsync("/api/v1/admin/gateways/gw-a/rotate", [], HttpStatusCode.OK);
        Assert.NotEqual(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync("gw-a", oldPassword));
        using (var client = new MQTTnet.MqttClientFactory().CreateMqttClient())
        using (var doctor = new MQTTnet.MqttClientFactory().CreateMqttClient())
        {
            Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, (await client.ConnectAsync(Options("gw-a", (string)rotated["password"]!))).ResultCode);
            // iocedge doctor on the pole at the same moment, under the gateway's account (client id {id}.doctor).
            Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success,
                (await doctor.ConnectAsync(Options("gw-a", (string)rotated["password"]!, "gw-a.doctor"))).ResultCode);

            // Revoke: the connected gateway is disconnected, and it cannot connect again.
            var listed = (JsonObject)JsonNode.Parse(await _aggregator.Http.GetStringAsync(new Uri("/api/v1/admin/gateways", UriKind.Relative)))!;
            Assert.Contains(listed["gateways"]!.AsArray(), g => (string?)g!["gateway"] == "gw-a" && (bool?)g["connected"] == true && (string?)g["credential"] == "active");
            await PostAsync("/api/v1/admin/gateways/gw-a/revoke", [], HttpStatusCode.OK);
            await Eventually.True(() => Task.FromResult(!client.IsConnected && !doctor.IsConnected), TimeSpan.FromSeconds(10),
                "every session of the revoked gateway disconnected");
        }

        Assert.NotEqual(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync("gw-a", (string)rotated["password"]!));
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=revoked,stage=connect")); // refused as revoked, and counted
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=bad_credentials,stage=connect")); // the old password after rotation
        var after = (JsonObject)JsonNode.Parse(await _aggregator.Http.GetStringAsync(new Uri("/api/v1/admin/gateways", UriKind.Relative)))!;
        Assert.Contains(after["gateways"]!.AsArray(), g => (string?)g!["gateway"] == "gw-a" && (string?)g["credential"] == "revoked");
    }

    [Fact]
    public async Task An_offline_bundle_carries_the_credentials_for_a_pole_with_no_signal()
    {
        var bundle = await PostAsync("/api/v1/admin/enrolment-bundles", new JsonObject { ["gateway_id"] = "gw-pole", ["config"] = Channels("env1") }, HttpStatusCode.Created);
        var bundlePath = _dir.File("gw-pole.bundle.json");
        await File.WriteAllTextAsync(bundlePath, bundle.ToJsonString());
        var configPath = _dir.File("pole.json");
        await File.WriteAllTextAsync(configPath, $$"""{ "Gateway": { "DataDirectory": "{{_dir.Path}}/pole" } }""");

        Provisioning.ApplyBundle(bundlePath, configPath); // no network needed on the pole

        var applied = JsonNode.Parse(await File.ReadAllTextAsync(configPath))!["Gateway"]!;
        Assert.Equal("gw-pole", (string?)applied["Id"]);
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync("gw-pole", (string)applied["Mqtt"]!["Password"]!));
        Assert.Equal(1, new RemoteConfigFile(Path.Combine(_dir.Path, "pole")).Applied?.Version);
    }

    [Fact]
    public async Task The_aggregator_verbs_make_tokens_and_bundles_the_running_aggregator_honours()
    {
        // The administrator on the server, while the service runs (same data directory): token-add, then enrol over HTTP.
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection([new("Aggregator:DataDirectory", _aggregator.DataDirectory)]).Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, EnrolmentCommands.TryRun(["token-add", "gw-verb", "--expires=00:10:00"], configuration, output, error));
        var token = output.ToString().Split(' ').First(w => w.StartsWith(EnrolmentTokens.Prefix, StringComparison.Ordinal));
        Assert.Contains("--gateway-id gw-verb", output.ToString(), StringComparison.Ordinal);
        var grant = await PostAsync("/api/v1/enrol", new JsonObject { ["token"] = token, ["gateway_id"] = "gw-verb" }, HttpStatusCode.OK);

        // Revoked over the API (and refused as such), then enrolled again offline with bundle-export: the running
        // broker lets it in again.
        await PostAsync("/api/v1/admin/gateways/gw-verb/revoke", [], HttpStatusCode.OK);
        Assert.NotEqual(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync("gw-verb", (string)grant["mqtt"]!["password"]!));
        var bundlePath = _dir.File("gw-verb.bundle.json");
        Assert.Equal(0, EnrolmentCommands.TryRun(["bundle-export", "gw-verb", bundlePath, "--broker-host=127.0.0.1"], configuration, output, error));
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(bundlePath))!;
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync("gw-verb", (string)bundle["mqtt"]!["password"]!));

        Assert.Equal(64, EnrolmentCommands.TryRun(["token-add", "GW BAD"], configuration, output, error)); // EX_USAGE, one line
        Assert.Contains("is not a gateway id", error.ToString(), StringComparison.Ordinal);
    }

    private MQTTnet.MqttClientOptions Options(string id, string password, string? clientId = null) => new MQTTnet.MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId(clientId ?? id).WithCredentials(id, password)
        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(5)).Build();

    private async Task<MQTTnet.MqttClientConnectResultCode> ConnectAsync(string id, string password)
    {
        using var client = new MQTTnet.MqttClientFactory().CreateMqttClient();
        try
        {
            return (await client.ConnectAsync(Options(id, password))).ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException ex)
        {
            return ex.InnerException is null ? MQTTnet.MqttClientConnectResultCode.NotAuthorized : MQTTnet.MqttClientConnectResultCode.UnspecifiedError;
        }
    }
}
