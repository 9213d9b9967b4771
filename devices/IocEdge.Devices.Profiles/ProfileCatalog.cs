using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Devices.Profiles;

/// <summary>
/// A set of validated instrument profiles, looked up by id. Load the profiles shipped with IocEdge with
/// <see cref="LoadBuiltIn"/>, a site's own folder with <see cref="LoadDirectory"/>, or one document with
/// <see cref="Parse"/>. Every loader checks every rule and throws one <see cref="ProfileValidationException"/>
/// listing all problems of all files.
/// </summary>
public sealed class ProfileCatalog
{
    /// <summary>The name of the folder, next to the application, that holds the built-in profiles.</summary>
    public const string BuiltInFolderName = "profiles";

    private readonly Dictionary<string, InstrumentProfile> _byId;

    private ProfileCatalog(IReadOnlyList<InstrumentProfile> profiles)
    {
        Profiles = profiles;
        _byId = profiles.ToDictionary(p => p.Id, StringComparer.Ordinal);
    }

    /// <summary>The profiles, ordered by id.</summary>
    public IReadOnlyList<InstrumentProfile> Profiles { get; }

    /// <summary>The folder of the built-in profiles: <c>profiles/</c> next to the running application.</summary>
    public static string BuiltInDirectory => Path.Combine(AppContext.BaseDirectory, BuiltInFolderName);

    /// <summary>The profile with id <paramref name="id"/>.</summary>
    /// <exception cref="KeyNotFoundException">Unknown id; the message lists the known ones.</exception>
    public InstrumentProfile Get(string id) =>
        TryGet(id, out var profile)
            ? profile
            : throw new KeyNotFoundException(
                $"Unknown instrument profile '{id}'. Known profiles: {string.Join(", ", _byId.Keys.Order(StringComparer.Ordinal))}.");

    public bool TryGet(string id, [NotNullWhen(true)] out InstrumentProfile? profile) => _byId.TryGetValue(id, out profile);

    /// <summary>Loads the profiles shipped with IocEdge (<see cref="BuiltInDirectory"/>).</summary>
    public static ProfileCatalog LoadBuiltIn() => LoadDirectory(BuiltInDirectory);

    /// <summary>Loads every <c>*.json</c> file of <paramref name="path"/> (not <c>*.schema.json</c>).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ProfileValidationException">Any file breaks any rule, or two files share an id.</exception>
    public static ProfileCatalog LoadDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"Profile folder '{path}' does not exist.");
        }

        var problems = new List<ProfileProblem>();
        var profiles = new List<InstrumentProfile>();
        var files = Directory.EnumerateFiles(path, "*.json")
            .Where(f => !f.EndsWith(".schema.json", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var profile = Read(File.ReadAllText(file), file, problems);
            if (profile is null)
            {
                continue;
            }

            var fileId = Path.GetFileNameWithoutExtension(file);
            if (!string.Equals(profile.Id, fileId, StringComparison.Ordinal))
            {
                problems.Add(new ProfileProblem(file, "$.id",
                    $"The id '{profile.Id}' differs from the file name '{fileId}'.",
                    $"Rename the file to '{profile.Id}.json' or set \"id\": \"{fileId}\" (channel configuration finds a profile by its file name)."));
            }

            var clash = profiles.FirstOrDefault(p => string.Equals(p.Id, profile.Id, StringComparison.Ordinal));
            if (clash is not null)
            {
                problems.Add(new ProfileProblem(file, "$.id",
                    $"The id '{profile.Id}' is already used by {clash.SourceFile}.",
                    "Give each profile its own id."));
                continue;
            }

            profiles.Add(profile);
        }

        if (problems.Count > 0)
        {
            throw new ProfileValidationException(problems);
        }

        return new ProfileCatalog(profiles.OrderBy(p => p.Id, StringComparer.Ordinal).ToArray());
    }

    /// <summary>Reads and validates one profile file.</summary>
    public static InstrumentProfile LoadFile(string file)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        return Parse(File.ReadAllText(file), file);
    }

    /// <summary>Parses and validates one profile document; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="ProfileValidationException">The document breaks one or more rules.</exception>
    public static InstrumentProfile Parse(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        var problems = new List<ProfileProblem>();
        var profile = Read(json, sourceName, problems);
        if (profile is null || problems.Count > 0)
        {
            throw new ProfileValidationException(problems);
        }

        return profile;
    }

    /// <summary>Builds a catalog from profiles made in code (each is validated).</summary>
    public static ProfileCatalog FromProfiles(IEnumerable<InstrumentProfile> profiles)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        var list = profiles.ToList();
        var problems = list.SelectMany(ProfileValidator.Validate).ToList();
        foreach (var duplicate in list.GroupBy(p => p.Id, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add(new ProfileProblem(ProfileValidator.FileOf(duplicate.First()), "$.id",
                $"{duplicate.Count()} profiles share the id '{duplicate.Key}'.", "Give each profile its own id."));
        }

        if (problems.Count > 0)
        {
            throw new ProfileValidationException(problems);
        }

        return new ProfileCatalog(list.OrderBy(p => p.Id, StringComparer.Ordinal).ToArray());
    }

    // Parses one document, adding its problems; returns the profile when it could be built and it validates.
    private static InstrumentProfile? Read(string json, string file, List<ProfileProblem> problems)
    {
        ProfileDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize(json, ProfileJsonContext.Default.ProfileDocument);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : string.Empty;
            problems.Add(new ProfileProblem(file, ex.Path ?? "$",
                $"Not a valid profile document{where}: {FirstSentence(ex.Message)}",
                "Fix the JSON syntax or the value's type (numbers unquoted, names in quotes); see profiles/profile.schema.json."));
            return null;
        }

        if (doc is null)
        {
            problems.Add(new ProfileProblem(file, "$", "The document is empty (null).", "Write a profile object; see profiles/profile.schema.json."));
            return null;
        }

        var before = problems.Count;
        var profile = ProfileDocumentReader.ToProfile(doc, file, problems);
        if (profile is null || problems.Count > before)
        {
            return null;
        }

        var semantic = ProfileValidator.Validate(profile);
        problems.AddRange(semantic);
        return semantic.Count == 0 ? profile : null;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}

