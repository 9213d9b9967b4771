using System.Globalization;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>What the broker does for the registry and the configuration push: implemented by the embedded broker.</summary>
public interface IGatewayBrokerControl
{
    /// <summary>Client ids connected now.</summary>
    Task<IReadOnlyCollection<string>> ConnectedClientsAsync();

    /// <summary>Closes the connections of gateway <paramref name="clientId"/> (its own and its tools', <c>{id}.doctor</c>) if connected (a revoked or rotated gateway).</summary>
    Task DisconnectAsync(string clientId);

    /// <summary>Publishes from the server itself (QoS 1), bypassing the gateway ACL; <paramref name="payload"/> empty with retain clears a retained message.</summary>
    Task PublishAsync(string topic, byte[] payload, bool retain);
}

/// <summary>A gateway's credential state in the registry.</summary>
public static class CredentialStates
{
    /// <summary>It has an MQTT account and may connect.</summary>
    public const string Active = "active";

    /// <summary>Its account was revoked: CONNECTs with its id are refused (also in anonymous mode).</summary>
    public const string Revoked = "revoked";

    /// <summary>Known only from a pushed configuration: no account yet (enrol it, or <c>gateway-add</c>).</summary>
    public const string None = "none";
}

/// <summary>The last configuration outcome a gateway reported on <c>iocedge/v1/{id}/config/ack</c> (contract §9).</summary>
public sealed record ConfigReport(long Version, string Result, string? Reason, DateTimeOffset At);

/// <summary>One row of the registry.</summary>
public sealed record GatewayEntry(string Gateway, string Credential, DateTimeOffset? EnrolledAt, DateTimeOffset? RevokedAt,
    DateTimeOffset? RotatedAt, long? DesiredConfigVersion, ConfigReport? Reported);

