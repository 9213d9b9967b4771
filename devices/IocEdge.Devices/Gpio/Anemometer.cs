namespace IocEdge.Devices;

/// <summary>
/// A cup anemometer on a <see cref="PulseCounter"/>: its reed switch closes once per rotation, so the wind
/// speed is the pulse frequency times the calibration factor.
/// </summary>
public sealed class Anemometer
{
    /// <summary>
    /// 2.4 km/h per Hz (one closure per second = 1.492 mph = 2.4 km/h): the cup anemometer of the SparkFun
    /// Weather Meter Kit (SEN-15901, datasheet "Weather Meters", Argent Data Systems, section "Wind Speed").
    /// </summary>
    public const double SparkFunKilometresPerHourPerHertz = 2.4;

    /// <summary>
    /// Default highest believable wind speed, m/s: the upper end of the measurement range for wind speed in WMO-No. 8,
    /// Part I, Annex 1.A (0-75 m/s). Pass your anemometer's own maximum when its datasheet gives one.
    /// </summary>
    public const double DefaultMaxMetresPerSecond = 75;

    private readonly PulseCounter _counter;

    /// <param name="counter">The pulse counter on the anemometer's reed switch.</param>
    /// <param name="kilometresPerHourPerHertz">Calibration, km/h per Hz (2.4 for the SparkFun anemometer).</param>
    /// <param name="maxMetresPerSecond">Above this speed (m/s) <c>wind_speed</c> is OutOfRange (value kept).</param>
    public Anemometer(PulseCounter counter, double kilometresPerHourPerHertz = SparkFunKilometresPerHourPerHertz,
        double maxMetresPerSecond = DefaultMaxMetresPerSecond)
    {
        ArgumentNullException.ThrowIfNull(counter);
        if (!(maxMetresPerSecond > 0 && double.IsFinite(maxMetresPerSecond)))
        {
            throw new ArgumentOutOfRangeException(nameof(maxMetresPerSecond), maxMetresPerSecond,
                "the anemometer's maximum speed must be a positive number of m/s (75 if the datasheet gives none).");
        }

        if (!(kilometresPerHourPerHertz > 0 && kilometresPerHourPerHertz < 100))
        {
            throw new ArgumentOutOfRangeException(nameof(kilometresPerHourPerHertz), kilometresPerHourPerHertz,
                "km/h per Hz must be between 0 and 100 (2.4 for the common cup anemometer).");
        }

        _counter = counter;
        KilometresPerHourPerHertz = kilometresPerHourPerHertz;
        MaxMetresPerSecond = maxMetresPerSecond;
    }

    /// <summary>Highest speed reported Good, m/s.</summary>
    public double MaxMetresPerSecond { get; }

    public double KilometresPerHourPerHertz { get; }

    public PulseCounter Counter => _counter;

    /// <summary>Mean wind speed over the counter's rate window.</summary>
    public double SpeedMetresPerSecond => _counter.RatePerSecond() * KilometresPerHourPerHertz / 3.6;

    /// <summary><c>wind_speed</c> [m/s]; OutOfRange (value kept) above <see cref="MaxMetresPerSecond"/>.</summary>
    public SensorReading Read() => SensorReading.Ranged("wind_speed", SpeedMetresPerSecond, Units.MetresPerSecond, 0,
        MaxMetresPerSecond, $"Anemometer '{_counter.Name}'", "the anemometer's maximum speed");
}
