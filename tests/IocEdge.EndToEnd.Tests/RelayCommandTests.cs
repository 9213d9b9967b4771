using System.Device.Gpio;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;
using IocEdge.Edge.Remote;
using IocEdge.Edge.Sources;
using IocEdge.Hardware.SimulatedDevices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IocEdge.Testing;

/// <summary>
/// Issue 16, relays commandable "the same way" as configuration: an admin drives a gateway's relay through the
/// aggregator's API, the command crosses the real embedded broker on iocedge/v1/{id}/command (contract §10), the
/// gateway (in-process, what iocedge-gateway runs) drives the relay on the simulated GPIO chip and reports on
/// command/ack; when the aggregator goes away the relay returns to its safe state after the link loss timeout.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class RelayCommandTests : IAsyncLifetime
{
    private const string Gateway = "gw-relay";
    private const int CameraPin = 23;
    private readonly TempDirectory _dir = new("relay");
    private readonly SimulatedGpioDriver _chip = new(); // the chip's own clock; the gateway runs on real time here
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

    private sealed class Provider(SimulatedGpioDriver driver) : IGpioControllerProvider
    {
        public GpioController Open(int chip) => new(driver);
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> PostAsync(string path, JsonObject body)
    {
        using var response = await _aggregator.Http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private async Task<JsonObject?> ReportAsync(string output, string command)
    {
        var outputs = JsonNode.Parse(await _aggregator.Http.GetStringAsync(new Uri($"/api/v1/admin/gateways/{Gateway}/outputs", UriKind.Relative)))!["outputs"];
        return outputs?[output] is JsonObject r && (string?)r["command"] == command ? r : null;
    }

    [Fact]
    public async Task An_admin_drives_a_relay_through_the_aggregator_and_it_falls_back_to_safe_when_the_link_is_lost()
    {
        // Enrolled as a technician would (token → credentials), with a door input (a reading source) and a relay.
        var (_, token) = await PostAsync("/api/v1/admin/enrolment-tokens", new JsonObject { ["gateway_id"] = Gateway });
        using var enrol = await _aggregator.Http.PostAsync(new Uri("/api/v1/enrol", UriKind.Relative),
            new StringContent(Provisioning.EnrolRequest((string)token["token"]!, Gateway), Encoding.UTF8, "application/json"));
        var configPath = _dir.File("gateway.json");
        await File.WriteAllTextAsync(configPath, $$"""
            { "Gateway": { "DataDirectory": "{{_dir.Path}}/gateway",
              "Mqtt": { "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:00.5", "Timeout": "00:00:02" },
              "Gpio": { "Device": "pole", "Inputs": [ { "Id": "door", "Pin": 17 } ],
                        "Outputs": [ { "Id": "camera_power", "Pin": {{CameraPin}}, "ActiveLow": true } ],
                        "OutputLinkLossTimeout": "00:00:01" } } }
            """);
        Provisioning.Apply((JsonObject)JsonNode.Parse(await enrol.Content.ReadAsStringAsync())!, configPath);

        // Offline: refused at once (a command is not kept for later), and the relay was opened safe (active-low: HIGH).
        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync($"/api/v1/admin/gateways/{Gateway}/outputs/camera_power", new JsonObject { ["active"] = true })).Status);

        using var stop = new CancellationTokenSource();
        var run = GatewayRunner.RunAsync(["--config", configPath, "--Logging:LogLevel:Default=Warning"],
            b => b.Services.AddSingleton<IGpioControllerProvider>(new Provider(_chip)), null, stop.Token);
        try
        {
            await Eventually.True(async () => (await _aggregator.LatestAsync(Gateway)).ContainsKey("pole/door"), TimeSpan.FromSeconds(30), "the gateway online");
            Assert.Equal(PinValue.High, _chip.GetOutput(CameraPin));

            // Energise: the relay pin goes LOW (active-low board) and the gateway reports it done and active.
            (HttpStatusCode Status, JsonObject Body) sent = default;
            await Eventually.True(async () => (sent = await PostAsync($"/api/v1/admin/gateways/{Gateway}/outputs/camera_power", new JsonObject { ["active"] = true })).Status == HttpStatusCode.Accepted,
                TimeSpan.FromSeconds(10), "the command accepted (the gateway's subscription is in place)");
            var done = await Eventually.Get(() => ReportAsync("camera_power", (string)sent.Body!["command"]!), TimeSpan.FromSeconds(20), "the gateway's report");
            Assert.Equal("done", (string?)done["result"]);
            Assert.True((bool?)done["active"]);
            Assert.Equal(PinValue.Low, _chip.GetOutput(CameraPin));

            // An output the gateway does not have: refused by the gateway, with its reason, reported back.
            var siren = await PostAsync($"/api/v1/admin/gateways/{Gateway}/outputs/siren", new JsonObject { ["pulse_s"] = 5 });
            var refused = await Eventually.Get(() => ReportAsync("siren", (string)siren.Body["command"]!), TimeSpan.FromSeconds(20), "the refusal");
            Assert.Equal("refused", (string?)refused["result"]);
            Assert.Contains("camera_power", (string?)refused["reason"], StringComparison.Ordinal);

            // The aggregator goes away: after Gateway:Gpio:OutputLinkLossTimeout (1 s here) the relay is released.
            await _aggregator.StopAsync();
            await Eventually.True(() => _chip.GetOutput(CameraPin) == PinValue.High, TimeSpan.FromSeconds(20), "the relay back to its safe state");
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
