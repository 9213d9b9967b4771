using IocEdge.Edge;
using IocEdge.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace IocEdge.Edge.Tests;

/// <summary>A technician's mistakes in gateway.json stop the service with the key and the fix, before any bus is opened.</summary>
[Trait(Traits.Category, Traits.Unit)]
public sealed class ConfigurationTests : IDisposable
{
    private readonly TempDirectory _dir = new("gwconfig");

    public void Dispose() => _dir.Dispose();

    private const string ValidDevices = """
        "Modbus": {
          "Links": [
            { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": 1502 },
            { "Id": "rs485-1", "Transport": "Rtu", "SerialPort": "/dev/ttyAMA0" }
          ],
          "Devices": [
            { "Id": "env1", "Link": "station", "Profile": "env-station", "UnitId": 1 },
            { "Id": "wx1", "Link": "rs485-1", "Profile": "weather-station", "UnitId": 1 }
          ]
        }
        """;

    private async Task<IReadOnlyList<string>> StartAndCollectErrorsAsync(string gatewayJson)
    {
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, gatewayJson);
        try
        {
            using var host = GatewayHost.Build(["--config", path]);
            await host.StartAsync();
            await host.StopAsync();
            return [];
        }
        catch (IocEdge.Edge.Configuration.GatewayConfigurationException ex)
        {
            // Each line is "FILE: KEY ..."; these tests look at the key and the message.
            Assert.All(ex.Problems, p => Assert.StartsWith(path + ": ", p, StringComparison.Ordinal));
            return ex.Problems.Select(p => p[(path.Length + 2)..]).ToList();
        }
    }

    private string Config(string body) => $$"""
        { "Gateway": { "Id": "gw-test", "DataDirectory": "{{_dir.Path}}/data", "Mqtt": { "Host": "127.0.0.1", "Port": 1 }, {{body}} } }
        """;

    [Fact]
    public async Task The_shipped_example_configuration_is_valid()
    {
        var example = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "gateway.example.json"));
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, example);
        using var host = GatewayHost.Build(["--config", path]);

        var options = host.Services.GetService(typeof(IOptions<IocEdge.Edge.Configuration.GatewayOptions>)) as IOptions<IocEdge.Edge.Configuration.GatewayOptions>;

        Assert.Equal(3, options!.Value.Modbus.Devices.Count); // binding + validation both pass
        Assert.Equal((3, 2, 3), (options.Value.Gpio.Inputs.Count, options.Value.Gpio.Counters.Count, options.Value.Sensors.Count));
    }

    [Fact]
    public async Task A_valid_configuration_starts()
    {
        Assert.Empty(await StartAndCollectErrorsAsync(Config(ValidDevices.Replace("\"Transport\": \"Rtu\", \"SerialPort\": \"/dev/ttyAMA0\"", "\"Transport\": \"Tcp\", \"Host\": \"127.0.0.1\", \"Port\": 1503", StringComparison.Ordinal))));
    }

    [Theory]
    [InlineData("\"Profile\": \"env-station\"", "\"Profile\": \"env-statoin\"", "Gateway:Modbus:Devices:0:Profile 'env-statoin' is not a known instrument profile")]
    [InlineData("\"Link\": \"station\"", "\"Link\": \"staton\"", "Gateway:Modbus:Devices:0:Link 'staton' names no link")]
    [InlineData("\"Id\": \"wx1\", \"Link\": \"rs485-1\", \"Profile\": \"weather-station\", \"UnitId\": 1", "\"Id\": \"wx1\", \"Link\": \"rs485-1\", \"Profile\": \"weather-station\", \"UnitId\": 0", "Gateway:Modbus:Devices:1:UnitId is 0: use 1-247 on a serial line")]
    [InlineData("\"Id\": \"wx1\"", "\"Id\": \"env1\"", "Gateway:Modbus:Devices:1:Id 'env1' is used by another device")]
    [InlineData("\"SerialPort\": \"/dev/ttyAMA0\"", "\"SerialPort\": \"\"", "Gateway:Modbus:Links:1:SerialPort is empty")]
    [InlineData("\"Host\": \"127.0.0.1\", \"Port\": 1502", "\"Host\": \"127.0.0.1\", \"Port\": 70000", "Gateway:Modbus:Links:0:Port is 70000")]
    public async Task A_bad_setting_is_refused_with_its_key_and_fix(string find, string replace, string expected)
    {
        var errors = await StartAndCollectErrorsAsync(Config(ValidDevices.Replace(find, replace, StringComparison.Ordinal)));

        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_unit_mismatch_names_the_profile_unit_and_a_likely_spelling()
    {
        var errors = await StartAndCollectErrorsAsync(Config(ValidDevices.Replace(
            "\"Profile\": \"env-station\", \"UnitId\": 1",
            "\"Profile\": \"env-station\", \"UnitId\": 1, \"Points\": [ { \"Name\": \"pm2_5\", \"Unit\": \"mg/m3\" }, { \"Name\": \"pm25\" } ]",
            StringComparison.Ordinal)));

        Assert.Contains(errors, e => e.StartsWith("Gateway:Modbus:Devices:0:Points:0:Unit is 'mg/m3' but profile 'env-station' reads pm2_5 in 'ug/m3'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Modbus:Devices:0:Points:1:Name 'pm25' is not a point of profile 'env-station'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_devices_with_one_unit_id_on_one_line_and_one_port_on_two_links_are_refused()
    {
        var body = """
            "Modbus": {
              "Links": [
                { "Id": "a", "Transport": "Rtu", "SerialPort": "/dev/ttyUSB0" },
                { "Id": "b", "Transport": "Rtu", "SerialPort": "/dev/ttyUSB0" }
              ],
              "Devices": [
                { "Id": "wx1", "Link": "a", "Profile": "weather-station", "UnitId": 3 },
                { "Id": "wq1", "Link": "a", "Profile": "water-sonde", "UnitId": 3 }
              ]
            }
            """;

        var errors = await StartAndCollectErrorsAsync(Config(body));

        Assert.Contains(errors, e => e.StartsWith("Gateway:Modbus:Links:1:SerialPort /dev/ttyUSB0 is already used by link 'a'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Modbus:Devices:1:UnitId 3 is already used on link 'a'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bad_gateway_id_is_refused_and_nothing_is_written_to_disk()
    {
        var errors = await StartAndCollectErrorsAsync(Config(ValidDevices).Replace("gw-test", "GW Test", StringComparison.Ordinal));

        Assert.Contains(errors, e => e.StartsWith("Gateway:Id 'GW Test' is not a gateway id", StringComparison.Ordinal));
        Assert.False(Directory.Exists(_dir.File("data")), "the service stopped before creating its outbox");
    }

    [Fact]
    public async Task A_misspelt_key_is_refused_rather_than_silently_ignored()
    {
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, Config(ValidDevices).Replace("\"Mqtt\"", "\"Mqqt\"", StringComparison.Ordinal));

        var ex = Assert.Throws<IocEdge.Edge.Configuration.GatewayConfigurationException>(() => GatewayHost.Build(["--config", path]));
        Assert.Equal($"{path}: Gateway:Mqqt is not a known key; did you mean Mqtt?", Assert.Single(ex.Problems));
    }

    [Fact]
    public void A_missing_configuration_file_says_how_to_get_one()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => GatewayHost.Build(["--config", _dir.File("nope.json")]));

        Assert.Contains("gateway.example.json", ex.Message, StringComparison.Ordinal);
    }
}
