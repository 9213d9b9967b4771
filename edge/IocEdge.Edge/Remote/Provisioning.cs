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
    /// <param name="grant">The enrolment answer or bundle (contract §9.3).</param>
    /// <param name="configPath">The gateway's local configuration file (what <c>iocedge-gateway --config</c> reads).</param>
    /// <param name="time">Stamps the report of the initial configuration (default <see cref="TimeProvider.System"/>).</param>
    /// <returns>What was written: the gateway id, broker, the initial configuration's version and the problems the
    /// gateway's own check found in it (then it is not applied and is reported <c>refused</c> at the first connection;
    /// the credentials are written all the same, so the admin can push a corrected one).</returns>
    /// <param name="tls">The PEM files of a client certificate the aggregator issued (<c>iocedge provision --csr</c>), already
    /// written: <c>Gateway:Mqtt:Tls</c> is set to use them (Enabled, CaFile, CertificateFile, KeyFile) and
    /// <c>Gateway:Mqtt:Port</c> to the grant's <c>mqtt.tls_port</c>. Ignored (TLS left as it was) when the grant names no
    /// TLS port: the aggregator then has no TLS listener to use them on.</param>
    /// <exception cref="InvalidDataException">The grant lacks gateway or mqtt fields, or the file is not a JSON object.</exception>
    public static ProvisionResult Apply(JsonObject grant, string configPath, TimeProvider? time = null, ProvisionTlsFiles? tls = null)
    {
        time ??= TimeProvider.System;
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
        var tlsPort = mqtt["tls_port"] is JsonValue tp && tp.TryGetValue<int>(out var port) && port > 0 ? port : (int?)null;
        var tlsEnabled = false;
        if (tls is not null && tlsPort is { } p)
        {
            // Contract §9.3: tls_port is the aggregator's mutual-TLS listener; the certificate (CN = gateway id) replaces
            // the password there (kept for the clear-text listener and for `iocedge doctor` against it).
            localMqtt["Port"] = p;
            localMqtt["Tls"] = new JsonObject
            {
                ["Enabled"] = true,
                ["CaFile"] = Path.GetFullPath(tls.CaFile),
                ["CertificateFile"] = Path.GetFullPath(tls.CertificateFile),
                ["KeyFile"] = Path.GetFullPath(tls.KeyFile),
            };
            tlsEnabled = true;
        }
        else if (localMqtt["Tls"] is JsonObject oldTls)
        {
            oldTls["Enabled"] = false; // Port is the clear-text one now: an earlier TLS setting would point TLS at it
        }

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(configPath, options))
        {
            stream.Write(Json.Bytes(document, indented: true));
            stream.Flush(flushToDisk: true);
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode applies only to a new file: an existing one (the technician's, owner kept) is narrowed here.
            File.SetUnixFileMode(configPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        long? configVersion = null;
        IReadOnlyList<string> problems = [];
        if (grant["config"] is JsonObject initial && initial["version"] is JsonValue v && v.TryGetValue<long>(out var version) &&
            initial["config"] is JsonObject config)
        {
            configVersion = version;
            var dataDirectory = (string?)gateway["DataDirectory"] ?? new GatewayOptions().DataDirectory;
            Directory.CreateDirectory(dataDirectory);
            problems = RemoteConfigFile.Check(RemoteConfigFile.Merge(document, config), config, Path.Combine(dataDirectory, "gateway.candidate.json"));
            var state = new RemoteConfigFile(dataDirectory) { Pending = null };
            if (problems.Count == 0)
            {
                state.Applied = (version, config);
            }

            // Reported at the first connection (contract §9.2), so the aggregator shows which version the gateway runs.
            state.Report = new IocEdge.Protocols.Mqtt.ConfigAck(gatewayId, version,
                problems.Count == 0 ? IocEdge.Protocols.Mqtt.ConfigResults.Applied : IocEdge.Protocols.Mqtt.ConfigResults.Refused,
                problems.Count == 0 ? null : string.Join("; ", problems.Take(5)), time.GetUtcNow());
            state.LastVersion = Math.Max(state.LastVersion, version);
            state.Save();
        }

        return new ProvisionResult(gatewayId, (string)mqtt["host"]!, tlsEnabled ? tlsPort!.Value : (int)mqtt["port"]!, configVersion, problems)
        {
            TlsEnabled = tlsEnabled,
            TlsPort = tlsPort,
        };
    }

    /// <summary>Reads an offline bundle file and <see cref="Apply"/>s it.</summary>
    /// <exception cref="InvalidDataException">The file is not a bundle (its <c>kind</c> is not <c>iocedge-enrolment-bundle</c>) or not JSON.</exception>
    public static ProvisionResult ApplyBundle(string bundlePath, string configPath, TimeProvider? time = null)
    {
        JsonObject? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(bundlePath)) as JsonObject;
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"{bundlePath} is not JSON ({ex.Message}): it is not an IocEdge enrolment bundle.", ex);
        }

        if ((string?)node?["kind"] != "iocedge-enrolment-bundle")
        {
            throw new InvalidDataException($"{bundlePath} is not an IocEdge enrolment bundle (made by iocedge-aggregator bundle-export).");
        }

        return Apply(node!, configPath, time);
    }

    /// <summary>The body of <c>POST /api/v1/enrol</c>.</summary>
    public static string EnrolRequest(string token, string gatewayId, string? csrPem = null) =>
        new JsonObject { ["token"] = token, ["gateway_id"] = gatewayId, ["csr"] = csrPem }.ToJsonString();
}

/// <summary>What <see cref="Provisioning.Apply"/> wrote.</summary>
/// <param name="Gateway">The gateway id (contract §2).</param>
/// <param name="BrokerHost">The MQTT broker host written to <c>Gateway:Mqtt:Host</c>.</param>
/// <param name="BrokerPort">The MQTT broker port written to <c>Gateway:Mqtt:Port</c>.</param>
/// <param name="ConfigVersion">The initial configuration's version, or null when the admin attached none.</param>
/// <param name="ConfigProblems">What the gateway's own check found in the initial configuration (empty: applied).</param>
public sealed record ProvisionResult(string Gateway, string BrokerHost, int BrokerPort, long? ConfigVersion, IReadOnlyList<string> ConfigProblems)
{
    /// <summary><c>Gateway:Mqtt:Tls</c> was set to the issued certificate (and <see cref="BrokerPort"/> is the TLS port).</summary>
    public bool TlsEnabled { get; init; }

    /// <summary>The aggregator's mutual-TLS port from the grant (<c>mqtt.tls_port</c>), null when it has none.</summary>
    public int? TlsPort { get; init; }
}

/// <summary>The PEM files of an issued client certificate, for <see cref="Provisioning.Apply"/>.</summary>
/// <param name="CaFile">The aggregator's CA certificate (it signed the broker's and ours).</param>
/// <param name="CertificateFile">This gateway's client certificate (CN = gateway id).</param>
/// <param name="KeyFile">Its private key (mode 0600).</param>
public sealed record ProvisionTlsFiles(string CaFile, string CertificateFile, string KeyFile);
