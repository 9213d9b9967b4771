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
/// One measured quantity. <see cref="Value"/> is <see cref="double.NaN"/> when <see cref="Ok"/> is false,
/// and <see cref="Error"/> then says what went wrong in words a technician can act on.
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

    /// <summary>A good reading.</summary>
    public static SensorReading Good(string quantity, double value, string unit) =>
        new(quantity, value, unit, SensorQuality.Good, null);

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
