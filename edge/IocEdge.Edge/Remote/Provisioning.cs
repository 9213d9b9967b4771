using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;

namespace IocEdge.Edge.Remote;

/// <summary>
/// The gateway side of enrolment (issue 16), for <c>iocedge provision</c>: applies an enrolment answer or an offline
/// bundle (contract §9.3, the same JSON) to the gateway's configuration file and data directory.
/// </summary>
public static class Provisioning
{
    /// <summary>
    /// Writes the grant into <paramref name="configPath"/> (creating it if missing): <c>Gateway:Id</c> and
    /// <c>Gateway:Mqtt</c> Host, Port, Username, Password; keeps every other key. The initial configuration, if any,
    /// becomes the applied remote configuration (its version is not applied twice when the retained copy arrives).
    /// The file is written with mode 0600 (it holds the password).
    /// </summary>
    /// <exception cref="InvalidDataException">The grant lacks gateway or mqtt fields, or the file is not a JSON object.</exception>
    public static void Apply(JsonObject grant, string configPath)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var gatewayId = (string?)grant["gateway"];
        if (gatewayId is null || grant["mqtt"] is not JsonObject mqtt || (string?)mqtt["host"] is null || mqtt["port"] is null)
        {
            throw new InvalidDataException("not an enrolment answer or bundle: it needs gateway and mqtt {host, port, username, password} (contract §9.3).");
        }

        var document = File.Exists(configPath)
            ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new InvalidDataException($"{configPath} is not a JSON object.")
            : [];
        if (document[GatewayOptions.Section] is not JsonObject gateway)
        {
            gateway = [];
            document[GatewayOptions.Section] = gateway;
        }

        gateway["Id"] = gatewayId;
        if (gateway["Mqtt"] is not JsonObject localMqtt)
        {
            localMqtt = [];
            gateway["Mqtt"] = localMqtt;
        }

        localMqtt["Host"] = (string?)mqtt["host"];
        localMqtt["Port"] = (int)mqtt["port"]!;
        localMqtt["Username"] = (string?)mqtt["username"];
        localMqtt["Password"] = (string?)mqtt["password"];
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(configPath, options))
        {
            stream.Write(Json.Bytes(document, indented: true));
        }

        if (grant["config"] is JsonObject initial && initial["version"] is JsonValue v && v.TryGetValue<long>(out var version) &&
            initial["config"] is JsonObject config)
        {
            var dataDirectory = (string?)gateway["DataDirectory"] ?? new GatewayOptions().DataDirectory;
            var state = new RemoteConfigFile(dataDirectory) { Applied = (version, config), Pending = null };
            state.LastVersion = Math.Max(state.LastVersion, version);
            state.Save();
        }
    }

    /// <summary>Reads an offline bundle file and <see cref="Apply"/>s it.</summary>
    public static void ApplyBundle(string bundlePath, string configPath)
    {
        var node = JsonNode.Parse(File.ReadAllText(bundlePath)) as JsonObject;
        if ((string?)node?["kind"] != "iocedge-enrolment-bundle")
        {
            throw new InvalidDataException($"{bundlePath} is not an IocEdge enrolment bundle (made by iocedge-aggregator bundle-export).");
        }

        Apply(node!, configPath);
    }

    /// <summary>The body of <c>POST /api/v1/enrol</c>.</summary>
    public static string EnrolRequest(string token, string gatewayId, string? csrPem = null) =>
        new JsonObject { ["token"] = token, ["gateway_id"] = gatewayId, ["csr"] = csrPem }.ToJsonString();
}
