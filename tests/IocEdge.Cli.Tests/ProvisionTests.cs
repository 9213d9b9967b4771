using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16, `iocedge provision`: a technician enrols a gateway with a one-time token (online) or an offline bundle,
/// against the real aggregator (its HTTP API and embedded broker); the credentials written are the ones its broker
/// accepts; a used token is refused and nothing is overwritten.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class ProvisionTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("cli-provision");
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync()
    {
        _aggregator = await TestAggregator.StartAsync(Path.Combine(_dir.Path, "aggregator"));
        var key = _aggregator.Services.GetRequiredService<ApiKeyStore>().Create(ApiScopes.Admin, "test");
        _aggregator.Http.DefaultRequestHeaders.Add("X-Api-Key", key);
    }

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private static JsonObject InitialConfig() => new()
    {
        ["Modbus"] = new JsonObject
        {
            ["Links"] = new JsonArray(new JsonObject { ["Id"] = "station", ["Transport"] = "Tcp", ["Host"] = "127.0.0.1", ["Port"] = 1502 }),
            ["Devices"] = new JsonArray(new JsonObject { ["Id"] = "env1", ["Link"] = "station", ["Profile"] = "env-station", ["UnitId"] = 1 }),
        },
    };

    private async Task<JsonObject> AdminPostAsync(string path, JsonObject body)
    {
        using var response = await _aggregator.Http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return (JsonObject)JsonNode.Parse(text)!;
    }

    /// <summary>A gateway configuration file as a technician has it before enrolling: a data directory and nothing else.</summary>
    private string LocalConfig(string name)
    {
        var path = _dir.File(name + ".json");
        File.WriteAllText(path, $$"""{ "Gateway": { "DataDirectory": "{{_dir.Path}}/{{name}}-data" } }""");
        return path;
    }

    private static async Task<MQTTnet.MqttClientConnectResultCode> ConnectAsync(string configPath)
    {
        var mqtt = JsonNode.Parse(await File.ReadAllTextAsync(configPath))!["Gateway"]!;
        var options = new MQTTnet.MqttClientOptionsBuilder()
            .WithTcpServer((string)mqtt["Mqtt"]!["Host"]!, (int)mqtt["Mqtt"]!["Port"]!)
            .WithClientId((string)mqtt["Id"]!).WithCredentials((string)mqtt["Mqtt"]!["Username"]!, (string)mqtt["Mqtt"]!["Password"]!)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10)).Build();
        using var client = new MQTTnet.MqttClientFactory().CreateMqttClient();
        try
        {
            return (await client.ConnectAsync(options)).ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException)
        {
            return MQTTnet.MqttClientConnectResultCode.NotAuthorized;
        }
    }

    [Fact]
    public async Task Online_a_token_becomes_credentials_the_broker_accepts_and_a_used_token_is_refused_without_touching_the_file()
    {
        var token = (string)(await AdminPostAsync("/api/v1/admin/enrolment-tokens",
            new JsonObject { ["gateway_id"] = "gw-cli", ["config"] = InitialConfig() }))["token"]!;
        var config = LocalConfig("gw-cli");

        var run = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", "gw-cli", "--config", config, "--json");

        Assert.True(run.Exit == 0, run.ToString());
        using (var doc = JsonDocument.Parse(run.Out))
        {
            Assert.True(doc.RootElement.GetProperty("enrolled").GetBoolean());
            Assert.Equal(_aggregator.MqttPort, doc.RootElement.GetProperty("mqtt").GetProperty("port").GetInt32());
            Assert.Equal(1, doc.RootElement.GetProperty("config_version").GetInt64());
            Assert.Equal(0, doc.RootElement.GetProperty("config_problems").GetArrayLength());
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config)); // it holds the password
        }
        var written = JsonNode.Parse(await File.ReadAllTextAsync(config))!["Gateway"]!;
        Assert.Equal("gw-cli", (string?)written["Id"]);
        Assert.Equal($"{_dir.Path}/gw-cli-data", (string?)written["DataDirectory"]); // the technician's keys are kept
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync(config));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "gw-cli-data", "remote-config.json")), "the initial configuration is stored for the gateway");
        var validate = await Cli.RunAsync("config", "validate", "--config", config);
        Assert.True(validate.Exit == 0, validate.ToString());

        // The same token again: refused with the aggregator's reason, exit 1, and the file written above is left as it is.
        var before = await File.ReadAllTextAsync(config);
        var again = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", "gw-cli", "--config", config);
        Assert.True(again.Exit == ExitCodes.CheckFailed, again.ToString());
        Assert.Contains("403 used", again.Err, StringComparison.Ordinal);
        Assert.Contains("one-time", again.Err, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(config));
    }

    [Fact]
    public async Task Offline_a_bundle_enrols_a_pole_with_no_signal()
    {
        var bundle = await AdminPostAsync("/api/v1/admin/enrolment-bundles", new JsonObject { ["gateway_id"] = "gw-pole", ["config"] = InitialConfig() });
        var bundlePath = _dir.File("gw-pole.bundle.json");
        await File.WriteAllTextAsync(bundlePath, bundle.ToJsonString());
        var config = LocalConfig("gw-pole");

        var run = await Cli.RunAsync("provision", "--bundle", bundlePath, "--config", config); // no --aggregator: no network used

        Assert.True(run.Exit == 0, run.ToString());
        Assert.Contains("Enrolled gw-pole", run.Out, StringComparison.Ordinal);
        Assert.Contains("Initial configuration version 1 stored", run.Out, StringComparison.Ordinal);
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, await ConnectAsync(config));
    }

    [Fact]
    public async Task Mistakes_get_one_line_and_their_exit_code()
    {
        var config = LocalConfig("gw-x");
        var both = await Cli.RunAsync("provision", "--bundle", config, "--token", "iet_x", "--aggregator", _aggregator.Url, "--config", config);
        Assert.True(both.Exit == ExitCodes.Usage, both.ToString());

        var notBundle = await Cli.RunAsync("provision", "--bundle", config, "--config", config);
        Assert.True(notBundle.Exit == ExitCodes.Config, notBundle.ToString());
        Assert.Contains("not an IocEdge enrolment bundle", notBundle.Err, StringComparison.Ordinal);

        var unknown = await Cli.RunAsync("provision", "--token", "iet_nonsense", "--aggregator", _aggregator.Url, "--gateway-id", "gw-x", "--config", config, "--json");
        Assert.True(unknown.Exit == ExitCodes.CheckFailed, unknown.ToString());
        using (var doc = JsonDocument.Parse(unknown.Out))
        {
            Assert.Equal("unknown", doc.RootElement.GetProperty("reason").GetString());
        }

        // A configuration file that is not JSON is found before the token is spent (exit 78, nothing sent).
        var broken = _dir.File("broken.json");
        await File.WriteAllTextAsync(broken, "{ \"Gateway\": ");
        var token = (string)(await AdminPostAsync("/api/v1/admin/enrolment-tokens", new JsonObject { ["gateway_id"] = "gw-x" }))["token"]!;
        var bad = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", "gw-x", "--config", broken);
        Assert.True(bad.Exit == ExitCodes.Config, bad.ToString());
        var spent = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", "gw-x", "--config", config);
        Assert.True(spent.Exit == 0, spent.ToString()); // the token was still good

        var nobody = await Cli.RunAsync("provision", "--token", "iet_x", "--aggregator", $"http://127.0.0.1:{FreePort.Next()}", "--gateway-id", "gw-x", "--config", config);
        Assert.True(nobody.Exit == ExitCodes.Unavailable, nobody.ToString());
        Assert.Contains("cannot be reached", nobody.Err, StringComparison.Ordinal);

        var help = await Cli.RunAsync("provision", "--help");
        Assert.Contains("iocedge provision --bundle", help.Out, StringComparison.Ordinal);
    }
}
