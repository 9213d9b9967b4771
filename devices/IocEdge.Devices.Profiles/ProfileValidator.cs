using System.Globalization;
using System.Text.RegularExpressions;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Devices.Profiles;

/// <summary>
/// The rules a profile must keep, checked on the model so that profiles built in code get the same answers as files.
/// Every problem names the JSON path of the key and the fix.
/// </summary>
internal static partial class ProfileValidator
{
    /// <summary>Largest register count one read (FC 03/04) may ask for: Modbus Application Protocol V1.1b3, 6.3.</summary>
    public const int MaxRegistersPerRead = 125;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$")]
    private static partial Regex PointNamePattern();

    public static string FileOf(InstrumentProfile profile) => profile.SourceFile ?? $"(in-memory profile '{profile.Id}')";

    public static IReadOnlyList<ProfileProblem> Validate(InstrumentProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var file = FileOf(profile);
        var problems = new List<ProfileProblem>();
        void Add(string path, string message, string fix) => problems.Add(new ProfileProblem(file, path, message, fix));

        if (string.IsNullOrWhiteSpace(profile.Id) || !IdPattern().IsMatch(profile.Id))
        {
            Add("$.id", $"The id \"{profile.Id}\" is not a valid profile id.",
                "Use lower-case letters, digits and single '-' between them (e.g. \"env-station\").");
        }

        if (string.IsNullOrWhiteSpace(profile.Name))
        {
            Add("$.name", "The name is empty.", "Give a human-readable name.");
        }

        if (string.IsNullOrWhiteSpace(profile.Source))
        {
            Add("$.source", "The source of the register map is empty.",
                "Name the manual (title, section, URL) or say \"invented: ...\" when the map is made up.");
        }

        if (profile.DefaultPollPeriod <= TimeSpan.Zero || profile.DefaultPollPeriod > TimeSpan.FromDays(1))
        {
            Add("$.defaultPollSeconds", $"The default poll period {profile.DefaultPollPeriod} is out of range.",
                "Give a period in seconds, greater than 0 and at most 86400.");
        }

        if (profile.MaxRegistersPerRequest is < 1 or > MaxRegistersPerRead)
        {
            Add("$.maxRegistersPerRequest", $"The limit of {profile.MaxRegistersPerRequest} registers per request is out of range.",
                $"Give the most registers the instrument serves in one read, 1 to {MaxRegistersPerRead} (MODBUS Application Protocol V1.1b3, 6.3-6.4).");
        }

        if (profile.Points is null || profile.Points.Count == 0)
        {
            Add("$.points", "The profile has no points.", "Add at least one point.");
            return problems;
        }

        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < profile.Points.Count; i++)
        {
            var point = profile.Points[i];
            var path = $"$.points[{i}]";
            if (point is null)
            {
                Add(path, "The point is null.", "Remove it or write a point object.");
                continue;
            }

            if (names.TryGetValue(point.Name ?? string.Empty, out var first))
            {
                Add(path + ".name", $"The name \"{point.Name}\" is already used by $.points[{first}].",
                    "Give each point its own channel key.");
            }
            else
            {
                names[point.Name ?? string.Empty] = i;
            }

            ValidatePoint(point, path, Add);
        }

