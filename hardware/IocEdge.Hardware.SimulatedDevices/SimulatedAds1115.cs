namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// A TI ADS1115 (datasheet SBAS444) on a simulated I2C bus: the address pointer, the config register
/// (reset value 0x8583), single-shot conversions started by writing OS = 1 that take one data-rate period on the
/// clock (OS reads 0 meanwhile), continuous mode, and a conversion register that follows the input voltage through
/// the multiplexer and the PGA full-scale range, clipped at 0x7FFF / 0x8000 (SBAS444 "Data Format").
/// </summary>
public sealed class SimulatedAds1115 : SimulatedI2cDevice
{
    private const ushort ResetConfig = 0x8583;
    private readonly TimeProvider _time;
    // Periods run on the monotonic clock (elapsed since construction), like the part's own oscillator: a wall-clock
    // step (NTP) does not stretch or cut a conversion or a working period.
    private readonly long _origin;
    private readonly Func<int, double> _inputVolts;
    private int _pointer;
    private ushort _config = ResetConfig;
    private short _conversion;
    private ushort _lowThreshold = 0x8000;
    private ushort _highThreshold = 0x7FFF;
    private bool _converting;
    private TimeSpan _conversionDone;

    /// <param name="timeProvider">The clock conversions take time on.</param>
    /// <param name="inputVolts">Voltage of AIN0..AIN3 against GND, by input index (0-3).</param>
    /// <param name="busId">I2C bus.</param>
    /// <param name="address">0x48 (ADDR to GND) to 0x4B.</param>
    public SimulatedAds1115(TimeProvider timeProvider, Func<int, double> inputVolts, int busId = 1, int address = 0x48)
        : base(busId, address)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(inputVolts);
        _time = timeProvider;
        _origin = timeProvider.GetTimestamp();
        _inputVolts = inputVolts;
    }

    /// <summary>Conversions completed.</summary>
    public int Conversions { get; private set; }

    /// <summary>The config register as last written (OS bit as read back).</summary>
    public ushort Config
    {
        get
        {
            lock (SyncRoot)
            {
                return ConfigAsRead(Elapsed());
            }
        }
    }

    /// <summary>The 4-20 mA helper: the voltage a loop current makes across a shunt.</summary>
    public static double ShuntVolts(double milliamperes, double shuntOhms) => milliamperes / 1000.0 * shuntOhms;

    protected override void OnWrite(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            return;
        }

        _pointer = data[0] & 0x03;
        if (data.Length < 3)
        {
            return;
        }

        var value = (ushort)((data[1] << 8) | data[2]);
        switch (_pointer)
        {
            case 1:
                WriteConfig(value);
                break;
            case 2:
                _lowThreshold = value;
                break;
            case 3:
                _highThreshold = value;
                break;
            default:
                break; // the conversion register is read-only
        }
    }

    protected override void OnRead(Span<byte> data)
    {
        var now = Elapsed();
        FinishIfDue(now);
        ushort value = _pointer switch
        {
            0 => (ushort)Current(now),
            1 => ConfigAsRead(now),
            2 => _lowThreshold,
            _ => _highThreshold,
        };

        // Registers are sent MSB first; reading past two bytes repeats the register (no auto-increment).
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (i % 2) == 0 ? (byte)(value >> 8) : (byte)value;
        }
    }

    private static double FullScale(int pga) => pga switch
    {
        0 => 6.144,
        1 => 4.096,
        2 => 2.048,
        3 => 1.024,
        4 => 0.512,
        _ => 0.256,
    };

    private static int DataRate(int dr) => dr switch
    {
        0 => 8,
        1 => 16,
        2 => 32,
        3 => 64,
        4 => 128,
        5 => 250,
        6 => 475,
        _ => 860,
    };

    private bool SingleShot => (_config & 0x0100) != 0;

    private void WriteConfig(ushort value)
    {
        // OS is a command bit on write; it is not stored.
        _config = (ushort)(value & 0x7FFF);
        var start = (value & 0x8000) != 0;
        if (!SingleShot || start)
        {
            _converting = true;
            _conversionDone = Elapsed() + TimeSpan.FromSeconds(1.0 / DataRate((_config >> 5) & 0x07));
        }
    }

    private ushort ConfigAsRead(TimeSpan now)
    {
        var busy = _converting && now < _conversionDone && SingleShot;
        return (ushort)(_config | (busy ? 0 : 0x8000));
    }

    private void FinishIfDue(TimeSpan now)
    {
        if (_converting && now >= _conversionDone)
        {
            _conversion = Convert();
            Conversions++;
            _converting = !SingleShot;
            if (!SingleShot)
            {
                _conversionDone = now + TimeSpan.FromSeconds(1.0 / DataRate((_config >> 5) & 0x07));
            }
        }
    }

    private short Current(TimeSpan now)
    {
        FinishIfDue(now);
        return _conversion;
    }

    private short Convert()
    {
        var mux = (_config >> 12) & 0x07;
        var volts = mux switch
        {
            0 => _inputVolts(0) - _inputVolts(1),
            1 => _inputVolts(0) - _inputVolts(3),
            2 => _inputVolts(1) - _inputVolts(3),
            3 => _inputVolts(2) - _inputVolts(3),
            _ => _inputVolts(mux - 4),
        };
        var code = Math.Round(volts / FullScale((_config >> 9) & 0x07) * 32768.0);
        return (short)Math.Clamp(code, short.MinValue, short.MaxValue);
    }

    private TimeSpan Elapsed() => _time.GetElapsedTime(_origin);
}
