namespace IocEdge.Devices;

/// <summary>
/// A tipping-bucket rain gauge on a <see cref="PulseCounter"/>: every tip closes a reed switch once.
/// </summary>
public sealed class RainGauge
{
    /// <summary>
    /// 0.011 in = 0.2794 mm of rain per tip: the gauge of the SparkFun Weather Meter Kit (SEN-15901, datasheet
    /// "Weather Meters", Argent Data Systems, section "Rain Gauge"). Use the calibration on your gauge's label.
    /// </summary>
    public const double SparkFunMillimetresPerTip = 0.2794;

    private readonly PulseCounter _counter;

    public RainGauge(PulseCounter counter, double millimetresPerTip = SparkFunMillimetresPerTip)
    {
        ArgumentNullException.ThrowIfNull(counter);
        if (!(millimetresPerTip > 0 && millimetresPerTip < 10))
        {
            throw new ArgumentOutOfRangeException(nameof(millimetresPerTip), millimetresPerTip,
                "mm per tip must be between 0 and 10 (0.2794 for a 0.011 in gauge, 0.2 or 0.5 for metric gauges).");
        }

        _counter = counter;
        MillimetresPerTip = millimetresPerTip;
    }

    public double MillimetresPerTip { get; }

    public PulseCounter Counter => _counter;

    /// <summary>Rain since the gauge was installed (the counter's persisted total).</summary>
    public double TotalMillimetres => _counter.Total * MillimetresPerTip;

    /// <summary>Rain intensity over the counter's rate window, scaled to an hour.</summary>
    public double RateMillimetresPerHour => _counter.RatePerSecond() * 3600 * MillimetresPerTip;

    /// <summary><c>rain_total</c> [mm] and <c>rain_rate</c> [mm/h].</summary>
    public IReadOnlyList<SensorReading> Read() =>
    [
        SensorReading.Good("rain_total", TotalMillimetres, Units.Millimetres),
        SensorReading.Good("rain_rate", RateMillimetresPerHour, Units.MillimetresPerHour),
    ];
}
