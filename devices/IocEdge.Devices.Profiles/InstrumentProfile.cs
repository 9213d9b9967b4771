using System.Diagnostics.CodeAnalysis;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Devices.Profiles;

/// <summary>
/// One Modbus instrument described as data: who makes it, where its register map comes from, and the points
/// (channels) a gateway polls. Loaded from <c>profiles/*.json</c> by <see cref="ProfileCatalog"/>, or built in code
/// and checked with <see cref="Validate"/>.
/// </summary>
public sealed class InstrumentProfile
{
    /// <summary>Stable identifier (lower-case letters, digits and '-'), equal to the file name without <c>.json</c>.</summary>
    public required string Id { get; init; }

    /// <summary>Human-readable name.</summary>
    public required string Name { get; init; }

    public string Manufacturer { get; init; } = string.Empty;

    public string Model { get; init; } = string.Empty;

    /// <summary>Where the register map comes from (manual, section, URL), or a statement that it is invented.</summary>
    public required string Source { get; init; }

    /// <summary>Free text: wiring, serial settings, quirks of the instrument.</summary>
    public string? Notes { get; init; }

    /// <summary>Byte order of points that do not name their own.</summary>
    public ModbusByteOrder DefaultByteOrder { get; init; } = ModbusByteOrder.ABCD;

    /// <summary>Poll period of points that do not name their own.</summary>
    public TimeSpan DefaultPollPeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most registers the instrument serves in one read (FC 03/04), when its manual says it accepts fewer than
    /// the specification's 125; null for no limit of its own.</summary>
    public int? MaxRegistersPerRequest { get; init; }

    public required IReadOnlyList<ProfilePoint> Points { get; init; }

    /// <summary>The file the profile was read from, or null when it was built in code.</summary>
    public string? SourceFile { get; init; }

    /// <summary>The point named <paramref name="name"/> (its channel key, e.g. <c>pm2_5</c>).</summary>
    /// <exception cref="KeyNotFoundException">No such point; the message lists the profile's points.</exception>
    public ProfilePoint GetPoint(string name) =>
        TryGetPoint(name, out var point)
            ? point
            : throw new KeyNotFoundException(
                $"Profile '{Id}' has no point '{name}'. Its points are: {string.Join(", ", Points.Select(p => p.Name))}.");

    public bool TryGetPoint(string name, [NotNullWhen(true)] out ProfilePoint? point)
    {
        point = Points.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
        return point is not null;
    }

    /// <summary>Checks every rule of the format (see profiles/profile.schema.json and the README).</summary>
    /// <exception cref="ProfileValidationException">One or more problems, each with file, key and fix.</exception>
    public void Validate()
    {
        var problems = ProfileValidator.Validate(this);
        if (problems.Count > 0)
        {
            throw new ProfileValidationException(problems);
        }
    }

    public override string ToString() => $"{Id} ({Name}, {Points.Count} points)";
}

/// <summary>
/// One value of an instrument: where it lives in the Modbus tables, how its registers decode to an engineering value
/// (<c>value = raw × Scale + Offset</c>), its unit, plausible range and how the simulator animates it.
/// </summary>
public sealed class ProfilePoint
{
    /// <summary>Stable channel key (lower-case letters, digits, '_'), e.g. <c>pm2_5</c>, <c>air_temperature</c>.</summary>
    public required string Name { get; init; }

    /// <summary>What is measured, in words ("PM2.5 mass concentration").</summary>
    public required string Quantity { get; init; }

    /// <summary>A symbol of <see cref="ProfileUnits"/> (e.g. <c>ug/m3</c>, <c>degC</c>).</summary>
    public required string Unit { get; init; }

    public string? Description { get; init; }

    public RegisterKind Register { get; init; } = RegisterKind.HoldingRegister;

    /// <summary>
    /// The 0-based protocol address that travels in the request PDU (0-65535), not the 1-based "register number"
    /// of many manuals (40001 → holding register address 0). mbpoll's <c>-r</c> is 1-based: pass Address + 1.
    /// </summary>
    public int Address { get; init; }

