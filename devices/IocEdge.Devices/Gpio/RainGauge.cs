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

    /// <summary>
    /// Default highest believable intensity, mm/h: the upper end of the measurement range for precipitation
    /// intensity in WMO-No. 8 (Guide to Instruments and Methods of Observation), Part I, Annex 1.A (0.02-2000 mm/h).
    /// Pass your gauge's own maximum intensity when its datasheet gives one (often 300-500 mm/h).
    /// </summary>
    public const double DefaultMaxRateMillimetresPerHour = 2000;

    private readonly PulseCounter _counter;

    /// <param name="counter">The pulse counter on the gauge's reed switch.</param>
    /// <param name="millimetresPerTip">Rain per bucket tip, mm (0.2794 for the SparkFun gauge).</param>
    /// <param name="maxRateMillimetresPerHour">
    /// Above this intensity (mm/h) <c>rain_rate</c> is reported OutOfRange (value kept): a rate the gauge cannot
    /// physically produce means electrical noise or a chattering switch, not rain.
    /// </param>
    public RainGauge(PulseCounter counter, double millimetresPerTip = SparkFunMillimetresPerTip,
        double maxRateMillimetresPerHour = DefaultMaxRateMillimetresPerHour)
    {
        ArgumentNullException.ThrowIfNull(counter);
        if (!(maxRateMillimetresPerHour > 0 && double.IsFinite(maxRateMillimetresPerHour)))
        {
            throw new ArgumentOutOfRangeException(nameof(maxRateMillimetresPerHour), maxRateMillimetresPerHour,
                "the gauge's maximum intensity must be a positive number of mm/h (2000 if the datasheet gives none).");
        }

        if (!(millimetresPerTip > 0 && millimetresPerTip < 10))
        {
            throw new ArgumentOutOfRangeException(nameof(millimetresPerTip), millimetresPerTip,
                "mm per tip must be between 0 and 10 (0.2794 for a 0.011 in gauge, 0.2 or 0.5 for metric gauges).");
        }

        _counter = counter;
        MillimetresPerTip = millimetresPerTip;
        MaxRateMillimetresPerHour = maxRateMillimetresPerHour;
    }

    public double MillimetresPerTip { get; }

    /// <summary>Highest intensity reported Good, mm/h.</summary>
    public double MaxRateMillimetresPerHour { get; }

    public PulseCounter Counter => _counter;

    /// <summary>Rain since the gauge was installed (the counter's persisted total).</summary>
    public double TotalMillimetres => _counter.Total * MillimetresPerTip;

    /// <summary>Rain intensity over the counter's rate window, scaled to an hour.</summary>
    public double RateMillimetresPerHour => _counter.RatePerSecond() * 3600 * MillimetresPerTip;

    /// <summary>
    /// <c>rain_total</c> [mm] and <c>rain_rate</c> [mm/h]; the rate is OutOfRange (value kept) above
    /// <see cref="MaxRateMillimetresPerHour"/>.
    /// </summary>
    public IReadOnlyList<SensorReading> Read() =>
    [
        SensorReading.Good("rain_total", TotalMillimetres, Units.Millimetres),
        SensorReading.Ranged("rain_rate", RateMillimetresPerHour, Units.MillimetresPerHour, 0, MaxRateMillimetresPerHour,
            $"Rain gauge '{_counter.Name}'", "the gauge's maximum intensity"),
    ];
}
