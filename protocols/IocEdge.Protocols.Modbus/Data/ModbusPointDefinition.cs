using System.Globalization;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// One value a gateway reads from a Modbus slave: where it lives, how it is encoded, how often to read it and when to
/// report it. Data only, so that an instrument profile maps to it one to one.
/// </summary>
public sealed record ModbusPointDefinition
{
    /// <summary>Stable identifier, unique within a poller (e.g. "aqm1.pm25").</summary>
    public required string Id { get; init; }

    /// <summary>Human-readable name.</summary>
    public string? Name { get; init; }

    /// <summary>Slave (unit) id, 0-247 on a serial line (MODBUS over Serial Line V1.02, section 2.2); 255 is common over TCP.</summary>
    public required byte UnitId { get; init; }

    /// <summary>The table the value lives in.</summary>
    public required RegisterKind Kind { get; init; }

    /// <summary>Protocol address (0-based) of the first register or bit.</summary>
    public required ushort Address { get; init; }

    /// <summary>Layout of the value; coils and discrete inputs are always <see cref="ModbusDataType.Bit"/>.</summary>
    public ModbusDataType DataType { get; init; } = ModbusDataType.UInt16;

    /// <summary>Byte and word order of a multi-register value (see <see cref="ModbusValueCodec"/>).</summary>
    public ModbusByteOrder ByteOrder { get; init; } = ModbusByteOrder.ABCD;

    /// <summary>Length of a <see cref="ModbusDataType.String"/> in registers (two characters each).</summary>
    public int StringRegisters { get; init; }

    /// <summary>For a <see cref="ModbusDataType.Bit"/> in a register: which bit, 0 (least significant) to 15.</summary>
    public int BitIndex { get; init; }

    /// <summary>Engineering value = raw × Scale + Offset.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Engineering value = raw × Scale + Offset.</summary>
    public double Offset { get; init; }

    /// <summary>Engineering unit ("µg/m³", "°C"), carried for the consumer; the poller does not use it.</summary>
    public string? EngineeringUnit { get; init; }

    /// <summary>How often to read the point; null takes <see cref="ModbusPollerOptions.DefaultPollPeriod"/>.</summary>
    public TimeSpan? PollPeriod { get; init; }

    /// <summary>Report every reading instead of only changes beyond the deadband.</summary>
    public bool ReportEveryPoll { get; init; }

    /// <summary>Absolute deadband in engineering units: a change must exceed it to be reported (0 = any change).</summary>
    public double Deadband { get; init; }

    /// <summary>Deadband as a percentage of the last reported value's magnitude (0 = not used).</summary>
    public double DeadbandPercent { get; init; }

    /// <summary>Report at least this often even without change; null = never without change.</summary>
    public TimeSpan? Heartbeat { get; init; }

    /// <summary>
    /// Raw values that are not measurements ("no sensor", "not available", an error code): compared with the raw bits of
    /// the register(s) before scale and offset, byte A most significant (see <see cref="ModbusValueCodec.DecodeBits"/>):
    /// a one-register point's word (Int16 -9999 is 0xD8F1), a 32-bit point's two words (0xFF676981), a Float32's IEEE 754
    /// pattern. A reading equal to one of them gets <see cref="PointQuality.Invalid"/> and no value. Empty for none;
    /// not allowed for String and Bit points.
    /// </summary>
    public IReadOnlyList<ulong> Sentinels { get; init; } = [];

    /// <summary>Lowest valid engineering value; a reading below it gets <see cref="PointQuality.OutOfRange"/> (value
    /// kept). Null for no lower bound.</summary>
    public double? ValidMin { get; init; }

    /// <summary>Highest valid engineering value; a reading above it gets <see cref="PointQuality.OutOfRange"/> (value
    /// kept). Null for no upper bound.</summary>
    public double? ValidMax { get; init; }

    /// <summary>Decimal places (0-15) the engineering value is rounded to, the instrument's declared resolution
    /// (e.g. 2 for 0.01 mg/L); null keeps every digit the register carries (a Float32 as its shortest decimal).</summary>
    public int? Decimals { get; init; }

    /// <summary>
    /// The quality of a decoded value: <see cref="PointQuality.Invalid"/> when <paramref name="rawBits"/> is one of
    /// <see cref="Sentinels"/> or <paramref name="value"/> is NaN or infinite (a Float32/Float64 register can hold
    /// those), <see cref="PointQuality.OutOfRange"/> when it lies outside [<see cref="ValidMin"/>, <see cref="ValidMax"/>],
    /// otherwise <see cref="PointQuality.Good"/>.
    /// </summary>
    /// <param name="rawBits">The raw register bits (<see cref="ModbusValueCodec.DecodeBits"/>), or null when there are
    /// none to compare (bits of a bit table).</param>
    /// <param name="value">The engineering value (raw × scale + offset).</param>
    public PointQuality Assess(ulong? rawBits, double value)
    {
        if (rawBits is { } bits)
        {
            foreach (var sentinel in Sentinels)
            {
                if (sentinel == bits)
                {
                    return PointQuality.Invalid;
                }
            }
        }

        if (!double.IsFinite(value))
        {
            return PointQuality.Invalid;
        }

        return value < ValidMin || value > ValidMax ? PointQuality.OutOfRange : PointQuality.Good;
    }

