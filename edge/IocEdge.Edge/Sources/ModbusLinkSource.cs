using System.IO.Ports;
using System.Runtime.CompilerServices;
using IocEdge.Devices.Profiles;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Sources;

/// <summary>
/// One Modbus link (a TCP connection or an RS-485 line) and every device configured on it: their profile points become
/// one <see cref="ModbusPoller"/> (fewest requests, per-slave circuit breaker, a quality for every point), and each
/// reported point becomes a reading of channel "{device}/{point}".
/// </summary>
public sealed class ModbusLinkSource : IReadingSource
{
    private readonly IModbusMaster _master;
    private readonly ModbusPoller _poller;
    private readonly ModbusReportFilter _filter;
    private readonly Dictionary<string, string> _units;
    private readonly Dictionary<string, int?> _decimals;

    public ModbusLinkSource(ModbusLinkOptions link, IReadOnlyList<ModbusDeviceOptions> devices, ProfileCatalog profiles,
        TimeProvider time, ILoggerFactory loggerFactory, Func<ModbusLinkOptions, IModbusMaster>? masterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Name = "modbus:" + link.Id;
        var points = devices.SelectMany(d => PointsOf(d, profiles.Get(d.Profile))).ToArray();
        _units = points.ToDictionary(p => p.Id, p => p.EngineeringUnit!, StringComparer.Ordinal);
        _decimals = points.ToDictionary(p => p.Id, Decimals, StringComparer.Ordinal);
        Channels = points.Select(p => p.Id).ToArray();
        ExpectedInterval = points.Length == 0 ? TimeSpan.Zero : points.Max(p => p.PollPeriod ?? TimeSpan.FromSeconds(1)); // ModbusPollerOptions.DefaultPollPeriod
        _master = (masterFactory ?? (l => CreateMaster(l, time, loggerFactory)))(link);
        _poller = new ModbusPoller(_master, points, new ModbusPollerOptions
        {
            Planner = new ModbusPollPlannerOptions
            {
                MaxRegisterGap = link.MaxGap,
                MaxRegistersPerRequest = link.MaxRegistersPerRequest ?? ModbusPollPlannerOptions.SpecMaxRegisters,
                MaxBitsPerRequest = link.MaxBitsPerRequest ?? ModbusPollPlannerOptions.SpecMaxBits,
            },
            SlaveLimits = devices.ToDictionary(d => checked((byte)d.UnitId), d => new ModbusRequestLimits(
                d.MaxRegistersPerRequest ?? profiles.Get(d.Profile).MaxRegistersPerRequest, d.MaxBitsPerRequest)),
        }, time, loggerFactory.CreateLogger<ModbusPoller>());
        _filter = new ModbusReportFilter(points, time);
    }

    public string Name { get; }

    public IReadOnlyList<string> Channels { get; }

    /// <summary>The slowest point's poll period: each poll cycle yields a batch (empty when nothing is to be reported).</summary>
    public TimeSpan ExpectedInterval { get; }

    /// <summary>Health of each slave on the link (breaker state, failures, refused addresses).</summary>
    public IReadOnlyList<ModbusSlaveStatus> SlaveStatus => _poller.GetSlaveStatus();

