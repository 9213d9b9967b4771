using System.Globalization;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>Gateway configuration files for the tests (link timeout 2 s, one retry: a loaded CI machine delays pymodbus by hundreds of ms): a water sonde (profile water-sonde, pH as float32 CDAB in input registers 0-1).</summary>
internal static class GatewayFixture
{
    /// <summary>pH 7.25 as float32 0x40E80000, low word first (CDAB, the profile's order).</summary>
    public static PyModbusUnit Sonde() => new() { InputRegisters = [0x0000, 0x40E8] };

    public static string Write(TempDirectory dir, int modbusPort, int mqttPort, string? username = null, string? password = null,
        IEnumerable<int>? units = null)
    {
        var devices = string.Join(",\n", (units ?? [1]).Select(u => string.Create(CultureInfo.InvariantCulture,
            $$"""{ "Id": "wq{{u}}", "Link": "tcp", "Profile": "water-sonde", "UnitId": {{u}}, "Points": [ { "Name": "ph" } ] }""")));
        var credentials = username is null ? string.Empty : $", \"Username\": \"{username}\", \"Password\": \"{password}\"";
        var path = dir.File("gateway.json");
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture, $$"""
            {
              "Gateway": {
                "Id": "gw-test-01",
                "DataDirectory": "{{dir.File("data")}}",
                "Mqtt": { "Host": "127.0.0.1", "Port": {{mqttPort}}, "Timeout": "00:00:03"{{credentials}} },
                "Modbus": {
                  "Links": [ { "Id": "tcp", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{modbusPort}}, "Timeout": "00:00:02", "Retries": 1 } ],
                  "Devices": [ {{devices}} ]
                }
              }
            }
            """));
        return path;
    }
}
