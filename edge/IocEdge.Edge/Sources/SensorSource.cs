using System.Device.I2c;
using System.Runtime.CompilerServices;
using IocEdge.Devices;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sources;

/// <summary>Opens the gateway's own buses: the real ones on a Pi, simulated ones in the demo and tests.</summary>
public interface IBusProvider
{
    I2cDevice OpenI2c(int bus, int address);

    /// <summary>A UART at 9600 8N1 (both PMS5003 and SDS011 use it).</summary>
    Stream OpenSerial(string path);
}

/// <summary>
/// The Pi's own buses through <see cref="DeviceBuses"/>: a missing or locked device is a CommFailure
/// <see cref="SensorException"/> naming the path, the real cause (checked on the file system, not taken from the
/// runtime's "Access to the port is denied") and the fix (enable_uart=1, dtparam=i2c_arm=on, the dialout/i2c group).
/// </summary>
public sealed class SystemBusProvider : IBusProvider
{
    /// <exception cref="SensorException">CommFailure: no /dev/i2c-{bus}, access denied, or the bus cannot be opened.</exception>
    public I2cDevice OpenI2c(int bus, int address) => DeviceBuses.OpenI2c(bus, address);

    /// <exception cref="SensorException">CommFailure: no such port, access denied, or it cannot be opened.</exception>
    public Stream OpenSerial(string path) => DeviceBuses.OpenSerial(path, 9600);
}

/// <summary>
/// One bus sensor read every <see cref="SensorOptions.PollPeriod"/>. A bus that cannot be opened or a sensor that does
/// not answer (whatever the exception) gives readings with comm_failure for that poll; the next poll tries again. The
/// failure is logged once, naming the device, the cause and the fix, and again only when it recovers or its cause changes.
/// </summary>
public sealed class SensorSource(SensorOptions options, IBusProvider buses, TimeProvider time, ILoggerFactory loggers) : IReadingSource
{
    private readonly DeviceHealth _health = new(loggers.CreateLogger<SensorSource>(), DeviceName(options));

    public string Name => $"sensor:{options.Id}";

    /// <summary>The poll period: one batch per read.</summary>
    public TimeSpan ExpectedInterval => options.PollPeriod;

    public IReadOnlyList<string> Channels { get; } = Quantities(options).Select(q => $"{options.Id}/{q.Quantity}").ToArray();