    public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var cycle in _poller.RunAsync(cancellationToken).ConfigureAwait(false))
        {
            var reported = _filter.Filter(cycle);
            if (reported.Count == 0)
            {
                // Every value within its deadband: still a finished poll cycle, which the watchdog counts as progress.
                yield return [];
                continue;
            }

            var readings = new Reading[reported.Count];
            for (var i = 0; i < reported.Count; i++)
            {
                readings[i] = ToReading(reported[i]);
            }

            yield return readings;
        }
    }

    public ValueTask DisposeAsync() => _master.DisposeAsync();

    /// <summary>Maps a poller result to the contract: no value travels with comm_failure, device_exception or invalid.</summary>
    internal Reading ToReading(PointReading p)
    {
        var quality = p.Quality switch
        {
            PointQuality.Good => Quality.Good,
            PointQuality.Stale when double.IsFinite(p.Value) => Quality.Stale,
            PointQuality.Stale => Quality.CommFailure, // never read yet: nothing to repeat
            PointQuality.DeviceException => Quality.DeviceException,
            PointQuality.Invalid => Quality.Invalid,
            PointQuality.OutOfRange => Quality.OutOfRange,
            _ => Quality.CommFailure,
        };
        double? value = QualityNames.CarriesValue(quality) && double.IsFinite(p.Value)
            ? _decimals[p.PointId] is { } places ? Math.Round(p.Value, places) : p.Value
            : null;
        if (value is null && QualityNames.CarriesValue(quality))
        {
            quality = Quality.Invalid; // a string, NaN or infinity where a number belongs: not a measurement
        }

        return new Reading(p.PointId, p.Timestamp, value, _units[p.PointId], quality);
    }

    /// <summary>
    /// Decimal places an integer register carries after scaling (raw × 0.1 → 1 place), so that 883 × 0.1 is sent as
    /// 88.3 and not 88.30000000000001 (a declared decimals wins). Floating-point registers are not rounded here (null): the poller already hands
    /// over a Float32 as its shortest decimal (7.9, not 7.900000095367432) or rounded to the profile's decimals, and
    /// Math.Round to 15 places would put binary noise back into a value such as 460.93304.
    /// </summary>
    internal static int? Decimals(ModbusPointDefinition p)
    {
        if (p.DataType is ModbusDataType.Float32 or ModbusDataType.Float64)
        {
            return null;
        }

        int Places(double x)
        {
            x = Math.Abs(x);
            for (var d = 0; d < 15; d++, x *= 10)
            {
                if (Math.Abs(x - Math.Round(x)) < 1e-9 * Math.Max(1, x))
                {
                    return d;
                }
            }

            return 15;
        }

        return p.Decimals ?? Math.Max(Places(p.Scale), Places(p.Offset));
    }

    internal static IEnumerable<ModbusPointDefinition> PointsOf(ModbusDeviceOptions device, InstrumentProfile profile)
    {
        var chosen = device.Points.Count == 0
            ? profile.Points.Select(p => (Point: p, Options: (ModbusPointOptions?)null))
            : device.Points.Select(o => (Point: profile.GetPoint(o.Name), Options: (ModbusPointOptions?)o));
        foreach (var (p, o) in chosen)
        {
            if (p.Type == ModbusDataType.String)
            {
                continue; // text points (serial numbers, firmware) are not readings; the doctor reads them
            }

            // The profile says where and how a value lives; the device's configuration adds how often and when to report.
            var reportEvery = o is null || (o.Deadband == 0 && o.Heartbeat is null);
            yield return p.ToModbusPoint($"{device.Id}/{p.Name}", checked((byte)device.UnitId)) with
            {
                PollPeriod = device.PollPeriod ?? p.PollPeriod,
                ReportEveryPoll = reportEvery,
                Deadband = o?.Deadband ?? 0,
                Heartbeat = o?.Heartbeat,
            };
        }
    }

    private static IModbusMaster CreateMaster(ModbusLinkOptions link, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("IocEdge.Protocols.Modbus." + link.Id);
        return link.Transport switch
        {
            ModbusTransport.Tcp => ModbusMaster.CreateTcp(new ModbusTcpMasterOptions
            {
                Host = link.Host!, Port = link.Port, Timeout = link.Timeout, Retries = link.Retries,
            }, time, logger),
            ModbusTransport.RtuOverTcp => ModbusMaster.CreateRtuOverTcp(new ModbusRtuOverTcpMasterOptions
            {
                Host = link.Host!, Port = link.Port, Timeout = link.Timeout, Retries = link.Retries,
            }, time, logger),
            // A serial port that is missing or locked is diagnosed (path, cause, fix) before the master tries it.
            _ => new SerialLinkCheck(ModbusMaster.CreateSerial(new ModbusSerialOptions
            {
                PortName = link.SerialPort!,
                Mode = link.Transport == ModbusTransport.Ascii ? ModbusSerialMode.Ascii : ModbusSerialMode.Rtu,
                BaudRate = link.BaudRate,
                Parity = link.Parity switch { "E" => Parity.Even, "O" => Parity.Odd, _ => Parity.None },
                DataBits = link.DataBits,
                StopBits = link.StopBits == 2 ? StopBits.Two : StopBits.One,
                Timeout = link.Timeout,
                Retries = link.Retries,
            }, time, logger), link.SerialPort!, new DeviceHealth(loggers.CreateLogger<ModbusLinkSource>(), $"{link.SerialPort} (Modbus link {link.Id})")),
        };
    }
}
