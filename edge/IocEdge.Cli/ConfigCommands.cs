using System.CommandLine;
using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;

namespace IocEdge.Cli;

/// <summary><c>iocedge config validate</c>: the gateway's own start-up check of its configuration, nothing opened.</summary>
internal static class ConfigCommands
{
    public static Command Build(CliConsole console)
    {
        var config = new Command("config", "the gateway configuration");
        var validate = new Command("validate", """
            Check a gateway configuration exactly as the gateway does at start-up: JSON syntax (with line and column),
            unknown or misspelt keys, value types, and every rule (profiles, points and units, unit ids, pins, ports).
            One line per problem, naming the key path. Opens no port, bus or file other than the configuration.

            Examples:
              iocedge config validate
              iocedge config validate --config ./gateway.json --json
            """);
        var file = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        validate.Add(file);
        validate.Add(json);
        validate.SetAction(parse => Validate(console, parse.GetValue(file)!, parse.GetValue(json)));
        config.Add(validate);
        return config;
    }

    private static int Validate(CliConsole console, string path, bool json)
    {
        var (options, problems) = GatewayConfig.TryLoad(path);
        if (json)
        {
            var doc = new JsonObject
            {
                ["file"] = path,
                ["valid"] = options is not null,
                ["problems"] = new JsonArray(problems.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()),
            };
            if (options is not null)
            {
                doc["gateway_id"] = options.Id;
                doc["channels"] = new JsonArray(GatewayConfig.Channels(options).Select(c => (JsonNode)JsonValue.Create(c)!).ToArray());
            }

            Json.Write(console, doc);
            return options is null ? ExitCodes.Config : ExitCodes.Ok;
        }

        if (options is null)
        {
            console.Fail($"{path}: the configuration is not valid ({problems.Count} problem(s)):");
            foreach (var problem in problems)
            {
                console.Error.WriteLine(problem);
            }

            return ExitCodes.Config;
        }

        var channels = GatewayConfig.Channels(options);
        console.Out.WriteLine($"OK {path}: gateway {options.Id}, {options.Modbus.Devices.Count} Modbus device(s), {options.Sensors.Count} sensor(s), {channels.Count} channel(s)");
        return ExitCodes.Ok;
    }
}

/// <summary>Loading the gateway's configuration for every verb that needs it.</summary>
internal static class GatewayConfig
{
    /// <summary>The options, or null and the problems (one line each; a missing file is one problem).</summary>
    public static (GatewayOptions? Options, IReadOnlyList<string> Problems) TryLoad(string path)
    {
        try
        {
            return (GatewayConfigurationFile.Load(path), []);
        }
        catch (FileNotFoundException ex)
        {
            return (null, [ex.Message]);
        }
        catch (GatewayConfigurationException ex)
        {
            return (null, ex.Problems);
        }
    }

    /// <summary>The options, or prints the problems and throws <see cref="ConfigExit"/> (exit 78).</summary>
    public static GatewayOptions LoadOrFail(CliConsole console, string path)
    {
        var (options, problems) = TryLoad(path);
        if (options is not null)
        {
            return options;
        }

        console.Fail($"{path}: the configuration is not valid (run `iocedge config validate --config {path}`):");
        foreach (var p in problems)
        {
            console.Error.WriteLine(p);
        }

        throw new ConfigExit();
    }

    /// <summary>Every channel id the configuration produces: "{device}/{point}" of each Modbus point, the GPIO inputs
    /// and counters, each sensor's quantities (as the gateway's sources name them).</summary>
    public static IReadOnlyList<string> Channels(GatewayOptions options)
    {
        var profiles = new ProfileSource();
        var list = new List<string>();
        var (catalog, _) = profiles.Load(options.ProfilesDirectory);
        foreach (var device in options.Modbus.Devices)
        {
            if (catalog is null)
            {
                continue;
            }

            var profile = catalog.Get(device.Profile);
            // Text points (serial numbers, firmware) are not readings: the gateway's Modbus source skips them too.
            var points = device.Points.Count > 0 ? device.Points.Select(p => profile.GetPoint(p.Name)) : profile.Points;
            list.AddRange(points.Where(p => p.Type != IocEdge.Protocols.Modbus.ModbusDataType.String).Select(p => $"{device.Id}/{p.Name}"));
        }

        list.AddRange(Sources.ChannelsOfNonModbus(options));
        return list;
    }
}

/// <summary>Thrown after the configuration problems were printed: the verb exits 78.</summary>
internal sealed class ConfigExit : Exception
{
    public ConfigExit()
        : base("configuration not valid")
    {
    }

    public ConfigExit(string message)
        : base(message)
    {
    }

    public ConfigExit(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