/// <summary>Turns a JSON document into the model, reporting missing keys, unknown keys and unknown names.</summary>
internal static class ProfileDocumentReader
{
    private static readonly string[] ProfileKeys =
        ["$schema", "id", "name", "manufacturer", "model", "source", "notes", "defaultByteOrder", "defaultPollSeconds", "maxRegistersPerRequest", "points"];

    private static readonly string[] PointKeys =
    [
        "name", "quantity", "unit", "description", "register", "address", "type", "byteOrder", "scale", "offset",
        "pollSeconds", "min", "max", "length", "bit", "sentinels", "validMin", "validMax", "decimals", "simulation",
    ];

    private static readonly string[] SimulationKeys = ["mean", "dailyAmplitude", "dailyPeakHour", "noise", "ratePerHour", "text"];

    public static InstrumentProfile? ToProfile(ProfileDocument doc, string file, List<ProfileProblem> problems)
    {
        Unknown(doc.Extra, "$", ProfileKeys, file, problems);
        Required(doc.Id, "$.id", "a stable id such as \"env-station\" (the file name without .json)", file, problems);
        Required(doc.Name, "$.name", "a human-readable name", file, problems);
        Required(doc.Source, "$.source",
            "where the register map comes from (manual, section, URL), or \"invented: ...\" when it is", file, problems);

        var defaultOrder = ModbusByteOrder.ABCD;
        if (doc.DefaultByteOrder is not null)
        {
            defaultOrder = ParseEnum<ModbusByteOrder>(doc.DefaultByteOrder, "$.defaultByteOrder", file, problems) ?? defaultOrder;
        }

        var defaultPoll = TimeSpan.FromSeconds(10);
        if (doc.DefaultPollSeconds is { } dps)
        {
            defaultPoll = Seconds(dps, "$.defaultPollSeconds", file, problems) ?? defaultPoll;
        }

        if (doc.Points is null || doc.Points.Count == 0)
        {
            problems.Add(new ProfileProblem(file, "$.points", "The profile has no points.",
                "Add a \"points\" array with at least one point (name, quantity, unit, register, address, type, min, max)."));
            return null;
        }

        var points = new List<ProfilePoint>();
        for (var i = 0; i < doc.Points.Count; i++)
        {
            var p = doc.Points[i];
            var path = $"$.points[{i}]";
            if (p is null)
            {
                problems.Add(new ProfileProblem(file, path, "The point is null.", "Remove it or write a point object."));
                continue;
            }

            var point = ToPoint(p, path, defaultOrder, defaultPoll, file, problems);
            if (point is not null)
            {
                points.Add(point);
            }
        }

        if (doc.Id is null || doc.Name is null || doc.Source is null || points.Count != doc.Points.Count)
        {
            return null;
        }

        return new InstrumentProfile
        {
            Id = doc.Id,
            Name = doc.Name,
            Manufacturer = doc.Manufacturer ?? string.Empty,
            Model = doc.Model ?? string.Empty,
            Source = doc.Source,
            Notes = doc.Notes,
            DefaultByteOrder = defaultOrder,
            DefaultPollPeriod = defaultPoll,
            MaxRegistersPerRequest = doc.MaxRegistersPerRequest,
            Points = points,
            SourceFile = file,
        };
    }

