using System.Device.I2c;

namespace IocEdge.Devices;

/// <summary>One ADS1115 conversion.</summary>
/// <param name="Code">The raw two's complement result.</param>
/// <param name="Volts">Code × full scale / 32768.</param>
/// <param name="Saturated">True when the code is at either end (0x7FFF or 0x8000): the input is outside the range.</param>
public readonly record struct Ads1115Sample(short Code, double Volts, bool Saturated);

/// <summary>
/// TI ADS1115 16-bit I2C ADC (datasheet SBAS444) in single-shot mode: each read writes the config register with
/// OS = 1 (start), the input, the full-scale range and the data rate, waits one conversion time on the clock,
/// polls OS until the conversion is done and reads the conversion register. Several channels may share one
/// ADC: reads are serialised.
/// </summary>
public sealed class Ads1115 : IDisposable
{
    /// <summary>ADDR to GND. 0x49 = VDD, 0x4A = SDA, 0x4B = SCL.</summary>
    public const int DefaultAddress = 0x48;

    private const ushort StartSingleShot = 0x8000;
    private const ushort SingleShotMode = 0x0100;
    private const ushort ComparatorDisabled = 0x0003;

    private readonly I2cDevice _device;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _busy = new(1, 1);

    public Ads1115(I2cDevice device, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _time = timeProvider ?? TimeProvider.System;
    }

    public string Description => $"ADS1115 on I2C bus {_device.ConnectionSettings.BusId} at 0x{_device.ConnectionSettings.DeviceAddress:X2}";

    /// <summary>Full-scale voltage of a PGA setting (SBAS444 "Full-Scale Range" table).</summary>
    public static double FullScaleVolts(Ads1115FullScale range) => range switch
    {
        Ads1115FullScale.PlusMinus6144mV => 6.144,
        Ads1115FullScale.PlusMinus4096mV => 4.096,
        Ads1115FullScale.PlusMinus2048mV => 2.048,
        Ads1115FullScale.PlusMinus1024mV => 1.024,
        Ads1115FullScale.PlusMinus512mV => 0.512,
        _ => 0.256,
    };

    /// <summary>Nominal samples per second of a data-rate setting.</summary>
    public static int SamplesPerSecond(Ads1115DataRate rate) => rate switch
    {
        Ads1115DataRate.Sps8 => 8,
        Ads1115DataRate.Sps16 => 16,
        Ads1115DataRate.Sps32 => 32,
        Ads1115DataRate.Sps64 => 64,
        Ads1115DataRate.Sps128 => 128,
        Ads1115DataRate.Sps250 => 250,
        Ads1115DataRate.Sps475 => 475,
        _ => 860,
    };

    /// <summary>The config word for a single-shot conversion (comparator disabled).</summary>
    public static ushort ConfigFor(Ads1115Input input, Ads1115FullScale range, Ads1115DataRate rate) =>
        (ushort)(StartSingleShot | ((int)input << 12) | ((int)range << 9) | SingleShotMode | ((int)rate << 5) | ComparatorDisabled);

    /// <summary>One single-shot conversion. Throws <see cref="SensorException"/> when the ADC does not answer or never finishes.</summary>
    public async Task<Ads1115Sample> ReadAsync(Ads1115Input input, Ads1115FullScale range,
        Ads1115DataRate rate = Ads1115DataRate.Sps128, CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            WriteRegister(Ads1115Register.Config, ConfigFor(input, range, rate));
            // The internal oscillator is within ±10 %: allow one conversion period plus 10 % and the wake-up time.
            var period = TimeSpan.FromSeconds(1.1 / SamplesPerSecond(rate)) + TimeSpan.FromMilliseconds(0.1);
            await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
            for (var attempt = 0; (ReadRegister(Ads1115Register.Config) & StartSingleShot) == 0; attempt++)
            {
                if (attempt == 10)
                {
                    throw SensorException.Device($"{Description}: conversion not finished 10 ms after its period (OS stays 0).");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(1), _time, cancellationToken).ConfigureAwait(false);
            }

            var code = (short)ReadRegister(Ads1115Register.Conversion);
            var volts = code * FullScaleVolts(range) / 32768.0;
            return new Ads1115Sample(code, volts, code is short.MaxValue or short.MinValue);
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>Disposes the I2C device the driver was given.</summary>
    public void Dispose()
    {
        _busy.Dispose();
        _device.Dispose();
    }

    private ushort ReadRegister(Ads1115Register register)
    {
        Span<byte> two = stackalloc byte[2];
        try
        {
            _device.WriteRead([(byte)register], two);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"{Description}: no answer ({ex.Message}). Check wiring, ADDR pin and power.", ex);
        }

        return (ushort)((two[0] << 8) | two[1]);
    }

    private void WriteRegister(Ads1115Register register, ushort value)
    {
        try
        {
            _device.Write([(byte)register, (byte)(value >> 8), (byte)value]);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"{Description}: no answer ({ex.Message}). Check wiring, ADDR pin and power.", ex);
        }
    }
}
