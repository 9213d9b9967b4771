using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>
/// Maxim DS18B20 1-Wire thermometer read through the Linux w1 sysfs (<c>dtoverlay=w1-gpio</c>, kernel
/// modules w1-gpio and w1-therm). The driver takes the device folder (<c>/sys/bus/w1/devices/28-xxxxxxxxxxxx</c>)
/// and reads its <c>w1_slave</c> file. A CRC failure (noise on the line) and the 85 °C power-on reset value
/// (conversion did not run: brown-out, weak parasite power) are retried; if they persist the reading says so.
/// </summary>
public sealed class Ds18b20
{
    /// <summary>Where the kernel lists 1-Wire devices.</summary>
    public const string DefaultW1Root = "/sys/bus/w1/devices";

    /// <summary>Family code of the DS18B20 (datasheet, "64-bit Lasered ROM Code").</summary>
    public const string FamilyPrefix = "28-";

    /// <summary>The power-on reset value of the temperature register (datasheet Table 1: +85 °C = 0x0550).</summary>
    public const short PowerOnResetRaw = 0x0550;

    /// <summary>Measuring range, °C (datasheet "Features": −55 °C to +125 °C).</summary>
    public const double MinCelsius = -55, MaxCelsius = 125;

    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="w1DevicePath">The device folder, e.g. <c>/sys/bus/w1/devices/28-00000a1b2c3d</c>.</param>
    /// <param name="timeProvider">The clock retries wait on.</param>
    /// <param name="logger">Logs retries.</param>
    /// <param name="attempts">Reads before giving up on CRC errors or the reset value (1-10).</param>
    /// <param name="retryDelay">Pause between attempts (default 100 ms).</param>
    public Ds18b20(string w1DevicePath, TimeProvider? timeProvider = null, ILogger<Ds18b20>? logger = null,
        int attempts = 3, TimeSpan? retryDelay = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(w1DevicePath);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(attempts, 10);
        DevicePath = w1DevicePath;
        DeviceId = Path.GetFileName(Path.TrimEndingDirectorySeparator(w1DevicePath));
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Attempts = attempts;
        RetryDelay = retryDelay ?? TimeSpan.FromMilliseconds(100);
    }

    public string DevicePath { get; }

    /// <summary>The ROM id folder name, e.g. <c>28-00000a1b2c3d</c>.</summary>
    public string DeviceId { get; }

    public int Attempts { get; }

    public TimeSpan RetryDelay { get; }

    /// <summary>The driver for <paramref name="deviceId"/> under a w1 root folder.</summary>
    public static Ds18b20 Open(string w1Root, string deviceId, TimeProvider? timeProvider = null, ILogger<Ds18b20>? logger = null) =>
        new(Path.Combine(w1Root, deviceId), timeProvider, logger);

    /// <summary>The DS18B20 ids present under <paramref name="w1Root"/> (folders named 28-*), sorted.</summary>
    public static IReadOnlyList<string> Discover(string w1Root = DefaultW1Root)
    {
        if (!Directory.Exists(w1Root))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(w1Root, FamilyPrefix + "*")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Reads the temperature in °C. Throws <see cref="SensorException"/>: CommFailure (device folder missing, CRC
    /// errors, line shorted or open), Invalid (the +85 °C power-on value persists: no conversion ran), OutOfRange
    /// (a reading outside −55..+125 °C; <see cref="ReadAsync"/> reports it with its value).
    /// </summary>
    public async Task<double> ReadTemperatureAsync(CancellationToken cancellationToken = default)
    {
        var celsius = await ReadCelsiusAsync(cancellationToken).ConfigureAwait(false);
        if (celsius is < MinCelsius or > MaxCelsius)
        {
            throw new SensorException(SensorQuality.OutOfRange, OutOfRangeMessage(celsius));
        }

        return celsius;
    }

    /// <summary>
    /// A <c>temperature</c> reading in degC: Good, OutOfRange (value kept) outside −55..+125 °C, Invalid for a
    /// persistent 85 °C reset value, CommFailure when the sensor does not answer. Never throws for a device problem.
    /// </summary>
    public async Task<SensorReading> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var celsius = await ReadCelsiusAsync(cancellationToken).ConfigureAwait(false);
            return celsius is < MinCelsius or > MaxCelsius
                ? SensorReading.OutOfRange("temperature", celsius, Units.DegreesCelsius, OutOfRangeMessage(celsius))
                : SensorReading.Good("temperature", celsius, Units.DegreesCelsius);
        }
        catch (SensorException ex)
        {
            Log.ReadFailed(_logger, "DS18B20 " + DeviceId, ex.Message);
            return SensorReading.Failed("temperature", Units.DegreesCelsius, ex);
        }
    }

    private string OutOfRangeMessage(double celsius) => FormattableString.Invariant(
        $"DS18B20 {DeviceId}: {celsius} °C is outside the sensor's {MinCelsius}..+{MaxCelsius} °C measuring range (Maxim DS18B20 datasheet).");

    private async Task<double> ReadCelsiusAsync(CancellationToken cancellationToken)
    {
        var file = Path.Combine(DevicePath, "w1_slave");
        string? lastProblem = null;
        var lastQuality = SensorQuality.CommFailure;
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            if (attempt > 1)
            {
                Log.W1Retry(_logger, DevicePath, attempt - 1, lastProblem!);
                await Task.Delay(RetryDelay, _time, cancellationToken).ConfigureAwait(false);
            }

            string content;
            try
            {
                content = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Not worth retrying: the kernel removes the folder when the device stops answering searches.
                throw SensorException.Comm(
                    $"DS18B20 {DeviceId}: not present ({file} missing). Check the sensor is plugged in, the 4.7 kΩ pull-up, " +
                    "and that dtoverlay=w1-gpio is enabled.", ex);
            }
            catch (IOException ex)
            {
                lastProblem = "read error: " + ex.Message;
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            W1ThermReading reading;
            try
            {
                reading = W1Therm.Parse(content);
            }
            catch (FormatException ex)
            {
                lastProblem = ex.Message;
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            if (reading.Scratchpad.All(b => b == 0xFF))
            {
                lastProblem = "every byte reads 0xFF (the bus idles high, no sensor answered: DQ open, VDD or GND missing)";
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            if (!reading.CrcOk)
            {
                lastProblem = reading.KernelCrcOk ? "scratchpad CRC mismatch" : "CRC check failed (crc=.. NO)";
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            if (reading.Scratchpad.All(b => b == 0))
            {
                lastProblem = "scratchpad all zeros (data line held low: short circuit or failed sensor)";
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            if (reading.RawTemperature == PowerOnResetRaw)
            {
                lastProblem = "85 °C power-on reset value: no conversion ran (brown-out or weak parasite power)";
                lastQuality = SensorQuality.Invalid;
                continue;
            }

            var celsius = reading.Celsius;
            if (reading.KernelMillidegrees is { } t && Math.Abs((t / 1000.0) - celsius) > 0.07)
            {
                lastProblem = $"t={t} disagrees with the scratchpad ({celsius} °C)";
                lastQuality = SensorQuality.CommFailure;
                continue;
            }

            return celsius;
        }

        var advice = lastQuality == SensorQuality.CommFailure
            ? " Check the 4.7 kΩ pull-up to 3.3 V and the cable (long or unshielded runs pick up noise)."
            : " Power the sensor from 3.3 V on VDD rather than parasite power.";
        throw new SensorException(lastQuality, $"DS18B20 {DeviceId}: {lastProblem} after {Attempts} attempts.{advice}");
    }
}
