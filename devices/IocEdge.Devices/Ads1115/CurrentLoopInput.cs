namespace IocEdge.Devices;

/// <summary>A 4-20 mA instrument read as the voltage across a shunt resistor on one ADS1115 input.</summary>
public sealed record CurrentLoopOptions
{
    /// <summary>The measured quantity, e.g. <c>water_level</c>.</summary>
    public required string Quantity { get; init; }

    /// <summary>Its engineering unit, e.g. <c>m</c>.</summary>
    public required string Unit { get; init; }

    /// <summary>Engineering value at 4 mA.</summary>
    public required double ValueAt4mA { get; init; }

    /// <summary>Engineering value at 20 mA.</summary>
    public required double ValueAt20mA { get; init; }

    public Ads1115Input Input { get; init; } = Ads1115Input.Ain0;

    /// <summary>The shunt in ohms: 250 Ω turns 4-20 mA into 1-5 V (see Ads1115/README.md for the 3.3 V case).</summary>
    public double ShuntOhms { get; init; } = 250;

    /// <summary>Must cover 21 mA × shunt so that the NE 43 upscale failure signal can be seen.</summary>
    public Ads1115FullScale FullScale { get; init; } = Ads1115FullScale.PlusMinus6144mV;

    public Ads1115DataRate DataRate { get; init; } = Ads1115DataRate.Sps128;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Quantity) || string.IsNullOrWhiteSpace(Unit))
        {
            throw new ArgumentException("CurrentLoop Quantity and Unit must be set (e.g. 'water_level', 'm').");
        }

        if (!(ShuntOhms >= 10 && ShuntOhms <= 1000))
        {
            throw new ArgumentException($"CurrentLoop '{Quantity}' ShuntOhms {ShuntOhms} is out of range: use 10-1000 Ω (250 Ω gives 1-5 V).");
        }

        if (ValueAt4mA == ValueAt20mA || !double.IsFinite(ValueAt4mA) || !double.IsFinite(ValueAt20mA))
        {
            throw new ArgumentException($"CurrentLoop '{Quantity}' ValueAt4mA and ValueAt20mA must be finite and different (the instrument's range).");
        }

        var needed = 0.021 * ShuntOhms;
        if (needed > Ads1115.FullScaleVolts(FullScale))
        {
            throw new ArgumentException(
                $"CurrentLoop '{Quantity}' FullScale ±{Ads1115.FullScaleVolts(FullScale)} V cannot show 21 mA across {ShuntOhms} Ω ({needed:0.###} V): " +
                "choose a larger FullScale or a smaller shunt.");
        }

        if (Input < Ads1115Input.Ain0)
        {
            throw new ArgumentException($"CurrentLoop '{Quantity}' Input must be single-ended (Ain0..Ain3): the shunt's low side is GND.");
        }
    }
}

/// <summary>
/// A 4-20 mA input: current = shunt voltage / shunt resistance, scaled linearly to engineering units, with the
/// signal levels of NAMUR NE 43: 3.8-20.5 mA is a measurement, ≤ 3.6 mA or ≥ 21 mA is a failure signal.
/// No current at all means the loop is open (broken wire, no loop supply).
/// </summary>
public sealed class CurrentLoopInput
{
    /// <summary>Below this the loop is open, not just signalling a fault.</summary>
    public const double OpenLoopMilliamperes = 0.5;

    /// <summary>NE 43 downscale failure signal limit.</summary>
    public const double FailureLowMilliamperes = 3.6;

    /// <summary>NE 43 lower end of the measuring range (under-range still a measurement).</summary>
    public const double MeasurementLowMilliamperes = 3.8;

    /// <summary>NE 43 upper end of the measuring range (over-range still a measurement).</summary>
    public const double MeasurementHighMilliamperes = 20.5;

    /// <summary>NE 43 upscale failure signal limit.</summary>
    public const double FailureHighMilliamperes = 21.0;

    private readonly Ads1115 _adc;
    private readonly CurrentLoopOptions _options;

    public CurrentLoopInput(Ads1115 adc, CurrentLoopOptions options)
    {
        ArgumentNullException.ThrowIfNull(adc);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _adc = adc;
        _options = options;
    }

