using System.Device.Gpio;
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

/// <summary>The gateway's own GPIO header through the Linux GPIO character device (libgpiod).</summary>
public sealed class SystemGpioControllerProvider : IGpioControllerProvider
{
    public GpioController Open(int chip) => OperatingSystem.IsLinux()
        ? new GpioController(new System.Device.Gpio.Drivers.LibGpiodDriver(chip))
        : new GpioController();
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

    public IReadOnlyList<string> Channels { get; } =
    [
        .. options.Inputs.Select(i => $"{options.Device}/{i.Id}"),
        .. options.Counters.SelectMany(c => c.Kind == GpioCounterKind.RainGauge
            ? new[] { $"{options.Device}/{c.Id}_total", $"{options.Device}/{c.Id}_rate" }
            : [$"{options.Device}/{c.Id}"]),
    ];

    public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<IReadOnlyList<Reading>>(new UnboundedChannelOptions { SingleReader = true });
        using var controller = gpio.Open(options.Chip);
        var inputs = new List<(GpioInputOptions Options, DigitalInput Driver)>();
        var counters = new List<(GpioCounterOptions Options, PulseCounter Counter, RainGauge? Rain, Anemometer? Wind)>();
        try
        {
            foreach (var i in options.Inputs)
            {
                var input = new DigitalInput(controller, new DigitalInputOptions
                {
                    Name = i.Id,
                    Pin = i.Pin,
                    ActiveLow = i.ActiveLow,
                    Pull = Enum.Parse<InputPull>(i.Pull),
                    Debounce = i.Debounce,
                }, time, loggers.CreateLogger<DigitalInput>());
                input.Changed += (_, e) => queue.Writer.TryWrite([State(i.Id, e.IsActive, e.Timestamp)]);
                inputs.Add((i, input));
            }

            foreach (var c in options.Counters)
            {
                var counter = new PulseCounter(controller, new PulseCounterOptions
                {
                    Name = c.Id,
                    Pin = c.Pin,
                    MinPulseInterval = c.MinPulseInterval,
                    RateWindow = c.RateWindow,
                    StateFile = Path.Combine(dataDirectory, "counters", c.Id + ".json"),
                }, time, loggers.CreateLogger<PulseCounter>());
                counters.Add(c.Kind == GpioCounterKind.RainGauge
                    ? (c, counter, new RainGauge(counter, c.MillimetresPerTip), null)
                    : (c, counter, null, new Anemometer(counter, c.KilometresPerHourPerHertz)));
            }

            // The first report at once, so the IOC sees every input's state as soon as the gateway is up.
            queue.Writer.TryWrite(Snapshot(inputs, counters));
            using var timer = time.CreateTimer(_ => queue.Writer.TryWrite(Snapshot(inputs, counters)), null,
                options.ReportPeriod, options.ReportPeriod);
            await foreach (var batch in queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
            }
        }
        finally
        {
            foreach (var (_, input) in inputs)
            {
                input.Dispose();
            }

            foreach (var (_, counter, _, _) in counters)
            {
                counter.Dispose(); // flushes its total to the state file
            }
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
