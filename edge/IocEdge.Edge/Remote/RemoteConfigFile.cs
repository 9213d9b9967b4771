using System.Text.Json;
using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Configuration;

namespace IocEdge.Edge.Remote;

/// <summary>
/// The gateway's remote-configuration state, <c>{DataDirectory}/remote-config.json</c> (written to a temporary file,
/// fsynced, renamed): the applied remote configuration (version and sections), a pending one waiting to reach the
/// aggregator with the one to restore, the highest version seen, and a report not yet delivered. The effective
/// configuration is the local file with the remote sections laid over it (<see cref="Merge"/>), written to
/// <c>{DataDirectory}/gateway.effective.json</c> at each start, so edits to the local file still count.
/// </summary>
public sealed class RemoteConfigFile
{
    public const string FileName = "remote-config.json";

    public const string EffectiveFileName = "gateway.effective.json";

    private readonly string _path;

    public RemoteConfigFile(string dataDirectory)
    {
        _path = Path.Combine(dataDirectory, FileName);
        State = File.Exists(_path) ? JsonNode.Parse(File.ReadAllText(_path)) as JsonObject ?? [] : [];
    }

    private JsonObject State { get; }

    /// <summary>The applied remote configuration (version, sections), or null (the local file alone).</summary>
    public (long Version, JsonObject Config)? Applied
    {
        get => Pair(State["applied"]);
        set => State["applied"] = value is { } v ? PairNode(v) : null;
    }

    /// <summary>A configuration applied but not yet confirmed by a connection to the aggregator, and what to restore.</summary>
    public (long Version, JsonObject Config)? Pending
    {
        get => Pair(State["pending"]);
        set => State["pending"] = value is { } v ? PairNode(v) : null;
    }