        CheckOverlaps(profile.Points, Add);
        return problems;
    }

    private static void ValidatePoint(ProfilePoint p, string path, Action<string, string, string> add)
    {
        var label = $"Point \"{p.Name}\"";
        if (string.IsNullOrEmpty(p.Name) || !PointNamePattern().IsMatch(p.Name))
        {
            add(path + ".name", $"The name \"{p.Name}\" is not a valid channel key.",
                "Start with a lower-case letter; use lower-case letters, digits and '_' (at most 64), e.g. \"pm2_5\".");
        }

        if (string.IsNullOrWhiteSpace(p.Quantity))
        {
            add(path + ".quantity", $"{label} has no quantity.", "Say what is measured, in words.");
        }

        if (!ProfileUnits.IsKnown(p.Unit))
        {
            var suggestion = ProfileUnits.Suggest(p.Unit);
            add(path + ".unit", $"{label} has the unknown unit \"{p.Unit}\".",
                suggestion is not null
                    ? $"Write \"{suggestion}\" (units are plain-ASCII symbols of the vocabulary)."
                    : $"Use one of: {string.Join(", ", ProfileUnits.Symbols)}.");
        }

        if (!Enum.IsDefined(p.Register))
        {
            add(path + ".register", $"{label} has the unknown register kind {(int)p.Register}.",
                $"Use one of: {string.Join(", ", Enum.GetNames<RegisterKind>())}.");
            return;
        }

        if (!Enum.IsDefined(p.Type))
        {
            add(path + ".type", $"{label} has the unknown data type {(int)p.Type}.",
                $"Use one of: {string.Join(", ", Enum.GetNames<ModbusDataType>())}.");
            return;
        }

        if (!Enum.IsDefined(p.ByteOrder))
        {
            add(path + ".byteOrder", $"{label} has the unknown byte order {(int)p.ByteOrder}.",
                $"Use one of: {string.Join(", ", Enum.GetNames<ModbusByteOrder>())}.");
        }

        var bitTable = p.Register is RegisterKind.Coil or RegisterKind.DiscreteInput;
        if (bitTable && p.Type != ModbusDataType.Bit)
        {
            add(path + ".type", $"{label} is a {p.Register} but has type {p.Type}.",
                "Coils and discrete inputs hold one bit each: set \"type\": \"Bit\" (or move the point to a register table).");
        }

        if (p.Type == ModbusDataType.Bit)
        {
            if (bitTable && p.Bit is not null)
            {
                add(path + ".bit", $"{label} is a {p.Register} and needs no bit index.",
                    "Remove \"bit\": a coil or discrete input is one bit by itself.");
            }
            else if (!bitTable && p.Bit is null)
            {
                add(path + ".bit", $"{label} is a bit of a register but has no bit index.",
                    "Add \"bit\": 0 (least significant) to 15 (most significant).");
            }
            else if (!bitTable && p.Bit is < 0 or > 15)
            {
                add(path + ".bit", $"{label} has the bit index {p.Bit}, outside 0-15.",
                    "A register has 16 bits: use 0 (least significant) to 15 (most significant).");
            }
        }
        else if (p.Bit is not null)
        {
            add(path + ".bit", $"{label} has a bit index but its type is {p.Type}.",
                "Remove \"bit\", or set \"type\": \"Bit\" if the point is one bit of a register.");
        }

        if (p.Type == ModbusDataType.String)
        {
            if (p.Length is null or < 1)
            {
                add(path + ".length", $"{label} is a string without a length.",
                    $"Add \"length\": the number of registers (two ASCII characters each), 1 to {MaxRegistersPerRead}.");
            }
            else if (p.Length > MaxRegistersPerRead)
            {
                add(path + ".length", $"{label} is {p.Length} registers long; one read carries at most {MaxRegistersPerRead}.",
                    $"Use a length of at most {MaxRegistersPerRead} registers, or split the text into several points.");
            }
        }
        else if (p.Length is not null)
        {
            add(path + ".length", $"{label} has a length but its type is {p.Type}.",
                "Remove \"length\": only strings have one (the other types have a fixed size).");
        }

        var count = p.RegisterCount;
        if (p.Address is < 0 or > ushort.MaxValue)
        {
            add(path + ".address", $"{label} has the address {p.Address}, outside 0-65535.",
                "Give the 0-based protocol address (0-65535); a manual's 40001/30001 numbering minus the 40001/30001 base, e.g. 40011 → 10.");
        }
        else if (count > 0 && p.Address + count - 1 > ushort.MaxValue)
        {
            add(path + ".address", $"{label} ({p.Type}, {count} registers) at {p.Address} runs past 65535 (its last register would be {p.Address + count - 1}).",
                $"Move it to address {ushort.MaxValue - count + 1} or lower.");
        }

        if (p.PollPeriod <= TimeSpan.Zero || p.PollPeriod > TimeSpan.FromDays(1))
        {
            add(path + ".pollSeconds", $"{label} has the poll period {p.PollPeriod}, out of range.",
                "Give a period in seconds, greater than 0 and at most 86400.");
        }

        var scaled = p.Type is not (ModbusDataType.Bit or ModbusDataType.String);
        if (!double.IsFinite(p.Scale) || p.Scale == 0)
        {
            add(path + ".scale", $"{label} has the scale {p.Scale}.", "Give a finite, non-zero scale (value = raw × scale + offset); 1 for none.");
        }
        else if (!scaled && (p.Scale != 1 || p.Offset != 0))
        {
            add(path + ".scale", $"{label} is a {p.Type}, which cannot be scaled.", "Remove \"scale\" and \"offset\".");
        }

        if (!double.IsFinite(p.Offset))
        {
            add(path + ".offset", $"{label} has the offset {p.Offset}.", "Give a finite offset (0 for none).");
        }

        if (!double.IsFinite(p.Min) || !double.IsFinite(p.Max) || p.Min >= p.Max && p.Type != ModbusDataType.String)
        {
            add(path + ".max", $"{label} has the plausible range [{F(p.Min)}, {F(p.Max)}].",
                "Give finite \"min\" < \"max\" in the point's unit.");
        }
        else if (p.Type == ModbusDataType.Bit && (p.Min < 0 || p.Max > 1))
        {
            add(path + ".max", $"{label} is a bit but its range is [{F(p.Min)}, {F(p.Max)}].", "Use min 0 and max 1, or leave them out.");
        }
        else if (scaled && double.IsFinite(p.Scale) && p.Scale != 0 && double.IsFinite(p.Offset))
        {
            CheckEncodable(p, path, label, add);
        }

        CheckQualityRules(p, path, label, add);

        if (p.Simulation is { } s)
        {
            CheckSimulation(p, s, path + ".simulation", label, add);
        }
    }

    // Sentinels are raw register bits of the point's width; the valid range is an ordered pair of engineering values.
    private static void CheckQualityRules(ProfilePoint p, string path, string label, Action<string, string, string> add)
    {
        var max = ModbusPointDefinition.MaxRawBits(p.Type);
        for (var i = 0; i < (p.Sentinels?.Count ?? 0); i++)
        {
            var sentinel = p.Sentinels![i];
            if (max is null)
            {
                add($"{path}.sentinels[{i}]", $"{label} is a {p.Type}, which has no raw number to compare with a sentinel.",
                    "Remove \"sentinels\" (they apply to integer and floating-point points).");
            }
            else if (sentinel > max)
            {
                add($"{path}.sentinels[{i}]", $"{label}: the sentinel 0x{sentinel:X} does not fit a {p.Type} (raw range 0x0 to 0x{max:X}).",
                    $"Give the raw register bits of a {p.Type} (e.g. \"0x7FFF\"), or a negative number within the type (e.g. -9999 for an Int16).");
            }
        }

        if (p.ValidMin is { } lo && !double.IsFinite(lo) || p.ValidMax is { } hi && !double.IsFinite(hi))
        {
            add(path + ".validMin", $"{label} has a valid range that is not finite.", "Give finite \"validMin\"/\"validMax\" in the point's unit.");
        }
        else if (p.ValidMin > p.ValidMax)
        {
            add(path + ".validMax", $"{label}: validMin {F(p.ValidMin!.Value)} is above validMax {F(p.ValidMax!.Value)}.",
                "Give validMin ≤ validMax (the instrument's measuring range, in the point's unit).");
        }

        if (p.Decimals is < 0 or > 15)
        {
            add(path + ".decimals", $"{label} has {p.Decimals} decimals.", "Give 0 to 15 decimal places (the instrument's resolution), or leave it out.");
        }
    }

    // The plausible range must be carried by the type: a UInt16 with scale 0.1 tops out at 6553.5.
    private static void CheckEncodable(ProfilePoint p, string path, string label, Action<string, string, string> add)
    {
        (double Lo, double Hi)? raw = p.Type switch
        {
            ModbusDataType.Int16 => (short.MinValue, short.MaxValue),
            ModbusDataType.UInt16 => (0, ushort.MaxValue),
            ModbusDataType.Int32 => (int.MinValue, int.MaxValue),
            ModbusDataType.UInt32 => (0, uint.MaxValue),
            ModbusDataType.Int64 => (long.MinValue, long.MaxValue),
            _ => null,
        };
        if (raw is null)
        {
            return;
        }

        var a = raw.Value.Lo * p.Scale + p.Offset;
        var b = raw.Value.Hi * p.Scale + p.Offset;
        var (lo, hi) = a <= b ? (a, b) : (b, a);
        if (p.Min < lo || p.Max > hi)
        {
            add(path + ".max", $"{label}: a {p.Type} with scale {F(p.Scale)} and offset {F(p.Offset)} carries [{F(lo)}, {F(hi)}], which does not cover the plausible range [{F(p.Min)}, {F(p.Max)}].",
                "Check the scale against the manual, narrow min/max, or use a wider type.");
        }
    }

    private static void CheckSimulation(ProfilePoint p, PointSimulation s, string path, string label, Action<string, string, string> add)
    {
        if (p.Type == ModbusDataType.String)
        {
            if (s.Text is not null && s.Text.Length > 2 * (p.Length ?? 0))
            {
                add(path + ".text", $"{label}: the text is {s.Text.Length} characters; {p.Length} registers hold {2 * (p.Length ?? 0)}.",
                    "Shorten the text or make the point longer.");
            }

            return;
        }

        if (s.Text is not null)
        {
            add(path + ".text", $"{label} is a {p.Type}; only strings take a text.", "Remove \"text\".");
        }

        if (!double.IsFinite(s.Mean) || s.Mean < p.Min || s.Mean > p.Max)
        {
            add(path + ".mean", $"{label}: the simulated mean {F(s.Mean)} lies outside the plausible range [{F(p.Min)}, {F(p.Max)}].",
                "Put the mean inside min..max.");
        }

        if (!double.IsFinite(s.DailyAmplitude) || s.DailyAmplitude < 0)
        {
            add(path + ".dailyAmplitude", $"{label}: the daily amplitude {F(s.DailyAmplitude)} is negative or not finite.",
                "Give an amplitude ≥ 0 (half the swing between day and night); shift dailyPeakHour to invert the cycle.");
        }

        if (!double.IsFinite(s.DailyPeakHour) || s.DailyPeakHour < 0 || s.DailyPeakHour >= 24)
        {
            add(path + ".dailyPeakHour", $"{label}: the peak hour {F(s.DailyPeakHour)} is outside 0-24.",
                "Give the local hour of the daily maximum, 0 ≤ h < 24 (e.g. 14.5 for 14:30).");
        }

        if (!double.IsFinite(s.Noise) || s.Noise < 0)
        {
            add(path + ".noise", $"{label}: the noise {F(s.Noise)} is negative or not finite.", "Give a noise bound ≥ 0 in the point's unit.");
        }

        if (!double.IsFinite(s.RatePerHour))
        {
            add(path + ".ratePerHour", $"{label}: the rate per hour is not finite.", "Give a finite rate (0 for none).");
        }
    }

    private static void CheckOverlaps(IReadOnlyList<ProfilePoint> points, Action<string, string, string> add)
    {
        var indexed = points
            .Select((p, i) => (Point: p, Index: i))
            .Where(x => x.Point is not null && x.Point.Address is >= 0 and <= ushort.MaxValue && Enum.IsDefined(x.Point.Type))
            .GroupBy(x => x.Point.Register);
        foreach (var table in indexed)
        {
            var sorted = table.OrderBy(x => x.Point.Address).ThenBy(x => x.Index).ToList();
            for (var i = 0; i < sorted.Count; i++)
            {
                var a = sorted[i];
                var aEnd = a.Point.Address + Math.Max(a.Point.RegisterCount, 1) - 1;
                for (var j = i + 1; j < sorted.Count && sorted[j].Point.Address <= aEnd; j++)
                {
                    var b = sorted[j];
                    // Different bits of one register share it legitimately (a status word).
                    if (a.Point.Type == ModbusDataType.Bit && b.Point.Type == ModbusDataType.Bit
                        && a.Point.Register is RegisterKind.HoldingRegister or RegisterKind.InputRegister
                        && a.Point.Bit != b.Point.Bit)
                    {
                        continue;
                    }

                    var (first, second) = a.Index < b.Index ? (a, b) : (b, a);
                    add($"$.points[{second.Index}].address",
                        $"Point \"{second.Point.Name}\" ({DescribeSpan(second.Point)}) overlaps point \"{first.Point.Name}\" ({DescribeSpan(first.Point)}) at $.points[{first.Index}].",
                        "Fix one of the two addresses (check the manual): two values cannot share a register unless both are different bits of it.");
                }
            }
        }
    }

    private static string DescribeSpan(ProfilePoint p)
    {
        var end = p.Address + Math.Max(p.RegisterCount, 1) - 1;
        var span = end == p.Address ? $"{p.Address}" : $"{p.Address}-{end}";
        var bit = p.Type == ModbusDataType.Bit && p.Bit is { } b ? $" bit {b}" : string.Empty;
        return $"{p.Register} {span}{bit}";
    }

    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}
