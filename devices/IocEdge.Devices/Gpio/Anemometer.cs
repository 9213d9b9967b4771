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

    private readonly PulseCounter _counter;

    public Anemometer(PulseCounter counter, double kilometresPerHourPerHertz = SparkFunKilometresPerHourPerHertz)
    {
        ArgumentNullException.ThrowIfNull(counter);
        if (!(kilometresPerHourPerHertz > 0 && kilometresPerHourPerHertz < 100))
        {
            throw new ArgumentOutOfRangeException(nameof(kilometresPerHourPerHertz), kilometresPerHourPerHertz,
                "km/h per Hz must be between 0 and 100 (2.4 for the common cup anemometer).");
        }

        _counter = counter;
        KilometresPerHourPerHertz = kilometresPerHourPerHertz;
    }

    public double KilometresPerHourPerHertz { get; }

    public PulseCounter Counter => _counter;

    /// <summary>Mean wind speed over the counter's rate window.</summary>
    public double SpeedMetresPerSecond => _counter.RatePerSecond() * KilometresPerHourPerHertz / 3.6;

    /// <summary><c>wind_speed</c> [m/s].</summary>
    public SensorReading Read() => SensorReading.Good("wind_speed", SpeedMetresPerSecond, Units.MetresPerSecond);
}
