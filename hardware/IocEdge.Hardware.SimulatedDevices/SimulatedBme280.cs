namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>The air a simulated BME280 is sitting in.</summary>
public readonly record struct AirConditions(double TemperatureCelsius, double PressureHectopascals, double HumidityPercent);

/// <summary>
/// A Bosch BME280 register file (datasheet BST-BME280-DS002, section 5.3 memory map) on a simulated I2C bus.
/// It has the chip id 0x60, the trimming parameters at 0x88-0xA1 and 0xE1-0xE7 (section 4.2.2, Table 16),
/// ctrl_hum/ctrl_meas/config, soft reset (0xB6 to 0xE0), forced and normal mode with the status "measuring" bit
/// set for the typical measurement time of section 9.1, and data registers 0xF7-0xFE that hold the raw ADC values
/// which, fed to the datasheet's compensation formulas (section 8.1, double precision), give back the conditions
/// read from the source. Writes use register/value pairs and reads auto-increment (section 6.2).
/// </summary>
public sealed class SimulatedBme280 : SimulatedI2cDevice
{
    private const byte ChipIdRegister = 0xD0;
    private const byte ResetRegister = 0xE0;
    private const byte CtrlHumRegister = 0xF2;
    private const byte StatusRegister = 0xF3;
    private const byte CtrlMeasRegister = 0xF4;
    private const byte ConfigRegister = 0xF5;
    private const byte DataStart = 0xF7;
    private const byte DataEnd = 0xFE;

    private readonly TimeProvider _time;
    // Periods run on the monotonic clock (elapsed since construction), like the part's own oscillator: a wall-clock
    // step (NTP) does not stretch or cut a conversion or a working period.
    private readonly long _origin;
    private readonly Func<AirConditions> _conditions;
    private readonly byte[] _registers = new byte[256];
    private byte _pointer;
    private int _humidityOversampling; // latched from ctrl_hum at the ctrl_meas write (datasheet 5.4.3)
    private TimeSpan _conversionDone;
    private bool _conversionPending;
    private TimeSpan _nvmCopyDone;