    public ModbusDataType Type { get; init; } = ModbusDataType.UInt16;

    public ModbusByteOrder ByteOrder { get; init; } = ModbusByteOrder.ABCD;

    /// <summary>Engineering value = raw × Scale + Offset.</summary>
    public double Scale { get; init; } = 1;

    public double Offset { get; init; }

    public TimeSpan PollPeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Lowest plausible engineering value; below it a reading is suspect (and the simulator clamps).</summary>
    public double Min { get; init; }

    /// <summary>Highest plausible engineering value.</summary>
    public double Max { get; init; }

    /// <summary>For <see cref="ModbusDataType.String"/>: length in registers (two ASCII characters each).</summary>
    public int? Length { get; init; }

    /// <summary>For <see cref="ModbusDataType.Bit"/> in a register: the bit index 0 (LSB) to 15.</summary>
    public int? Bit { get; init; }

    /// <summary>Raw register bit patterns that mean "no measurement" (see <c>ModbusPointDefinition.Sentinels</c>): a
    /// one-register point's word (0xD8F1 for an Int16 -9999), a two-register point's 32 bits.</summary>
    public IReadOnlyList<ulong> Sentinels { get; init; } = [];

    /// <summary>Lowest valid engineering value (the instrument's measuring range); below it a reading is OutOfRange.</summary>
    public double? ValidMin { get; init; }

    /// <summary>Highest valid engineering value; above it a reading is OutOfRange.</summary>
    public double? ValidMax { get; init; }

    /// <summary>Decimal places of the instrument's resolution (0-15): the value is rounded to them; null keeps every digit.</summary>
    public int? Decimals { get; init; }

    /// <summary>How the station simulator animates this point; null = a constant at the middle of the range.</summary>
    public PointSimulation? Simulation { get; init; }

    /// <summary>Registers (or coils) the point occupies.</summary>
    public int RegisterCount => RegisterCountOf(Type, Length);

    /// <summary>
    /// The smallest step a master can see: |Scale| for integer types, 0 for floats (their own precision applies),
    /// 1 for bits, 0 for strings.
    /// </summary>
    public double Resolution => Type switch
    {
        ModbusDataType.Float32 or ModbusDataType.Float64 or ModbusDataType.String => 0,
        ModbusDataType.Bit => 1,
        _ => Math.Abs(Scale),
    };

    /// <summary>Registers a value of <paramref name="type"/> occupies (strings: <paramref name="length"/>).</summary>
    public static int RegisterCountOf(ModbusDataType type, int? length = null) => type switch
    {
        ModbusDataType.Int16 or ModbusDataType.UInt16 or ModbusDataType.Bit => 1,
        ModbusDataType.Int32 or ModbusDataType.UInt32 or ModbusDataType.Float32 => 2,
        ModbusDataType.Int64 or ModbusDataType.Float64 => 4,
        ModbusDataType.String => Math.Max(length ?? 0, 0),
        _ => 1,
    };

    public override string ToString() => $"{Name} ({Register} {Address}, {Type}, {Unit})";
}

/// <summary>
/// Parameters of the simulated signal: <c>Mean + DailyAmplitude·cos(2π(localHour − DailyPeakHour)/24) + noise</c>,
/// plus <c>RatePerHour</c> for accumulating quantities (rain total), clamped to the point's Min/Max.
/// </summary>
public sealed record PointSimulation
{
    public double Mean { get; init; }

    /// <summary>Half the peak-to-trough swing of the daily cycle, in the point's unit.</summary>
    public double DailyAmplitude { get; init; }

    /// <summary>Local hour (0 ≤ h &lt; 24, UTC+7 by default in the simulator) at which the daily cycle peaks.</summary>
    public double DailyPeakHour { get; init; }

    /// <summary>Bound of the smooth random noise: the noise stays within ±Noise.</summary>
    public double Noise { get; init; }

    /// <summary>Linear growth per hour since the simulator started (counters such as a rain total); 0 for none.</summary>
    public double RatePerHour { get; init; }

    /// <summary>For string points: the text served.</summary>
    public string? Text { get; init; }
}