    public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Func<CancellationToken, Task<IReadOnlyList<SensorReading>>>? read = null;
        IDisposable? owned = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                IReadOnlyList<SensorReading> readings;
                try
                {
                    if (read is null)
                    {
                        (read, owned) = await OpenAsync(cancellationToken).ConfigureAwait(false);
                    }

                    readings = await read(cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // whatever the bus or driver throws, this poll is a comm failure and the source goes on
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
#pragma warning restore CA1031
                {
                    // No bus, no device, or it stopped answering: this poll is a comm failure; reopen next time.
                    _health.Failed(DeviceHealth.Reason(ex));
                    owned?.Dispose();
                    (read, owned) = (null, null);
                    readings = Quantities(options).Select(q => SensorReading.Failed(q.Quantity, q.Unit, SensorQuality.CommFailure, ex.Message)).ToArray();
                }

                if (read is not null)
                {
                    _health.Recovered();
                }

                var now = time.GetUtcNow();
                yield return readings.Select(r => ToReading(r, now)).ToArray();
                await Task.Delay(options.PollPeriod, time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            owned?.Dispose();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Reading ToReading(SensorReading r, DateTimeOffset now)
    {
        var quality = r.Quality switch
        {
            SensorQuality.Good => Quality.Good,
            SensorQuality.DeviceException => Quality.DeviceException,
            SensorQuality.Invalid => Quality.Invalid,
            SensorQuality.OutOfRange => Quality.OutOfRange,
            _ => Quality.CommFailure,
        };
        double? value = QualityNames.CarriesValue(quality) && double.IsFinite(r.Value) ? Math.Round(r.Value, 3) : null;
        if (value is null && QualityNames.CarriesValue(quality))
        {
            quality = Quality.Invalid; // NaN or infinity where a number belongs: not a measurement
        }

        return new Reading($"{options.Id}/{r.Quantity}", now, value, r.Unit, quality);
    }

    private async Task<(Func<CancellationToken, Task<IReadOnlyList<SensorReading>>>, IDisposable?)> OpenAsync(CancellationToken ct)
    {
        switch (options.Driver)
        {
            case SensorDriver.Bme280:
            {
                var bme = new Bme280(buses.OpenI2c(options.I2cBus, options.ParsedAddress!.Value), null, time, loggers.CreateLogger<Bme280>());
                await bme.InitializeAsync(ct).ConfigureAwait(false);
                return (bme.ReadAsync, bme);
            }

            case SensorDriver.Ds18b20:
            {
                var ds = Ds18b20.Open(options.W1Root, options.DeviceId!, time, loggers.CreateLogger<Ds18b20>());
                return (async c => [await ds.ReadAsync(c).ConfigureAwait(false)], null);
            }

            // The UART sensors send a frame every second or so on their own: a background reader keeps the newest,
            // and each poll takes it (a frame older than two poll periods is a comm failure), so a slow poll never
            // reads a backlog of stale frames.
            case SensorDriver.Pms5003:
            {
                var uart = buses.OpenSerial(options.SerialPort!);
                var pms = new Pms5003(uart, time, loggers.CreateLogger<Pms5003>());
                var reader = new BackgroundReader(pms.RunAsync);
                await WaitForFirstFrameAsync(() => pms.ReadLatest(MaxAge), ct).ConfigureAwait(false);
                return (_ => Task.FromResult(pms.ReadLatest(MaxAge)), new Both(reader, new Both(pms, uart)));
            }

            case SensorDriver.Sds011:
            {
                var uart = buses.OpenSerial(options.SerialPort!);
                var sds = new Sds011(uart, time, loggers.CreateLogger<Sds011>());
                var reader = new BackgroundReader(sds.RunAsync);
                await WaitForFirstFrameAsync(() => sds.ReadLatest(MaxAge), ct).ConfigureAwait(false);
                return (_ => Task.FromResult(sds.ReadLatest(MaxAge)), new Both(reader, new Both(sds, uart)));
            }

            default:
            {
                var adc = new Ads1115(buses.OpenI2c(options.I2cBus, options.ParsedAddress!.Value), time);
                var loop = new CurrentLoopInput(adc, new CurrentLoopOptions
                {
                    Quantity = options.Quantity!,
                    Unit = options.Unit!,
                    ValueAt4mA = options.ValueAt4mA!.Value,
                    ValueAt20mA = options.ValueAt20mA!.Value,
                    Input = (Ads1115Input)((int)Ads1115Input.Ain0 + options.Input),
                    ShuntOhms = options.ShuntOhms,
                });
                return (loop.ReadAsync, adc);
            }
        }
    }

    /// <summary>The device as a technician finds it: its bus path, and which configured sensor it is.</summary>
    internal static string DeviceName(SensorOptions o) => o.Driver switch
    {
        SensorDriver.Pms5003 or SensorDriver.Sds011 => $"{o.SerialPort} ({o.Driver} sensor {o.Id})",
        SensorDriver.Ds18b20 => $"{Path.Combine(o.W1Root, o.DeviceId ?? "?")} (DS18B20 sensor {o.Id})",
        _ => $"/dev/i2c-{o.I2cBus} address {o.Address} ({o.Driver} sensor {o.Id})",
    };

    private TimeSpan MaxAge => options.PollPeriod * 2 > TimeSpan.FromSeconds(5) ? options.PollPeriod * 2 : TimeSpan.FromSeconds(5);

    /// <summary>Gives a UART sensor up to one poll period to send its first frame after the port opens.</summary>
    private async Task WaitForFirstFrameAsync(Func<IReadOnlyList<SensorReading>> latest, CancellationToken ct)
    {
        // Measured on the monotonic clock: an NTP step of the wall clock must not stretch or cut the wait.
        var started = time.GetTimestamp();
        while (!latest().All(r => r.HasValue) && time.GetElapsedTime(started) < options.PollPeriod)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a driver's frame reader until disposed.</summary>
    private sealed class BackgroundReader : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public BackgroundReader(Func<CancellationToken, Task> run) => _ = run(_stop.Token);

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }

    /// <summary>What each driver reports, for channel lists and for comm-failure readings when it cannot be read.</summary>
    internal static IEnumerable<(string Quantity, string Unit)> Quantities(SensorOptions o) => o.Driver switch
    {
        SensorDriver.Bme280 => [("temperature", Units.DegreesCelsius), ("pressure", Units.Hectopascal), ("humidity", Units.RelativeHumidity)],
        SensorDriver.Ds18b20 => [("temperature", Units.DegreesCelsius)],
        SensorDriver.Pms5003 => [("pm1", Units.MicrogramsPerCubicMetre), ("pm2_5", Units.MicrogramsPerCubicMetre), ("pm10", Units.MicrogramsPerCubicMetre)],
        SensorDriver.Sds011 => [("pm2_5", Units.MicrogramsPerCubicMetre), ("pm10", Units.MicrogramsPerCubicMetre)],
        _ => [(o.Quantity ?? "value", o.Unit ?? "1")],
    };

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second.Dispose();
        }
    }
}