    /// <summary>Largest raw bit pattern of a data type (0xFFFF for one register, 2^32 − 1 for two, 2^64 − 1 for four);
    /// null for types that take no sentinels (String, Bit).</summary>
    public static ulong? MaxRawBits(ModbusDataType type) => type switch
    {
        ModbusDataType.Int16 or ModbusDataType.UInt16 => ushort.MaxValue,
        ModbusDataType.Int32 or ModbusDataType.UInt32 or ModbusDataType.Float32 => uint.MaxValue,
        ModbusDataType.Int64 or ModbusDataType.Float64 => ulong.MaxValue,
        _ => null,
    };

    /// <summary>The registers (or single bit) the point occupies.</summary>
    public ModbusAddressRange Range => new(Kind, Address, ModbusPollPlanner.IsBitTable(Kind)
        ? 1
        : ModbusValueCodec.RegisterCount(DataType, DataType == ModbusDataType.String ? StringRegisters : 0));

    /// <summary>Every problem with this definition, each naming the point, the property and the fix; empty when valid.</summary>
    public IReadOnlyList<string> GetErrors()
    {
        var errors = new List<string>();
        var who = string.IsNullOrWhiteSpace(Id) ? $"Point at {Kind} {Address}" : $"Point '{Id}'";

        void Add(FormattableString message) =>
            errors.Add(who + ": " + message.ToString(CultureInfo.InvariantCulture));

        if (string.IsNullOrWhiteSpace(Id))
        {
            Add($"{nameof(Id)} is empty; give every point a unique id.");
        }

        if (!Enum.IsDefined(Kind))
        {
            Add($"{nameof(Kind)} {Kind} is not one of Coil, DiscreteInput, InputRegister, HoldingRegister.");
            return errors;
        }

        if (!Enum.IsDefined(DataType))
        {
            Add($"{nameof(DataType)} {DataType} is unknown.");
            return errors;
        }

        if (!Enum.IsDefined(ByteOrder))
        {
            Add($"{nameof(ByteOrder)} {ByteOrder} is not one of ABCD, CDAB, BADC, DCBA.");
        }

        if (ModbusPollPlanner.IsBitTable(Kind) && DataType != ModbusDataType.Bit)
        {
            Add($"{Kind} points are single bits; set {nameof(DataType)} to Bit (it is {DataType}).");
        }

        if (DataType == ModbusDataType.String && StringRegisters is < 1 or > ModbusPollPlannerOptions.SpecMaxRegisters)
        {
            Add($"{nameof(StringRegisters)} is {StringRegisters}; a String point needs its length in registers, 1 to 125.");
        }

        if (DataType == ModbusDataType.Bit && !ModbusPollPlanner.IsBitTable(Kind) && BitIndex is < 0 or > 15)
        {
            Add($"{nameof(BitIndex)} is {BitIndex}; a bit field is bit 0 to 15 of its register.");
        }

        if (errors.Count == 0 && Range.End > ushort.MaxValue)
        {
            Add($"{nameof(Address)} {Address} + {Range.Count} register(s) runs past address 65535.");
        }

        if (Scale == 0 || !double.IsFinite(Scale))
        {
            Add($"{nameof(Scale)} is {Scale}; use a finite, non-zero factor (1 for none).");
        }

        if (!double.IsFinite(Offset))
        {
            Add($"{nameof(Offset)} is {Offset}; use a finite number (0 for none).");
        }

        if (PollPeriod is { } period && period <= TimeSpan.Zero)
        {
            Add($"{nameof(PollPeriod)} is {period}; use a positive period or leave it empty for the default.");
        }

        if (!(Deadband >= 0) || !(DeadbandPercent >= 0))
        {
            Add($"{nameof(Deadband)} ({Deadband}) and {nameof(DeadbandPercent)} ({DeadbandPercent}) must be 0 or positive.");
        }

        if (Sentinels is null)
        {
            Add($"{nameof(Sentinels)} is null; use an empty list for none.");
        }
        else if (Sentinels.Count > 0)
        {
            if (MaxRawBits(DataType) is not { } maxBits || ModbusPollPlanner.IsBitTable(Kind))
            {
                Add($"{nameof(Sentinels)} are given but a {DataType} point has no raw number to compare; remove them.");
            }
            else
            {
                foreach (var sentinel in Sentinels)
                {
                    if (sentinel > maxBits)
                    {
                        Add($"{nameof(Sentinels)} holds 0x{sentinel:X}, wider than a {DataType} (0 to 0x{maxBits:X}); give the raw register bits.");
                    }
                }
            }
        }

        if (ValidMin is { } lo && !double.IsFinite(lo) || ValidMax is { } hi && !double.IsFinite(hi))
        {
            Add($"{nameof(ValidMin)} ({ValidMin}) and {nameof(ValidMax)} ({ValidMax}) must be finite numbers or empty.");
        }
        else if (ValidMin > ValidMax)
        {
            Add($"{nameof(ValidMin)} ({ValidMin}) is above {nameof(ValidMax)} ({ValidMax}); swap them.");
        }

        if (Decimals is < 0 or > 15)
        {
            Add($"{nameof(Decimals)} is {Decimals}; use 0 to 15 decimal places, or leave it empty to keep every digit.");
        }

        if (Heartbeat is { } heartbeat && heartbeat <= TimeSpan.Zero)
        {
            Add($"{nameof(Heartbeat)} is {heartbeat}; use a positive period or leave it empty for none.");
        }

        return errors;
    }
}