    private static ProfilePoint? ToPoint(PointDocument p, string path, ModbusByteOrder defaultOrder, TimeSpan defaultPoll,
        string file, List<ProfileProblem> problems)
    {
        var before = problems.Count;
        Unknown(p.Extra, path, PointKeys, file, problems);
        Required(p.Name, path + ".name", "a channel key such as \"pm2_5\"", file, problems);
        Required(p.Quantity, path + ".quantity", "what is measured, in words (\"PM2.5 mass concentration\")", file, problems);
        Required(p.Unit, path + ".unit", $"a unit of the vocabulary ({string.Join(", ", ProfileUnits.Symbols)})", file, problems);
        RegisterKind? register = p.Register is null
            ? Missing<RegisterKind>(path + ".register", "HoldingRegister, InputRegister, Coil or DiscreteInput", file, problems)
            : ParseEnum<RegisterKind>(p.Register, path + ".register", file, problems);
        ModbusDataType? type = p.Type is null
            ? Missing<ModbusDataType>(path + ".type", string.Join(", ", Enum.GetNames<ModbusDataType>()), file, problems)
            : ParseEnum<ModbusDataType>(p.Type, path + ".type", file, problems);
        if (p.Address is null)
        {
            problems.Add(new ProfileProblem(file, path + ".address", "The key \"address\" is missing.",
                "Add the 0-based protocol address (0-65535): the manual's register 40001 is holding-register address 0."));
        }

        var order = p.ByteOrder is null ? defaultOrder : ParseEnum<ModbusByteOrder>(p.ByteOrder, path + ".byteOrder", file, problems);
        var poll = p.PollSeconds is { } ps ? Seconds(ps, path + ".pollSeconds", file, problems) : defaultPoll;

        var needsRange = type is not (ModbusDataType.Bit or ModbusDataType.String);
        if (needsRange && type is not null && (p.Min is null || p.Max is null))
        {
            problems.Add(new ProfileProblem(file, path + (p.Min is null ? ".min" : ".max"),
                $"The plausible range is incomplete (min {Show(p.Min)}, max {Show(p.Max)}).",
                "Give both \"min\" and \"max\" in the point's unit: readings outside them are flagged, and the simulator clamps to them."));
        }

        PointSimulation? simulation = null;
        if (p.Simulation is { } s)
        {
            Unknown(s.Extra, path + ".simulation", SimulationKeys, file, problems);
            simulation = new PointSimulation
            {
                Mean = s.Mean ?? ((p.Min ?? 0) + (p.Max ?? 0)) / 2,
                DailyAmplitude = s.DailyAmplitude ?? 0,
                DailyPeakHour = s.DailyPeakHour ?? 0,
                Noise = s.Noise ?? 0,
                RatePerHour = s.RatePerHour ?? 0,
                Text = s.Text,
            };
        }

        var sentinels = Sentinels(p.Sentinels, path + ".sentinels", file, problems);

        if (problems.Count > before || register is null || type is null || order is null || poll is null)
        {
            return null;
        }

        // Bits and strings have a natural range; the validator refuses a range that contradicts it.
        var min = p.Min ?? 0;
        var max = p.Max ?? (type == ModbusDataType.Bit ? 1 : 0);
        return new ProfilePoint
        {
            Name = p.Name!,
            Quantity = p.Quantity!,
            Unit = p.Unit!,
            Description = p.Description,
            Register = register.Value,
            Address = p.Address is { } a ? (int)Math.Clamp(a, int.MinValue, int.MaxValue) : 0,
            Type = type.Value,
            ByteOrder = order.Value,
            Scale = p.Scale ?? 1,
            Offset = p.Offset ?? 0,
            PollPeriod = poll.Value,
            Min = min,
            Max = max,
            Length = p.Length,
            Bit = p.Bit,
            Sentinels = sentinels.Select(v => SignNarrowed(v, type.Value)).ToArray(),
            ValidMin = p.ValidMin,
            ValidMax = p.ValidMax,
            Decimals = p.Decimals,
            Simulation = simulation,
        };
    }

