namespace IocEdge.Devices;

/// <summary>
/// How much a reading can be trusted. The gateway maps it one-to-one onto the contract's quality
/// (good / comm_failure / device_exception / invalid / out_of_range) without this project referencing the Modbus stack.
/// </summary>
public enum SensorQuality
{
    /// <summary>The value was measured and passed every check.</summary>
    Good,
    /// <summary>The bus, the wire or the file did not answer (no ack, no frame, sensor unplugged, open loop).</summary>
    CommFailure,
    /// <summary>The device answered but what it said is not a valid measurement (fault signal, reset value, bad id).</summary>
    DeviceException,
    /// <summary>The device answered with a code that stands for "no measurement" (a skipped-measurement word, a
    /// power-on value, a NaN); contract quality <c>invalid</c>, value absent.</summary>
    Invalid,
    /// <summary>A number was measured but lies outside the sensor's datasheet measuring range; contract quality
    /// <c>out_of_range</c>, the value travels.</summary>
    OutOfRange,
}

/// <summary>
/// One measured quantity. <see cref="Value"/> is a finite number when <see cref="HasValue"/> (quality Good or
/// OutOfRange) and <see cref="double.NaN"/> otherwise; <see cref="Error"/> says, when the quality is not Good, what
/// went wrong in words a technician can act on.
/// </summary>
/// <param name="Quantity">Stable name of the quantity, e.g. <c>temperature</c>, <c>pm2_5</c>, <c>rain_total</c>.</param>
/// <param name="Value">The value in <paramref name="Unit"/>.</param>
/// <param name="Unit">One of the <see cref="Units"/> strings.</param>
/// <param name="Quality">Good, or why not.</param>
/// <param name="Error">Null when good; otherwise the reason.</param>
public readonly record struct SensorReading(string Quantity, double Value, string Unit, SensorQuality Quality, string? Error)
{
    /// <summary>True when the value can be used.</summary>
    public bool Ok => Quality == SensorQuality.Good;

    /// <summary>True when <see cref="Value"/> carries a number (Good, or OutOfRange: measured but outside the range).</summary>
    public bool HasValue => Quality is SensorQuality.Good or SensorQuality.OutOfRange;

    /// <summary>
    /// A good reading. A value that is not a finite number (NaN, ±infinity: a compensation formula fed a reset word, a
    /// division by zero) is never good: it becomes an <see cref="SensorQuality.Invalid"/> reading instead.
    /// </summary>
    public static SensorReading Good(string quantity, double value, string unit) =>
        double.IsFinite(value)
            ? new(quantity, value, unit, SensorQuality.Good, null)
            : Invalid(quantity, unit, $"{quantity}: the driver computed {value}, which is not a measurement.");

    /// <summary>The device answered with a code that stands for "no measurement" (contract quality <c>invalid</c>).</summary>
    public static SensorReading Invalid(string quantity, string unit, string error) =>
        new(quantity, double.NaN, unit, SensorQuality.Invalid, error);

    /// <summary>
    /// A measured value outside the sensor's datasheet measuring range (contract quality <c>out_of_range</c>): the
    /// value travels, <paramref name="error"/> names the range and its source.
    /// </summary>
    public static SensorReading OutOfRange(string quantity, double value, string unit, string error) =>
        double.IsFinite(value)
            ? new(quantity, value, unit, SensorQuality.OutOfRange, error)
            : Invalid(quantity, unit, error);

    /// <summary>
    /// Good inside [<paramref name="min"/>, <paramref name="max"/>], OutOfRange (value kept) outside it, Invalid when
    /// not finite. <paramref name="range"/> names the range's source for the message, e.g. "BME280 datasheet Table 1".
    /// </summary>
    public static SensorReading Ranged(string quantity, double value, string unit, double min, double max, string device, string range)
    {
        if (!double.IsFinite(value) || (value >= min && value <= max))
        {
            return Good(quantity, value, unit);
        }

        return OutOfRange(quantity, value, unit,
            FormattableString.Invariant($"{device}: {quantity} {value:0.###} {unit} is outside the measuring range {min}..{max} {unit} ({range})."));
    }

    /// <summary>A failed reading carrying the reason.</summary>
    public static SensorReading Failed(string quantity, string unit, SensorQuality quality, string error) =>
        new(quantity, double.NaN, unit, quality, error);

    /// <summary>A failed reading built from a driver's typed error.</summary>
    public static SensorReading Failed(string quantity, string unit, SensorException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new(quantity, double.NaN, unit, error.Quality, error.Message);
    }
}

/// <summary>The unit strings every driver reports in (the gateway and the aggregator use the same spelling).</summary>
public static class Units
{
    public const string DegreesCelsius = "degC";
    public const string Hectopascal = "hPa";
    public const string RelativeHumidity = "%RH";
    public const string MicrogramsPerCubicMetre = "ug/m3";
    public const string Millimetres = "mm";
    public const string MillimetresPerHour = "mm/h";
    public const string MetresPerSecond = "m/s";
    public const string Milliamperes = "mA";
    public const string Volts = "V";
    /// <summary>A digital state: 1 = active, 0 = inactive.</summary>
    public const string State = "state";
    /// <summary>A plain count (pulses).</summary>
    public const string Count = "count";
}
