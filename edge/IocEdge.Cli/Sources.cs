using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sampling;
using IocEdge.Edge.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Cli;

/// <summary>
/// The gateway's own reading sources, built from its configuration as the gateway builds them (GatewayHost), but one
/// Modbus source per device so a verb touches only the device it needs. Constructors open nothing.
/// </summary>
internal static class Sources
{
    /// <summary>One source per Modbus device (with its link), the GPIO source, one per sensor.</summary>
    /// <param name="options">A configuration that passed the gateway's check.</param>
    /// <param name="time">The clock of the sources.</param>
    /// <param name="scratchDirectory">Where the GPIO counters may keep state: never the gateway's own data directory,
    /// whose counter totals the running gateway owns.</param>
    public static IEnumerable<(string Kind, string Name, IReadingSource Source)> Create(GatewayOptions options, TimeProvider time, string scratchDirectory)
    {
        var profiles = new ProfileSource().Required(options.ProfilesDirectory);
        foreach (var device in options.Modbus.Devices)
        {
            var link = options.Modbus.Links.FirstOrDefault(l => l.Id == device.Link);
            if (link is not null)
            {
                yield return ("modbus", device.Id, new ModbusLinkSource(link, [device], profiles, time, NullLoggerFactory.Instance));
            }
        }

        if (!options.Gpio.IsEmpty)
        {
            yield return ("gpio", options.Gpio.Device, new GpioSource(options.Gpio, scratchDirectory, new SystemGpioControllerProvider(), time, NullLoggerFactory.Instance));
        }

        foreach (var sensor in options.Sensors)
        {
            yield return ("sensor", sensor.Id, new SensorSource(sensor, new SystemBusProvider(), time, NullLoggerFactory.Instance));
        }
    }

    /// <summary>The GPIO and sensor channel ids.</summary>
    public static IEnumerable<string> ChannelsOfNonModbus(GatewayOptions options)
    {
        var time = TimeProvider.System;
        var list = new List<string>();
        if (!options.Gpio.IsEmpty)
        {
            list.AddRange(new GpioSource(options.Gpio, Path.GetTempPath(), new SystemGpioControllerProvider(), time, NullLoggerFactory.Instance).Channels);
        }

        foreach (var sensor in options.Sensors)
        {
            list.AddRange(new SensorSource(sensor, new SystemBusProvider(), time, NullLoggerFactory.Instance).Channels);
        }

        return list;
    }
}