    /// <summary>The highest version received (a retained message seen again after a restart is not applied twice).</summary>
    public long LastVersion
    {
        get => State["last_version"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;
        set => State["last_version"] = value;
    }

    /// <summary>A report (contract §9.2) to publish on the next connection, or null.</summary>
    public ConfigAck? Report
    {
        get => State["report"] is JsonObject r && ConfigTopics.TryDecodeAck(Json.Bytes(r), (string)r["gateway"]!, out var ack, out _) ? ack : null;
        set => State["report"] = value is null ? null : ConfigTopics.AckMessage(value);
    }

    /// <summary>The configuration in force: the pending one if any, else the applied one.</summary>
    public JsonObject? InForce => (Pending ?? Applied)?.Config;

    public void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(Json.Bytes(State, indented: true));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _path, overwrite: true);
    }

    /// <summary>
    /// The local configuration file's JSON with <paramref name="remote"/> laid over its <c>Gateway</c> section: each of
    /// Modbus, Gpio and Sensors replaces the local one whole (so a removed device is gone, not merged by index);
    /// Mqtt is merged key by key (Username and Password are never taken from a remote configuration).
    /// </summary>
    public static JsonObject Merge(JsonObject local, JsonObject? remote)
    {
        ArgumentNullException.ThrowIfNull(local);
        var merged = (JsonObject)local.DeepClone();
        if (remote is null)
        {
            return merged;
        }

        var gatewayKey = merged.FirstOrDefault(p => string.Equals(p.Key, GatewayOptions.Section, StringComparison.OrdinalIgnoreCase)).Key ?? GatewayOptions.Section;
        if (merged[gatewayKey] is not JsonObject gateway)
        {
            gateway = [];
            merged[gatewayKey] = gateway;
        }

        foreach (var (key, value) in remote)
        {
            var existing = gateway.FirstOrDefault(p => string.Equals(p.Key, key, StringComparison.OrdinalIgnoreCase)).Key;
            if (string.Equals(key, "Mqtt", StringComparison.OrdinalIgnoreCase) && value is JsonObject mqtt)
            {
                if ((existing is null ? null : gateway[existing]) is not JsonObject localMqtt)
                {
                    localMqtt = [];
                    gateway[existing ?? "Mqtt"] = localMqtt;
                }

                foreach (var (k, v) in mqtt.Where(p => p.Key is not ("Username" or "Password")))
                {
                    var old = localMqtt.FirstOrDefault(p => string.Equals(p.Key, k, StringComparison.OrdinalIgnoreCase)).Key;
                    localMqtt[old ?? k] = v?.DeepClone();
                }

                continue;
            }

            if (existing is not null)
            {
                gateway.Remove(existing);
            }

            gateway[key] = value?.DeepClone();
        }

        return merged;
    }

    /// <summary>
    /// The problems the gateway's own start-up check finds in <paramref name="document"/> (unknown keys, wrong types,
    /// the validator's rules), one line each; empty when it is valid. Sections other than those of
    /// <see cref="ConfigTopics.Sections"/> in <paramref name="remote"/> are problems too.
    /// </summary>
    public static IReadOnlyList<string> Check(JsonObject document, JsonObject remote, string scratchPath)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var problems = remote.Select(p => p.Key).Where(k => !ConfigTopics.Sections.Contains(k, StringComparer.OrdinalIgnoreCase))
            .Select(k => $"config.{k}: not a section a remote configuration may set (only {string.Join(", ", ConfigTopics.Sections)})").ToList();
        File.WriteAllBytes(scratchPath, Json.Bytes(document));
        try
        {
            var configuration = new ConfigurationManager();
            configuration.AddJsonFile(Path.GetFullPath(scratchPath), optional: false, reloadOnChange: false);
            problems.AddRange(GatewayHost.FindProblems(configuration, scratchPath));
        }
        finally
        {
            File.Delete(scratchPath);
        }

        return problems;
    }

    /// <summary>
    /// Called by <see cref="GatewayHost.Build"/>: when a remote configuration is in force, writes the effective file
    /// (the local file merged with it) and returns its path; otherwise returns <paramref name="localPath"/>.
    /// </summary>
    internal static string EffectivePath(string localPath, string dataDirectory)
    {
        var state = new RemoteConfigFile(dataDirectory);
        if (state.InForce is not { } remote || JsonNode.Parse(File.ReadAllText(localPath)) is not JsonObject local)
        {
            return localPath;
        }

        var path = Path.Combine(dataDirectory, EffectiveFileName);
        File.WriteAllBytes(path, Json.Bytes(Merge(local, remote), indented: true));
        return path;
    }

    /// <summary>
    /// Called by <see cref="GatewayHost.Build"/> when the effective configuration does not pass the start-up check: if a
    /// remote configuration is pending, it is dropped and reported <c>refused</c> with <paramref name="problems"/> (sent at
    /// the next connection), and true is returned so the host is built again on the configuration before it.
    /// </summary>
    internal static bool RefusePending(string dataDirectory, string? gatewayId, IReadOnlyList<string> problems, TimeProvider time)
    {
        var state = new RemoteConfigFile(dataDirectory);
        if (state.Pending is not { } pending || !Identifiers.IsValidGatewayId(gatewayId ?? string.Empty))
        {
            return false;
        }

        state.Pending = null;
        state.Report = new ConfigAck(gatewayId!, pending.Version, ConfigResults.Refused,
            string.Join("; ", problems.Take(5)) + (problems.Count > 5 ? $"; and {problems.Count - 5} more" : string.Empty), time.GetUtcNow());
        state.Save();
        return true;
    }

    private static (long, JsonObject)? Pair(JsonNode? node) =>
        node is JsonObject o && o["version"] is JsonValue v && v.TryGetValue<long>(out var version) && o["config"] is JsonObject c
            ? (version, (JsonObject)c.DeepClone())
            : null;

    private static JsonObject PairNode((long Version, JsonObject Config) v) => new() { ["version"] = v.Version, ["config"] = v.Config.DeepClone() };
}

/// <summary>JSON bytes of a node, through <see cref="Utf8JsonWriter"/> (no reflection: NativeAOT-safe).</summary>
internal static class Json
{
    public static byte[] Bytes(JsonNode node, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            node.WriteTo(writer);
        }

        return buffer.ToArray();
    }
}