    /// <param name="timeProvider">The clock conversions take time on.</param>
    /// <param name="conditions">Read at the end of each conversion.</param>
    /// <param name="trimming">The part's calibration; <see cref="Trimming.DatasheetExample"/> by default.</param>
    /// <param name="busId">I2C bus (1 on a Pi header).</param>
    /// <param name="address">0x76 (SDO to GND) or 0x77 (SDO to VDDIO).</param>
    public SimulatedBme280(TimeProvider timeProvider, Func<AirConditions> conditions, Trimming? trimming = null,
        int busId = 1, int address = 0x76)
        : base(busId, address)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(conditions);
        _time = timeProvider;
        _origin = timeProvider.GetTimestamp();
        _conditions = conditions;
        Calibration = trimming ?? Trimming.DatasheetExample;
        PowerOn();
    }

    /// <summary>The trimming parameters programmed into this part.</summary>
    public Trimming Calibration { get; }

    /// <summary>Overrides the chip id register (0x60). Set 0x00 or 0xFF to simulate a stuck bus, 0x58 for a BMP280.</summary>
    public byte ChipId
    {
        get => _registers[ChipIdRegister];
        set
        {
            lock (SyncRoot)
            {
                _registers[ChipIdRegister] = value;
            }
        }
    }

    /// <summary>
    /// When set, conversions put exactly these ADC words in the data registers instead of converting the
    /// conditions: used to replay the datasheet's worked example.
    /// </summary>
    public (int Temperature, int Pressure, int Humidity)? RawOverride { get; set; }

    /// <summary>Conversions completed so far.</summary>
    public int Conversions { get; private set; }

    /// <summary>
    /// Typical measurement time of datasheet section 9.1:
    /// 1 + 2·osrs_t + (2·osrs_p + 0.5) + (2·osrs_h + 0.5) ms, where a skipped measurement adds nothing.
    /// </summary>
    public static TimeSpan TypicalMeasurementTime(int temperatureOversampling, int pressureOversampling, int humidityOversampling)
    {
        var ms = 1.0 + 2 * temperatureOversampling;
        if (pressureOversampling > 0)
        {
            ms += 2 * pressureOversampling + 0.5;
        }

        if (humidityOversampling > 0)
        {
            ms += 2 * humidityOversampling + 0.5;
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Raw temperature word that the section 8.1 formula turns into <paramref name="celsius"/>.</summary>
    public int RawTemperatureFor(double celsius) =>
        SearchIncreasing(0, 0xFFFFF, adc => CompensateTemperature(adc, out _) >= celsius);

    /// <summary>Raw pressure word for <paramref name="hectopascals"/> at the temperature given by <paramref name="rawTemperature"/>.</summary>
    public int RawPressureFor(double hectopascals, int rawTemperature)
    {
        CompensateTemperature(rawTemperature, out var tFine);
        // Pressure falls as adc_P rises: find the first word whose pressure is at or below the target.
        return SearchIncreasing(0, 0xFFFFF, adc => CompensatePressure(adc, tFine) <= hectopascals * 100);
    }

    /// <summary>Raw humidity word for <paramref name="percent"/> at the temperature given by <paramref name="rawTemperature"/>.</summary>
    public int RawHumidityFor(double percent, int rawTemperature)
    {
        CompensateTemperature(rawTemperature, out var tFine);
        return SearchIncreasing(0, 0xFFFF, adc => CompensateHumidity(adc, tFine) >= percent);
    }

    protected override void OnWrite(ReadOnlySpan<byte> data)
    {
        // Section 6.2.1: a write is a sequence of (register address, value) pairs; a lone address sets the pointer.
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            WriteRegister(data[i], data[i + 1]);
        }

        if (i < data.Length)
        {
            _pointer = data[i];
        }
    }

    protected override void OnRead(Span<byte> data)
    {
        var now = Elapsed();
        FinishConversionIfDue(now);
        if (Mode == 3 && _pointer <= DataEnd && _pointer + data.Length > DataStart)
        {
            // Normal mode converts continuously; a burst read sees one consistent (shadowed) set of values.
            Convert();
        }

        for (var i = 0; i < data.Length; i++)
        {
            data[i] = _pointer == StatusRegister ? Status(now) : _registers[_pointer];
            if (_pointer < 0xFF)
            {
                _pointer++;
            }
        }
    }

    private int Mode => _registers[CtrlMeasRegister] & 0x03;

    /// <summary>
    /// A supply glitch (brown-out): every register returns to its reset value (section 5.3), so the configuration is
    /// lost and the data registers read 0x80000 / 0x8000 until the part is configured and converts again.
    /// </summary>
    public void PowerCycle()
    {
        lock (SyncRoot)
        {
            PowerOn();
        }
    }

    private void PowerOn()
    {
        var chipId = _registers[ChipIdRegister] == 0 ? (byte)0x60 : _registers[ChipIdRegister];
        Array.Clear(_registers);
        _registers[ChipIdRegister] = chipId;
        Calibration.WriteTo(_registers);
        // Reset values of the data registers (section 5.3): 0x80000 for T and P, 0x8000 for H.
        _registers[0xF7] = 0x80;
        _registers[0xFA] = 0x80;
        _registers[0xFD] = 0x80;
        _humidityOversampling = 0;
        _conversionPending = false;
        // Start-up / NVM copy time of 2 ms (Table 1, t_startup): im_update reads 1 until then.
        _nvmCopyDone = Elapsed() + TimeSpan.FromMilliseconds(2);
    }

    private void WriteRegister(byte register, byte value)
    {
        _pointer = register;
        switch (register)
        {
            case ResetRegister:
                if (value == 0xB6)
                {
                    PowerOn();
                }

                break;
            case CtrlHumRegister:
                _registers[register] = (byte)(value & 0x07);
                break;
            case ConfigRegister:
                _registers[register] = (byte)(value & 0xFD);
                break;
            case CtrlMeasRegister:
                _registers[register] = value;
                _humidityOversampling = Oversampling(_registers[CtrlHumRegister] & 0x07);
                if ((value & 0x03) is 1 or 2)
                {
                    _conversionPending = true;
                    _conversionDone = Elapsed() + TypicalMeasurementTime(
                        Oversampling(value >> 5), Oversampling((value >> 2) & 0x07), _humidityOversampling);
                }

                break;
            default:
                // Every other register is read-only: writes are ignored by the part.
                break;
        }
    }

    private byte Status(TimeSpan now)
    {
        // In normal mode the data registers are always readable (shadowed), so measuring is not shown there.
        var measuring = _conversionPending && now < _conversionDone;
        var imUpdate = now < _nvmCopyDone;
        return (byte)((measuring ? 0x08 : 0) | (imUpdate ? 0x01 : 0));
    }

    private void FinishConversionIfDue(TimeSpan now)
    {
        if (_conversionPending && now >= _conversionDone)
        {
            Convert();
            _conversionPending = false;
            // Forced mode returns to sleep after one conversion (section 3.3.3).
            _registers[CtrlMeasRegister] = (byte)(_registers[CtrlMeasRegister] & 0xFC);
        }
    }

    private void Convert()
    {
        var ctrlMeas = _registers[CtrlMeasRegister];
        var osrsT = Oversampling(ctrlMeas >> 5);
        var osrsP = Oversampling((ctrlMeas >> 2) & 0x07);
        int adcT, adcP, adcH;
        if (RawOverride is { } raw)
        {
            (adcT, adcP, adcH) = raw;
        }
        else
        {
            var air = _conditions();
            adcT = RawTemperatureFor(air.TemperatureCelsius);
            adcP = RawPressureFor(air.PressureHectopascals, adcT);
            adcH = RawHumidityFor(air.HumidityPercent, adcT);
        }

        // A skipped measurement leaves its reset value (section 5.4.7 - 5.4.9).
        if (osrsT == 0)
        {
            adcT = 0x80000;
        }

        if (osrsP == 0)
        {
            adcP = 0x80000;
        }

        if (_humidityOversampling == 0)
        {
            adcH = 0x8000;
        }

        Put20(0xF7, adcP);
        Put20(0xFA, adcT);
        _registers[0xFD] = (byte)(adcH >> 8);
        _registers[0xFE] = (byte)adcH;
        Conversions++;
    }

    private void Put20(int register, int value)
    {
        _registers[register] = (byte)(value >> 12);
        _registers[register + 1] = (byte)(value >> 4);
        _registers[register + 2] = (byte)((value & 0x0F) << 4);
    }

    /// <summary>Register code to oversampling factor: 0 = skipped, 1, 2, 4, 8, 16 (codes 5-7 all mean 16).</summary>
    private static int Oversampling(int code) => (code & 0x07) switch
    {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4 => 8,
        _ => 16,
    };

    private static int SearchIncreasing(int low, int high, Func<int, bool> reached)
    {
        // Smallest value in [low, high] for which reached() is true (reached is monotonic).
        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            if (reached(mid))
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        return low;
    }

    // Section 8.1, double precision formulas (the simulator's physics; the driver uses the integer ones of 4.2.3).
    private double CompensateTemperature(int adcT, out int tFine)
    {
        var c = Calibration;
        var var1 = ((adcT / 16384.0) - (c.T1 / 1024.0)) * c.T2;
        var d = (adcT / 131072.0) - (c.T1 / 8192.0);
        var var2 = d * d * c.T3;
        tFine = (int)(var1 + var2);
        return (var1 + var2) / 5120.0;
    }

    private double CompensatePressure(int adcP, int tFine)
    {
        var c = Calibration;
        var var1 = (tFine / 2.0) - 64000.0;
        var var2 = var1 * var1 * c.P6 / 32768.0;
        var2 += var1 * c.P5 * 2.0;
        var2 = (var2 / 4.0) + (c.P4 * 65536.0);
        var1 = ((c.P3 * var1 * var1 / 524288.0) + (c.P2 * var1)) / 524288.0;
        var1 = (1.0 + (var1 / 32768.0)) * c.P1;
        if (var1 == 0)
        {
            return 0;
        }

        var p = 1048576.0 - adcP;
        p = (p - (var2 / 4096.0)) * 6250.0 / var1;
        var1 = c.P9 * p * p / 2147483648.0;
        var2 = p * c.P8 / 32768.0;
        return p + ((var1 + var2 + c.P7) / 16.0);
    }

    private double CompensateHumidity(int adcH, int tFine)
    {
        var c = Calibration;
        var h = tFine - 76800.0;
        h = (adcH - ((c.H4 * 64.0) + (c.H5 / 16384.0 * h)))
            * (c.H2 / 65536.0 * (1.0 + (c.H6 / 67108864.0 * h * (1.0 + (c.H3 / 67108864.0 * h)))));
        h *= 1.0 - (c.H1 * h / 524288.0);
        return Math.Clamp(h, 0, 100);
    }

    /// <summary>The trimming parameters dig_T1..dig_H6 (datasheet section 4.2.2, Table 16).</summary>
    public sealed record Trimming(
        ushort T1, short T2, short T3,
        ushort P1, short P2, short P3, short P4, short P5, short P6, short P7, short P8, short P9,
        byte H1, short H2, byte H3, short H4, short H5, sbyte H6)
    {
        /// <summary>
        /// T and P: the worked example of the BMP280 datasheet (BST-BMP280-DS001, section 3.12, "Calculating
        /// pressure and temperature"), whose formulas are the BME280's (BME280 datasheet section 4.2.3). The BME280
        /// datasheet gives no humidity example; H1..H6 are values typical of production parts.
        /// </summary>
        public static Trimming DatasheetExample { get; } = new(
            27504, 26435, -1000,
            36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
            75, 362, 0, 313, 50, 30);

        internal void WriteTo(byte[] registers)
        {
            void Word(int at, int value)
            {
                registers[at] = (byte)value;
                registers[at + 1] = (byte)(value >> 8);
            }

            Word(0x88, T1);
            Word(0x8A, T2);
            Word(0x8C, T3);
            Word(0x8E, P1);
            Word(0x90, P2);
            Word(0x92, P3);
            Word(0x94, P4);
            Word(0x96, P5);
            Word(0x98, P6);
            Word(0x9A, P7);
            Word(0x9C, P8);
            Word(0x9E, P9);
            registers[0xA1] = H1;
            Word(0xE1, H2);
            registers[0xE3] = H3;
            // dig_H4 = 0xE4[7:0] << 4 | 0xE5[3:0]; dig_H5 = 0xE6[7:0] << 4 | 0xE5[7:4] (12-bit signed each).
            registers[0xE4] = (byte)(H4 >> 4);
            registers[0xE5] = (byte)((H4 & 0x0F) | ((H5 & 0x0F) << 4));
            registers[0xE6] = (byte)(H5 >> 4);
            registers[0xE7] = (byte)H6;
        }
    }

    private TimeSpan Elapsed() => _time.GetElapsedTime(_origin);
}