    public CurrentLoopOptions Options => _options;

    /// <summary>Linear scaling of a loop current to engineering units.</summary>
    public double Scale(double milliamperes) =>
        _options.ValueAt4mA + ((milliamperes - 4.0) / 16.0 * (_options.ValueAt20mA - _options.ValueAt4mA));

    /// <summary>
    /// Two readings: the quantity (Good, or the NE 43 fault) and <c>{quantity}_current</c> in mA (the raw loop
    /// current, Good whenever the ADC answered). Never throws for a device problem.
    /// </summary>
    public async Task<IReadOnlyList<SensorReading>> ReadAsync(CancellationToken cancellationToken = default)
    {
        var currentName = _options.Quantity + "_current";
        Ads1115Sample sample;
        try
        {
            sample = await _adc.ReadAsync(_options.Input, _options.FullScale, _options.DataRate, cancellationToken).ConfigureAwait(false);
        }
        catch (SensorException ex)
        {
            return
            [
                SensorReading.Failed(_options.Quantity, _options.Unit, ex),
                SensorReading.Failed(currentName, Units.Milliamperes, ex),
            ];
        }

        var mA = sample.Volts / _options.ShuntOhms * 1000.0;
        // A clipped ADC code (0x7FFF) gives a lower bound, not the current: it travels, marked out of range.
        var current = sample.Saturated
            ? SensorReading.OutOfRange(currentName, mA, Units.Milliamperes,
                $"{_options.Quantity} on {_adc.Description} {_options.Input}: ADC at full scale, the loop current is at least {mA:0.00} mA.")
            : SensorReading.Good(currentName, mA, Units.Milliamperes);
        var where = $"{_options.Quantity} on {_adc.Description} {_options.Input}";
        SensorReading value;
        if (sample.Saturated && sample.Code > 0)
        {
            value = SensorReading.Failed(_options.Quantity, _options.Unit, SensorQuality.DeviceException,
                $"{where}: ADC at full scale ({sample.Volts:0.###} V): over-range or short circuit (NE 43 failure signal ≥ 21 mA).");
        }
        else if (mA < OpenLoopMilliamperes)
        {
            value = SensorReading.Failed(_options.Quantity, _options.Unit, SensorQuality.CommFailure,
                $"{where}: open loop ({mA:0.00} mA): broken wire, no loop supply or transmitter disconnected.");
        }
        else if (mA <= FailureLowMilliamperes)
        {
            value = SensorReading.Failed(_options.Quantity, _options.Unit, SensorQuality.DeviceException,
                $"{where}: {mA:0.00} mA is a transmitter failure signal (NAMUR NE 43: ≤ 3.6 mA).");
        }
        else if (mA < MeasurementLowMilliamperes)
        {
            // NE 43 leaves 3.6-3.8 mA undefined: neither a measurement nor a failure signal. The value travels.
            value = SensorReading.OutOfRange(_options.Quantity, Scale(mA), _options.Unit,
                $"{where}: {mA:0.00} mA is below the measuring range (NAMUR NE 43: 3.8-20.5 mA) but not a failure signal (≤ 3.6 mA).");
        }
        else if (mA >= FailureHighMilliamperes)
        {
            value = SensorReading.Failed(_options.Quantity, _options.Unit, SensorQuality.DeviceException,
                $"{where}: {mA:0.00} mA is a transmitter failure signal (NAMUR NE 43: ≥ 21 mA).");
        }
        else if (mA > MeasurementHighMilliamperes)
        {
            // NE 43 leaves 20.5-21 mA undefined: neither a measurement nor a failure signal. The value travels.
            value = SensorReading.OutOfRange(_options.Quantity, Scale(mA), _options.Unit,
                $"{where}: {mA:0.00} mA is above the measuring range (NAMUR NE 43: 3.8-20.5 mA) but not a failure signal (≥ 21 mA).");
        }
        else
        {
            value = SensorReading.Good(_options.Quantity, Scale(mA), _options.Unit);
        }

        return [value, current];
    }
}
