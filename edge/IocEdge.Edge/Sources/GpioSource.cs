using System.Device.Gpio;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IocEdge.Devices;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sources;

/// <summary>Opens the GPIO controller of a chip: the real one on a Pi, a simulated one in the demo and tests.</summary>
public interface IGpioControllerProvider
{
    GpioController Open(int chip);
}

/// <summary>
/// The gateway's own GPIO header through the Linux GPIO character device (libgpiod). A chip that cannot be opened is a
/// CommFailure <see cref="SensorException"/> naming /dev/gpiochipN, the real cause and the fix: no such chip (the chip
/// number, listed by gpiodetect), no libgpiod (the driver loads libgpiod.so.2, or .so.3 for libgpiod v2: install
/// libgpiod2), or access denied (the gpio group); see <see cref="DeviceBuses.OpenGpio"/>.
/// </summary>
public sealed class SystemGpioControllerProvider : IGpioControllerProvider
{
    /// <exception cref="SensorException">CommFailure: the chip, libgpiod or the permission to use them is missing.</exception>
    public GpioController Open(int chip)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new GpioController();
        }

        var path = $"/dev/gpiochip{chip}";
        var libgpiod = LibgpiodInstalled()
            ? null
            : "libgpiod.so.2 is not installed, and System.Device.Gpio's libgpiod driver needs it: install libgpiod2 (sudo apt install libgpiod2)";
        if (libgpiod is null)
        {
            return DeviceBuses.OpenGpio(chip);
        }

        if (!File.Exists(path))
        {
            try
            {
                return DeviceBuses.OpenGpio(chip); // throws the missing chip's message; libgpiod is added to it
            }
            catch (SensorException ex)
            {
                throw new SensorException(SensorQuality.CommFailure, $"{ex.Message} Also, {libgpiod}.", ex);
            }
        }

        throw new SensorException(SensorQuality.CommFailure, $"{path}: {libgpiod}.");
    }

    /// <summary>True when the dynamic loader finds libgpiod v1 (libgpiod.so.2) or v2 (libgpiod.so.3).</summary>
    private static bool LibgpiodInstalled()
    {
        foreach (var name in (string[])["libgpiod.so.2", "libgpiod.so.3"])
        {
            if (System.Runtime.InteropServices.NativeLibrary.TryLoad(name, out var handle))
            {
                System.Runtime.InteropServices.NativeLibrary.Free(handle);
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// The switches and pulse sensors on the gateway's GPIO header. A switch is reported the moment its debounced state
/// changes and, with every counter, at every <see cref="GpioOptions.ReportPeriod"/>. Counter totals survive a
/// restart (the driver keeps them in DataDirectory/counters/).
/// </summary>
public sealed class GpioSource(GpioOptions options, string dataDirectory, IGpioControllerProvider gpio, TimeProvider time,
    ILoggerFactory loggers) : IReadingSource
{
    public string Name => "gpio";

    /// <summary>The report period: a snapshot of every input and counter is yielded at least this often.</summary>
    public TimeSpan ExpectedInterval => options.ReportPeriod;

    public IReadOnlyList<string> Channels { get; } =
    [
        .. options.Inputs.Select(i => $"{options.Device}/{i.Id}"),
        .. options.Counters.SelectMany(c => c.Kind == GpioCounterKind.RainGauge
            ? new[] { $"{options.Device}/{c.Id}_total", $"{options.Device}/{c.Id}_rate" }
            : [$"{options.Device}/{c.Id}"]),
    ];

    /// <summary>
    /// Opens the chip and its pins, then reports. While the chip or a pin cannot be opened, every input and counter
    /// channel reports comm_failure each <see cref="GpioOptions.ReportPeriod"/> and the chip is tried again; the cause
    /// is logged once per change of state (failed, recovered, failed again).
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<IReadOnlyList<Reading>>(new UnboundedChannelOptions { SingleReader = true });
        Pins? pins;
        while (!TryOpen(queue.Writer, out pins))
        {
            yield return CommFailures();
            await Task.Delay(options.ReportPeriod, time, cancellationToken).ConfigureAwait(false);
        }

        using (pins)
        {
            _health.Recovered();

            // The first report at once, so the IOC sees every input's state as soon as the gateway is up.
            queue.Writer.TryWrite(Snapshot(pins.Inputs, pins.Counters));
            using var timer = time.CreateTimer(_ => queue.Writer.TryWrite(Snapshot(pins.Inputs, pins.Counters)), null,
                options.ReportPeriod, options.ReportPeriod);
            await foreach (var batch in queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
            }
        }
    }

    private readonly DeviceHealth _health = new(loggers.CreateLogger<GpioSource>(), $"/dev/gpiochip{options.Chip} (GPIO {options.Device})");

    /// <summary>Opens the chip and every configured pin; on any failure, releases what was opened and records why.</summary>
    private bool TryOpen(ChannelWriter<IReadOnlyList<Reading>> queue, [NotNullWhen(true)] out Pins? pins)
    {
        var opened = new Pins();
        try
        {
            opened.Controller = gpio.Open(options.Chip);
            foreach (var i in options.Inputs)
            {
                var input = new DigitalInput(opened.Controller, new DigitalInputOptions
                {
                    Name = i.Id,
                    Pin = i.Pin,
                    ActiveLow = i.ActiveLow,
                    Pull = Enum.Parse<InputPull>(i.Pull),
                    Debounce = i.Debounce,
                }, time, loggers.CreateLogger<DigitalInput>());
                input.Changed += (_, e) => queue.TryWrite([State(i.Id, e.IsActive, e.Timestamp)]);
                opened.Inputs.Add((i, input));
            }

            foreach (var c in options.Counters)
            {
                var counter = new PulseCounter(opened.Controller, new PulseCounterOptions
                {
                    Name = c.Id,
                    Pin = c.Pin,
                    MinPulseInterval = c.MinPulseInterval,
                    RateWindow = c.RateWindow,
                    StateFile = Path.Combine(dataDirectory, "counters", c.Id + ".json"),
                }, time, loggers.CreateLogger<PulseCounter>());
                opened.Counters.Add(c.Kind == GpioCounterKind.RainGauge
                    ? (c, counter, new RainGauge(counter, c.MillimetresPerTip), null)
                    : (c, counter, null, new Anemometer(counter, c.KilometresPerHourPerHertz)));
            }

            pins = opened;
            return true;
        }
#pragma warning disable CA1031 // whatever the chip or a pin throws, the channels report comm_failure and the chip is tried again
        catch (Exception ex)
#pragma warning restore CA1031
        {
            opened.Dispose();
            _health.Failed(DeviceHealth.Reason(ex));
            pins = null;
            return false;
        }
    }

    /// <summary>A comm_failure reading, with no value, for every input and counter channel.</summary>
    private List<Reading> CommFailures()
    {
        var now = time.GetUtcNow();
        var list = new List<Reading>(Channels.Count);
        foreach (var i in options.Inputs)
        {
            list.Add(new($"{options.Device}/{i.Id}", now, null, Units.State, Quality.CommFailure));
        }

        foreach (var c in options.Counters)
        {
            if (c.Kind == GpioCounterKind.RainGauge)
            {
                list.Add(new($"{options.Device}/{c.Id}_total", now, null, Units.Millimetres, Quality.CommFailure));
                list.Add(new($"{options.Device}/{c.Id}_rate", now, null, Units.MillimetresPerHour, Quality.CommFailure));
            }
            else
            {
                list.Add(new($"{options.Device}/{c.Id}", now, null, Units.MetresPerSecond, Quality.CommFailure));
            }
        }

        return list;
    }

    /// <summary>The open chip and the drivers on its pins.</summary>
    private sealed class Pins : IDisposable
    {
        public GpioController? Controller { get; set; }

        public List<(GpioInputOptions Options, DigitalInput Driver)> Inputs { get; } = [];

        public List<(GpioCounterOptions Options, PulseCounter Counter, RainGauge? Rain, Anemometer? Wind)> Counters { get; } = [];

        public void Dispose()
        {
            foreach (var (_, input) in Inputs)
            {
                input.Dispose();
            }

            foreach (var (_, counter, _, _) in Counters)
            {
                counter.Dispose(); // flushes its total to the state file
            }

            Controller?.Dispose();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Reading State(string id, bool active, DateTimeOffset at) =>
        new($"{options.Device}/{id}", at, active ? 1 : 0, Units.State, Quality.Good);

    private List<Reading> Snapshot(List<(GpioInputOptions Options, DigitalInput Driver)> inputs,
        List<(GpioCounterOptions Options, PulseCounter Counter, RainGauge? Rain, Anemometer? Wind)> counters)
    {
        var now = time.GetUtcNow();
        var list = new List<Reading>(inputs.Count + (2 * counters.Count));
        foreach (var (o, input) in inputs)
        {
            list.Add(State(o.Id, input.IsActive, now));
        }

        foreach (var (o, _, rain, wind) in counters)
        {
            if (rain is not null)
            {
                list.Add(new($"{options.Device}/{o.Id}_total", now, Math.Round(rain.TotalMillimetres, 4), Units.Millimetres, Quality.Good));
                list.Add(new($"{options.Device}/{o.Id}_rate", now, Math.Round(rain.RateMillimetresPerHour, 3), Units.MillimetresPerHour, Quality.Good));
            }
            else
            {
                list.Add(new($"{options.Device}/{o.Id}", now, Math.Round(wind!.SpeedMetresPerSecond, 2), Units.MetresPerSecond, Quality.Good));
            }
        }

        return list;
    }
}