    /// <summary>Sentinels as written: non-negative integers or "0x" hexadecimal strings (the raw register bits), or
    /// negative integers, taken as the two's complement the validator later narrows to the point's width.</summary>
    private static List<ulong> Sentinels(List<JsonElement>? items, string path, string file, List<ProfileProblem> problems)
    {
        var values = new List<ulong>();
        for (var i = 0; items is not null && i < items.Count; i++)
        {
            var item = items[i];
            if (item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out var number))
            {
                values.Add(unchecked((ulong)number));
            }
            else if (item.ValueKind == JsonValueKind.String && item.GetString() is { } text
                     && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                     && ulong.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier,
                         System.Globalization.CultureInfo.InvariantCulture, out var hex))
            {
                values.Add(hex);
            }
            else
            {
                problems.Add(new ProfileProblem(file, $"{path}[{i}]", $"The sentinel {item.GetRawText()} is not a raw register value.",
                    "Write an integer (e.g. -9999 for an Int16) or a hexadecimal string of the register bits (e.g. \"0xD8F1\", \"0x7FFF\")."));
            }
        }

        return values;
    }

    /// <summary>A negative integer written for a narrower type (-9999 for an Int16) becomes its two's complement in that
    /// width (0xD8F1); anything else is left for the validator to judge.</summary>
    private static ulong SignNarrowed(ulong value, ModbusDataType type)
    {
        if (ModbusPointDefinition.MaxRawBits(type) is not { } max || max == ulong.MaxValue || value <= max)
        {
            return value;
        }

        var signExtension = ~max;
        var negativeInWidth = (value & signExtension) == signExtension && (value & ((max >> 1) + 1)) != 0;
        return negativeInWidth ? value & max : value;
    }

    private static void Required(string? value, string path, string what, string file, List<ProfileProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            var key = path[(path.LastIndexOf('.') + 1)..];
            problems.Add(new ProfileProblem(file, path,
                value is null ? $"The key \"{key}\" is missing." : $"The key \"{key}\" is empty.", $"Give {what}."));
        }
    }

    private static T? Missing<T>(string path, string allowed, string file, List<ProfileProblem> problems)
        where T : struct
    {
        var key = path[(path.LastIndexOf('.') + 1)..];
        problems.Add(new ProfileProblem(file, path, $"The key \"{key}\" is missing.", $"Give one of: {allowed}."));
        return null;
    }

    private static T? ParseEnum<T>(string text, string path, string file, List<ProfileProblem> problems)
        where T : struct, Enum
    {
        // Names only (case-insensitive); numbers are refused so that "type": "3" cannot silently mean Int32.
        var trimmed = text.Trim();
        if (!int.TryParse(trimmed, out _) && Enum.TryParse<T>(trimmed, ignoreCase: true, out var value) && Enum.IsDefined(value))
        {
            return value;
        }

        problems.Add(new ProfileProblem(file, path, $"Unknown {Describe<T>()} \"{text}\".",
            $"Use one of: {string.Join(", ", Enum.GetNames<T>())}."));
        return null;
    }

    private static string Describe<T>() => typeof(T).Name switch
    {
        nameof(ModbusDataType) => "data type",
        nameof(ModbusByteOrder) => "byte order",
        nameof(RegisterKind) => "register kind",
        _ => typeof(T).Name,
    };

    private static TimeSpan? Seconds(double seconds, string path, string file, List<ProfileProblem> problems)
    {
        if (!double.IsFinite(seconds) || seconds <= 0 || seconds > 86_400)
        {
            problems.Add(new ProfileProblem(file, path, $"The poll period {seconds} s is out of range.",
                "Give a period in seconds, greater than 0 and at most 86400 (one day)."));
            return null;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static void Unknown(Dictionary<string, JsonElement>? extra, string path, string[] known, string file,
        List<ProfileProblem> problems)
    {
        if (extra is null)
        {
            return;
        }

        foreach (var key in extra.Keys)
        {
            var close = known.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)
                || string.Equals(k.Replace("_", string.Empty, StringComparison.Ordinal), key.Replace("_", string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase));
            problems.Add(new ProfileProblem(file, $"{path}.{key}", $"Unknown key \"{key}\".",
                close is not null
                    ? $"Did you mean \"{close}\"? Keys are case-sensitive."
                    : $"Remove it, or use one of: {string.Join(", ", known)}."));
        }
    }

    private static string Show(double? value) => value is { } v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "missing";
}
