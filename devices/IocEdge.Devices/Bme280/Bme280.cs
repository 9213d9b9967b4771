using System.Device.I2c;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>How a BME280 measures. The defaults are the datasheet's "weather monitoring" settings (section 3.5.1).</summary>
public sealed record Bme280Options
{
    public Bme280Oversampling Temperature { get; init; } = Bme280Oversampling.X1;
    public Bme280Oversampling Pressure { get; init; } = Bme280Oversampling.X1;
    public Bme280Oversampling Humidity { get; init; } = Bme280Oversampling.X1;
    public Bme280Mode Mode { get; init; } = Bme280Mode.Forced;
    public Bme280Filter Filter { get; init; } = Bme280Filter.Off;
    public Bme280Standby Standby { get; init; } = Bme280Standby.Ms1000;

    public void Validate()
    {
        if (Temperature == Bme280Oversampling.Skipped)
        {
            throw new ArgumentException("Bme280 Temperature oversampling cannot be Skipped: pressure and humidity compensation need it (use X1).");
        }

        if (Mode == Bme280Mode.Sleep)
        {
            throw new ArgumentException("Bme280 Mode Sleep never measures: use Forced (one measurement per read) or Normal.");
        }
    }
}

/// <summary>One compensated BME280 measurement. Quantities skipped by the options, or that read their reset word
/// (0x80000 / 0x8000: no conversion ran), are NaN.</summary>
public readonly record struct Bme280Measurement(double TemperatureCelsius, double PressureHectopascals, double HumidityPercent);

/// <summary>
/// Bosch BME280 temperature / pressure / humidity sensor over I2C (datasheet BST-BME280-DS002). The driver takes
/// the <see cref="I2cDevice"/> it talks over; it checks the chip id (0x60), soft-resets the part, reads its
/// trimming parameters and compensates with the datasheet's integer formulas (section 4.2.3).
/// </summary>
public sealed class Bme280 : IDisposable
{
    /// <summary>Chip id of a BME280 (section 5.4.1).</summary>
    public const byte ExpectedChipId = 0x60;

    /// <summary>Address with SDO to GND (most breakout boards).</summary>
    public const int DefaultAddress = 0x76;

    /// <summary>Address with SDO to VDDIO.</summary>
    public const int SecondaryAddress = 0x77;

    /// <summary>Operating range of temperature, °C (datasheet BST-BME280-DS002, Table 1 "Operating range").</summary>
    public const double MinCelsius = -40, MaxCelsius = 85;

    /// <summary>Operating range of pressure, hPa (datasheet Table 1 / Table 2 "Operating range").</summary>
    public const double MinHectopascals = 300, MaxHectopascals = 1100;

    /// <summary>Operating range of relative humidity, %RH (datasheet Table 1 / Table 3).</summary>
    public const double MinHumidity = 0, MaxHumidity = 100;

    /// <summary>
    /// What ut/up read when no temperature/pressure conversion ran: 0x80000, the data registers' reset value and the
    /// "measurement skipped" output (datasheet sections 3.5 and 5.4.7-5.4.8, Table 18 reset values 0x80/0x00/0x00).
    /// </summary>
    public const int SkippedPressureOrTemperature = 0x80000;

    /// <summary>What uh reads when no humidity conversion ran: 0x8000 (section 5.4.9, reset values 0x80/0x00).</summary>
    public const int SkippedHumidity = 0x8000;

    private const byte SoftResetCommand = 0xB6;
    private const string RangeSource = "BME280 datasheet BST-BME280-DS002, Table 1 operating range";

    private readonly I2cDevice _device;
    private readonly Bme280Options _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _busy = new(1, 1);
    private Bme280Calibration? _calibration;