/// <summary>
/// The gateway registry: which gateways exist (an MQTT gateway account in <see cref="CredentialStore"/>, or a revoked
/// one), when they were enrolled, revoked or rotated, and the configuration each was sent and reported. Kept in
/// <c>{DataDirectory}/gateway-registry.json</c>; desired configurations in <c>{DataDirectory}/gateway-configs/{id}.json</c>.
/// </summary>
public sealed class GatewayRegistry(string dataDirectory, CredentialStore credentials, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly string _path = Path.Combine(dataDirectory, "gateway-registry.json");
    private readonly string _configs = Path.Combine(dataDirectory, "gateway-configs");
    private HashSet<string>? _revoked;
    private DateTime _revokedStamp;

    /// <summary>
    /// True when <paramref name="gatewayId"/> was revoked and not enrolled again: the broker refuses its CONNECT. Cached,
    /// and read again when the file changed (the <c>bundle-export</c> verb, another process, may re-enrol a gateway).
    /// </summary>
    public bool IsRevoked(string gatewayId)
    {
        lock (_lock)
        {
            var stamp = File.Exists(_path) ? File.GetLastWriteTimeUtc(_path) : DateTime.MinValue;
            if (_revoked is null || stamp != _revokedStamp)
            {
                _revoked = [.. Entries(JsonFile.Read(_path)).Where(e => e.Value["revoked_at"] is not null).Select(e => e.Key)];
                _revokedStamp = stamp;
            }

            return _revoked.Contains(gatewayId);
        }
    }

    /// <summary>Every known gateway, ordered by id.</summary>
    public IReadOnlyList<GatewayEntry> List()
    {
        lock (_lock)
        {
            var file = JsonFile.Read(_path);
            var ids = new SortedSet<string>(StringComparer.Ordinal);
            ids.UnionWith(credentials.Accounts.Where(a => a.Role == MqttRole.Gateway).Select(a => a.UserName));
            ids.UnionWith(Entries(file).Select(e => e.Key));
            return [.. ids.Select(id => EntryOf(id, file))];
        }
    }

    /// <summary>The registry row of one gateway, or null when it is unknown.</summary>
    public GatewayEntry? Find(string gatewayId) => List().FirstOrDefault(e => e.Gateway == gatewayId);

    /// <summary>Records an enrolment (or re-enrolment: a revoked gateway becomes active again).</summary>
    internal void Enrolled(string gatewayId) => Update(gatewayId, g =>
    {
        g["enrolled_at"] = EnrolmentTokens.Stamp(time.GetUtcNow());
        g["revoked_at"] = null;
    });

    internal void Revoked(string gatewayId) => Update(gatewayId, g => g["revoked_at"] = EnrolmentTokens.Stamp(time.GetUtcNow()));

    internal void Rotated(string gatewayId) => Update(gatewayId, g => g["rotated_at"] = EnrolmentTokens.Stamp(time.GetUtcNow()));

    /// <summary>Records what a gateway reported about a configuration version.</summary>
    public void Reported(string gatewayId, ConfigReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        Update(gatewayId, g =>
        {
            g["config_report"] = new JsonObject
            {
                ["version"] = report.Version,
                ["result"] = report.Result,
                ["reason"] = report.Reason,
                ["at"] = EnrolmentTokens.Stamp(report.At),
            };
            if (report.Result == IocEdge.Protocols.Mqtt.ConfigResults.Applied)
            {
                g["applied_version"] = report.Version; // refused and rolled_back leave the running version as it was
            }
        });
    }

    /// <summary>Records a gateway's report on an output command (contract §10.2): the last one per output is kept.</summary>
    public void OutputReported(string gatewayId, IocEdge.Protocols.Mqtt.OutputAck ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        Update(gatewayId, g =>
        {
            if (g["outputs"] is not JsonObject outputs)
            {
                outputs = [];
                g["outputs"] = outputs;
            }

            outputs[ack.Output] = new JsonObject
            {
                ["command"] = ack.Id,
                ["result"] = ack.Result,
                ["reason"] = ack.Reason,
                ["active"] = ack.Active,
                ["at"] = EnrolmentTokens.Stamp(ack.Timestamp),
            };
        });
    }

    /// <summary>The last report of each output of <paramref name="gatewayId"/> (output id → report as stored), empty when none.</summary>
    public JsonObject Outputs(string gatewayId)
    {
        lock (_lock)
        {
            return ((JsonFile.Read(_path)["gateways"] as JsonObject)?[gatewayId] as JsonObject)?["outputs"]?.DeepClone() as JsonObject ?? [];
        }
    }

    /// <summary>
    /// The remote configuration state of <paramref name="gatewayId"/> for <c>GET /api/v1/gateways</c>: desired, applied
    /// and last reported version; null when nothing was ever pushed or reported.
    /// </summary>
    public Api.GatewayConfigDto? ConfigOf(string gatewayId)
    {
        if (!IocEdge.Protocols.Mqtt.Identifiers.IsValidGatewayId(gatewayId))
        {
            return null;
        }

        JsonObject? g;
        lock (_lock)
        {
            g = (JsonFile.Read(_path)["gateways"] as JsonObject)?[gatewayId] as JsonObject;
        }

        var desired = DesiredConfig(gatewayId)?.Version;
        var r = g?["config_report"] as JsonObject;
        if (desired is null && r is null)
        {
            return null;
        }

        return new Api.GatewayConfigDto(desired, (long?)g?["applied_version"], (long?)r?["version"], (string?)r?["result"], (string?)r?["reason"],
            Time(r?["at"])?.UtcDateTime);
    }

    /// <summary>The configuration last pushed to <paramref name="gatewayId"/> (version and document), or null.</summary>
    public (long Version, JsonObject Config)? DesiredConfig(string gatewayId)
    {
        var file = JsonFile.Read(ConfigPath(gatewayId));
        return file["version"] is { } v && file["config"] is JsonObject c ? ((long)v, (JsonObject)c.DeepClone()) : null;
    }

    /// <summary>Every gateway with a desired configuration (to publish them again after a broker restart).</summary>
    public IEnumerable<string> GatewaysWithConfig() =>
        Directory.Exists(_configs) ? Directory.EnumerateFiles(_configs, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>() : [];

    /// <summary>Stores <paramref name="config"/> as the next version (previous + 1, from 1) and returns that version.</summary>
    internal long StoreDesiredConfig(string gatewayId, JsonObject config)
    {
        lock (_lock)
        {
            var version = (DesiredConfig(gatewayId)?.Version ?? 0) + 1;
            JsonFile.Write(ConfigPath(gatewayId), new JsonObject
            {
                ["version"] = version,
                ["config"] = config.DeepClone(),
                ["stored_at"] = EnrolmentTokens.Stamp(time.GetUtcNow()),
            });
            return version;
        }
    }

    private string ConfigPath(string gatewayId) => Path.Combine(_configs, gatewayId + ".json");

    private void Update(string gatewayId, Action<JsonObject> change)
    {
        lock (_lock)
        {
            var file = JsonFile.Read(_path);
            var gateways = file["gateways"] as JsonObject ?? [];
            file["gateways"] = gateways;
            if (gateways[gatewayId] is not JsonObject g)
            {
                g = [];
                gateways[gatewayId] = g;
            }

            change(g);
            JsonFile.Write(_path, file);
            _revoked = null;
        }
    }

    private static IEnumerable<KeyValuePair<string, JsonObject>> Entries(JsonObject file) =>
        (file["gateways"] as JsonObject ?? []).Where(e => e.Value is JsonObject).Select(e => KeyValuePair.Create(e.Key, (JsonObject)e.Value!));

    private GatewayEntry EntryOf(string id, JsonObject file)
    {
        var g = (file["gateways"] as JsonObject)?[id] as JsonObject ?? [];
        var active = credentials.Find(id) is { Role: MqttRole.Gateway };
        var report = g["config_report"] is JsonObject r
            ? new ConfigReport((long)r["version"]!, (string)r["result"]!, (string?)r["reason"], Time(r["at"])!.Value)
            : null;
        return new GatewayEntry(id, g["revoked_at"] is not null ? CredentialStates.Revoked : active ? CredentialStates.Active : CredentialStates.None,
            Time(g["enrolled_at"]), Time(g["revoked_at"]), Time(g["rotated_at"]), DesiredConfig(id)?.Version, report);
    }

    private static DateTimeOffset? Time(JsonNode? node) =>
        node is null ? null : DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
