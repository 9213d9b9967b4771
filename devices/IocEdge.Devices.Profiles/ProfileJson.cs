using System.Text.Json;
using System.Text.Json.Serialization;

namespace IocEdge.Devices.Profiles;

// The JSON documents as written by people: every field nullable and enums as strings, so that the loader can report
// every missing key, unknown name and typo at once (with its path and fix) instead of stopping at the first.
// Unknown keys land in Extra and are reported too. Keep in step with profiles/profile.schema.json.

internal sealed class ProfileDocument
{
    [JsonPropertyName("$schema")]
    public string? Schema { get; set; }

    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Manufacturer { get; set; }

    public string? Model { get; set; }

    public string? Source { get; set; }

    public string? Notes { get; set; }

    public string? DefaultByteOrder { get; set; }

    public double? DefaultPollSeconds { get; set; }

    public int? MaxRegistersPerRequest { get; set; }

    public List<PointDocument?>? Points { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

internal sealed class PointDocument
{
    public string? Name { get; set; }

    public string? Quantity { get; set; }

    public string? Unit { get; set; }

    public string? Description { get; set; }

    public string? Register { get; set; }

    public long? Address { get; set; }

    public string? Type { get; set; }

    public string? ByteOrder { get; set; }

    public double? Scale { get; set; }

    public double? Offset { get; set; }

    public double? PollSeconds { get; set; }

    public double? Min { get; set; }

    public double? Max { get; set; }

    public int? Length { get; set; }

    public int? Bit { get; set; }

    /// <summary>Numbers or "0x..." strings; checked one by one so that every bad entry is reported with its path.</summary>
    public List<JsonElement>? Sentinels { get; set; }

    public double? ValidMin { get; set; }

    public double? ValidMax { get; set; }

    public int? Decimals { get; set; }

    public SimulationDocument? Simulation { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

internal sealed class SimulationDocument
{
    public double? Mean { get; set; }

    public double? DailyAmplitude { get; set; }

    public double? DailyPeakHour { get; set; }

    public double? Noise { get; set; }

    public double? RatePerHour { get; set; }

    public string? Text { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(ProfileDocument))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext;