    public Bme280(I2cDevice device, Bme280Options? options = null, TimeProvider? timeProvider = null, ILogger<Bme280>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _options = options ?? new Bme280Options();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The part's trimming parameters, once initialised.</summary>
    public Bme280Calibration? Calibration => _calibration;

    /// <summary>Where the sensor is, for messages: "BME280 on I2C bus 1 at 0x76".</summary>
    public string Description => $"BME280 on I2C bus {_device.ConnectionSettings.BusId} at 0x{_device.ConnectionSettings.DeviceAddress:X2}";

    /// <summary>
    /// Longest measurement time of datasheet section 9.1: 1.25 + 2.3·osrs_t + (2.3·osrs_p + 0.575) + (2.3·osrs_h + 0.575) ms.
    /// </summary>
    public static TimeSpan MaxMeasurementTime(Bme280Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var ms = 1.25 + (2.3 * Factor(options.Temperature));
        if (options.Pressure != Bme280Oversampling.Skipped)
        {
            ms += (2.3 * Factor(options.Pressure)) + 0.575;
        }

        if (options.Humidity != Bme280Oversampling.Skipped)
        {
            ms += (2.3 * Factor(options.Humidity)) + 0.575;
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>
    /// Checks the chip id, soft-resets the part, waits for the NVM copy, reads the calibration and writes the
    /// configuration. Throws <see cref="SensorException"/>.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await InitializeCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>
    /// Measures once (forced mode: triggers a conversion and waits for it; normal mode: reads the latest values).
    /// Initialises the part first if needed. Throws <see cref="SensorException"/>.
    /// </summary>
    public async Task<Bme280Measurement> MeasureAsync(CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_calibration is null)
            {
                await InitializeCoreAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await MeasureCoreAsync(_calibration!, cancellationToken).ConfigureAwait(false);
            }
            catch (SensorException)
            {
                // The part may have been power-cycled (configuration lost): set it up again next time.
                _calibration = null;
                throw;
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>
    /// <c>temperature</c> [degC], <c>pressure</c> [hPa], <c>humidity</c> [%RH] (those not skipped). Never throws for a
    /// device problem: each reading then carries the quality and the reason.
    /// </summary>
    public async Task<IReadOnlyList<SensorReading>> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var m = await MeasureAsync(cancellationToken).ConfigureAwait(false);
            var readings = new List<SensorReading>(3)
            {
                SensorReading.Ranged("temperature", m.TemperatureCelsius, Units.DegreesCelsius, MinCelsius, MaxCelsius, Description, RangeSource),
            };
            if (_options.Pressure != Bme280Oversampling.Skipped)
            {
                readings.Add(double.IsNaN(m.PressureHectopascals)
                    ? SensorReading.Invalid("pressure", Units.Hectopascal,
                        $"{Description}: pressure reads its reset value 0x80000 (no pressure conversion ran, datasheet 5.4.8) or cannot be compensated (dig_P1 = 0).")
                    : SensorReading.Ranged("pressure", m.PressureHectopascals, Units.Hectopascal, MinHectopascals, MaxHectopascals, Description, RangeSource));
            }

            if (_options.Humidity != Bme280Oversampling.Skipped)
            {
                readings.Add(double.IsNaN(m.HumidityPercent)
                    ? SensorReading.Invalid("humidity", Units.RelativeHumidity,
                        $"{Description}: humidity reads its reset value 0x8000 (no humidity conversion ran, datasheet 5.4.9).")
                    : SensorReading.Ranged("humidity", m.HumidityPercent, Units.RelativeHumidity, MinHumidity, MaxHumidity, Description, RangeSource));
            }

            return readings;
        }
        catch (SensorException ex)
        {
            Log.ReadFailed(_logger, Description, ex.Message);
            var failed = new List<SensorReading> { SensorReading.Failed("temperature", Units.DegreesCelsius, ex) };
            if (_options.Pressure != Bme280Oversampling.Skipped)
            {
                failed.Add(SensorReading.Failed("pressure", Units.Hectopascal, ex));
            }

            if (_options.Humidity != Bme280Oversampling.Skipped)
            {
                failed.Add(SensorReading.Failed("humidity", Units.RelativeHumidity, ex));
            }

            return failed;
        }
    }

    /// <summary>Disposes the I2C device the driver was given.</summary>
    public void Dispose()
    {
        _busy.Dispose();
        _device.Dispose();
    }

    private static int Factor(Bme280Oversampling o) => o switch
    {
        Bme280Oversampling.Skipped => 0,
        Bme280Oversampling.X1 => 1,
        Bme280Oversampling.X2 => 2,
        Bme280Oversampling.X4 => 4,
        Bme280Oversampling.X8 => 8,
        _ => 16,
    };

    private async Task InitializeCoreAsync(CancellationToken cancellationToken)
    {
        _calibration = null;
        var id = ReadRegister(Bme280Register.ChipId);
        if (id != ExpectedChipId)
        {
            var hint = id switch
            {
                0x58 or 0x56 or 0x57 => " (that is a BMP280: no humidity; use a BME280 or configure a BMP280 channel)",
                0x00 or 0xFF => " (the bus reads a constant: check SDA/SCL wiring, pull-ups and the 3.3 V supply)",
                _ => string.Empty,
            };
            throw SensorException.Device(
                $"{Description}: chip id 0x{id:X2} is not a BME280 (expected 0x{ExpectedChipId:X2}){hint}.");
        }

        Write((byte)Bme280Register.Reset, SoftResetCommand);
        // Start-up time after reset is 2 ms (Table 1); then im_update must read 0 before the NVM can be read.
        await Task.Delay(TimeSpan.FromMilliseconds(2), _time, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; (ReadRegister(Bme280Register.Status) & 0x01) != 0; attempt++)
        {
            if (attempt == 10)
            {
                throw SensorException.Device($"{Description}: NVM copy (im_update) did not finish after reset.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), _time, cancellationToken).ConfigureAwait(false);
        }

        Span<byte> block1 = stackalloc byte[Bme280Calibration.Block1Length];
        Span<byte> block2 = stackalloc byte[Bme280Calibration.Block2Length];
        ReadBlock(Bme280Register.Calibration00, block1);
        ReadBlock(Bme280Register.Calibration26, block2);
        var calibration = Bme280Calibration.Parse(block1, block2);
        if (!calibration.LooksValid)
        {
            throw SensorException.Device($"{Description}: calibration reads as all zeros/ones; the part is not answering properly.");
        }

        // ctrl_hum first (it only takes effect at the ctrl_meas write), config while still in sleep mode (5.4.6).
        Write((byte)Bme280Register.CtrlHum, (byte)_options.Humidity);
        Write((byte)Bme280Register.Config, (byte)(((byte)_options.Standby << 5) | ((byte)_options.Filter << 2)));
        if (_options.Mode == Bme280Mode.Normal)
        {
            Write((byte)Bme280Register.CtrlMeas, CtrlMeas(Bme280Mode.Normal));
        }

        _calibration = calibration;
    }

    private byte CtrlMeas(Bme280Mode mode) =>
        (byte)(((byte)_options.Temperature << 5) | ((byte)_options.Pressure << 2) | (byte)mode);

    private async Task<Bme280Measurement> MeasureCoreAsync(Bme280Calibration calibration, CancellationToken cancellationToken)
    {
        if (_options.Mode == Bme280Mode.Forced)
        {
            Write((byte)Bme280Register.CtrlHum, (byte)_options.Humidity);
            Write((byte)Bme280Register.CtrlMeas, CtrlMeas(Bme280Mode.Forced));
            await Task.Delay(MaxMeasurementTime(_options), _time, cancellationToken).ConfigureAwait(false);
            for (var attempt = 0; (ReadRegister(Bme280Register.Status) & 0x08) != 0; attempt++)
            {
                if (attempt == 10)
                {
                    throw SensorException.Device($"{Description}: conversion still running 10 ms after its maximum time.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
        }

        // One burst read of all data registers so that T, P and H come from the same conversion (section 4).
        Span<byte> data = stackalloc byte[8];
        ReadBlock(Bme280Register.PressureMsb, data);
        var adcP = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4);
        var adcT = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4);
        var adcH = (data[6] << 8) | data[7];
        if (adcT == SkippedPressureOrTemperature)
        {
            // Pressure and humidity compensation need t_fine: nothing of this conversion is a measurement.
            throw SensorException.NoMeasurement(
                $"{Description}: temperature reads its reset value 0x80000: no conversion ran (the part was reset or " +
                "power-cycled since it was configured; datasheet 5.4.7). It is set up again at the next read.");
        }

        var t = calibration.CompensateTemperature(adcT, out var tFine) / 100.0;
        var pPascalQ24_8 = adcP == SkippedPressureOrTemperature || _options.Pressure == Bme280Oversampling.Skipped
            ? 0u
            : calibration.CompensatePressure(adcP, tFine);
        // 0 is the formula's "cannot compensate" answer (var1 = 0, section 4.2.3), not a pressure.
        var p = pPascalQ24_8 == 0 ? double.NaN : pPascalQ24_8 / 256.0 / 100.0;
        var h = adcH == SkippedHumidity || _options.Humidity == Bme280Oversampling.Skipped
            ? double.NaN
            : calibration.CompensateHumidity(adcH, tFine) / 1024.0;
        return new Bme280Measurement(t, p, h);
    }

    private byte ReadRegister(Bme280Register register)
    {
        Span<byte> one = stackalloc byte[1];
        ReadBlock(register, one);
        return one[0];
    }

    private void ReadBlock(Bme280Register start, Span<byte> buffer)
    {
        try
        {
            _device.WriteRead([(byte)start], buffer);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"{Description}: no answer ({ex.Message}). Check wiring, address (0x76/0x77) and power.", ex);
        }
    }

    private void Write(byte register, byte value)
    {
        try
        {
            _device.Write([register, value]);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"{Description}: no answer ({ex.Message}). Check wiring, address (0x76/0x77) and power.", ex);
        }
    }
}
