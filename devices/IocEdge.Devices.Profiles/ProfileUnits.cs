using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace IocEdge.Devices.Profiles;

/// <summary>A unit symbol of the vocabulary, the dimension it measures and a description.</summary>
/// <param name="Symbol">ASCII symbol used in profiles, channel configuration and MQTT payloads (e.g. <c>ug/m3</c>).</param>
/// <param name="Dimension">What kind of quantity it measures (e.g. <c>mass-concentration</c>); two units of different
/// dimensions can never describe the same channel.</param>
/// <param name="Description">Human-readable meaning.</param>
public sealed record UnitInfo(string Symbol, string Dimension, string Description);

/// <summary>
/// The units vocabulary shared by profiles, the gateway's channel configuration and the MQTT contract. Symbols are
/// plain ASCII and case-sensitive (<c>degC</c>, not <c>°C</c>), so that two spellings of one unit cannot coexist.
/// The gateway uses <see cref="IsKnown"/> and <see cref="SameUnit"/> for its "unit mismatch" check.
/// </summary>
public static class ProfileUnits
{
    private static readonly UnitInfo[] Vocabulary =
    [
        new("ug/m3", "mass-concentration", "micrograms per cubic metre (particulates, gases at reference conditions)"),
        new("mg/m3", "mass-concentration", "milligrams per cubic metre"),
        new("ppm", "mole-fraction", "parts per million by volume"),
        new("ppb", "mole-fraction", "parts per billion by volume"),
        new("degC", "temperature", "degrees Celsius"),
        new("%RH", "relative-humidity", "relative humidity, percent"),
        new("hPa", "pressure", "hectopascal (= millibar)"),
        new("kPa", "pressure", "kilopascal"),
        new("m/s", "speed", "metres per second"),
        new("deg", "angle", "degrees of arc (wind direction: 0 = from north, clockwise)"),
        new("mm", "length", "millimetres (precipitation amount)"),
        new("m", "length", "metres (water level, altitude)"),
        new("mm/h", "precipitation-rate", "millimetres per hour"),
        new("mm/min", "precipitation-rate", "millimetres per minute"),
        new("W/m2", "irradiance", "watts per square metre"),
        new("pH", "acidity", "pH units (0-14)"),
        new("mg/L", "mass-concentration-water", "milligrams per litre (dissolved oxygen, solids)"),
        new("uS/cm", "conductivity", "microsiemens per centimetre"),
        new("mS/cm", "conductivity", "millisiemens per centimetre"),
        new("NTU", "turbidity", "nephelometric turbidity units"),
        new("%", "ratio", "percent (saturation, state of charge, valve position)"),
        new("%sat", "ratio", "percent of saturation (dissolved oxygen)"),
        new("mV", "voltage", "millivolts"),
        new("V", "voltage", "volts"),
        new("mA", "current", "milliamperes"),
        new("A", "current", "amperes"),
        new("W", "power", "watts"),
        new("kW", "power", "kilowatts"),
        new("kWh", "energy", "kilowatt-hours"),
        new("Hz", "frequency", "hertz"),
        new("s", "time", "seconds"),
        new("count", "count", "a dimensionless count (pulses, events)"),
        new("1", "dimensionless", "a dimensionless number or state code"),
    ];

    private static readonly FrozenDictionary<string, UnitInfo> BySymbol =
        Vocabulary.ToFrozenDictionary(u => u.Symbol, StringComparer.Ordinal);

    // Spellings people type (and manuals print) mapped to the vocabulary's symbol, for the error's fix.
    private static readonly FrozenDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["µg/m3"] = "ug/m3", ["µg/m³"] = "ug/m3", ["ug/m³"] = "ug/m3", ["μg/m3"] = "ug/m3", ["μg/m³"] = "ug/m3",
        ["mg/m³"] = "mg/m3", ["°C"] = "degC", ["C"] = "degC", ["celsius"] = "degC", ["degree celsius"] = "degC",
        ["% RH"] = "%RH", ["%rh"] = "%RH", ["RH"] = "%RH", ["mbar"] = "hPa", ["millibar"] = "hPa",
        ["°"] = "deg", ["degree"] = "deg", ["degrees"] = "deg", ["W/m²"] = "W/m2", ["µS/cm"] = "uS/cm",
        ["μS/cm"] = "uS/cm", ["mg/l"] = "mg/L", ["ppm(v)"] = "ppm", ["ppb(v)"] = "ppb",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every unit of the vocabulary.</summary>
    public static IReadOnlyList<UnitInfo> All => Vocabulary;

    /// <summary>Every symbol, in vocabulary order.</summary>
    public static IEnumerable<string> Symbols => Vocabulary.Select(u => u.Symbol);

    /// <summary>True when <paramref name="symbol"/> is exactly a symbol of the vocabulary (case-sensitive).</summary>
    public static bool IsKnown(string? symbol) => symbol is not null && BySymbol.ContainsKey(symbol);

    public static bool TryGet(string symbol, [NotNullWhen(true)] out UnitInfo? unit) =>
        BySymbol.TryGetValue(symbol, out unit);

    /// <summary>
    /// True when both symbols are known and identical. A channel configured in "ppm" for a point the profile serves in
    /// "ppb" is a mismatch even though both measure a mole fraction: the gateway does not convert silently.
    /// </summary>
    public static bool SameUnit(string a, string b) => IsKnown(a) && string.Equals(a, b, StringComparison.Ordinal);

    /// <summary>
    /// The vocabulary symbol a user probably meant (<c>°C</c> → <c>degC</c>, <c>UG/M3</c> → <c>ug/m3</c>), or null.
    /// </summary>
    public static string? Suggest(string? symbol)
    {
        if (string.IsNullOrWhiteSpace(symbol))
        {
            return null;
        }

        var trimmed = symbol.Trim();
        if (Aliases.TryGetValue(trimmed, out var alias))
        {
            return alias;
        }

        var caseInsensitive = Vocabulary.FirstOrDefault(u => string.Equals(u.Symbol, trimmed, StringComparison.OrdinalIgnoreCase));
        return caseInsensitive?.Symbol;
    }
}
