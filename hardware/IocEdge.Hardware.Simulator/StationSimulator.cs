using System.Globalization;
using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Hardware.Simulator;

/// <summary>
/// A simulated field station: Modbus units (one per instrument profile) served over Modbus TCP and/or RTU/ASCII on a
/// serial line, whose registers carry realistic signals (daily cycle, smooth noise, counters) and scripted faults.
/// </summary>
/// <remarks>
/// Time comes only from the <see cref="TimeProvider"/>: an internal timer calls <see cref="Update"/> every
/// <see cref="StationSimulatorOptions.UpdatePeriod"/>, so with a FakeTimeProvider the values move only when the test
/// advances time. Wire faults (no answer, bad CRC, exception, delay) go through the server's
/// <see cref="IModbusFaultInjector"/> hook; signal faults (stuck, drift) change the values written.
/// </remarks>
public sealed class StationSimulator : IAsyncDisposable
{
    private static readonly ProfilePoint UartPm25 = new()
    {
        Name = "uart_pm2_5", Quantity = "PM2.5", Unit = "ug/m3", Min = 0, Max = 1000,
        Simulation = new PointSimulation { Mean = 45, DailyAmplitude = 20, DailyPeakHour = 8, Noise = 4 },
    };

    private static readonly ProfilePoint UartPm10 = new()
    {
        Name = "uart_pm10", Quantity = "PM10", Unit = "ug/m3", Min = 0, Max = 2000,
        Simulation = new PointSimulation { Mean = 75, DailyAmplitude = 30, DailyPeakHour = 8, Noise = 6 },
    };

    private readonly StationSimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<byte, UnitState> _units;
    private readonly Lock _gate = new();
    private readonly List<ActiveFault> _faults = [];
    private volatile Dictionary<byte, ModbusFault> _wireFaults = [];
    private readonly List<UartPtyBridge> _bridges = [];
    private ITimer? _timer;
    private ModbusServer? _server;
    private int _disposed;

    private StationSimulator(StationSimulatorOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _options = options;
        _time = time;
        _logger = loggerFactory.CreateLogger<StationSimulator>();
        LoggerFactory = loggerFactory;
        StartedAt = time.GetUtcNow();
        _units = options.Instruments.ToDictionary(i => i.UnitId, i => new UnitState(i, options.RefuseUnmappedAddresses));
        foreach (var fault in options.Faults)
        {
            _faults.Add(new ActiveFault(fault, StartedAt));
        }

        PublishWireFaults();
    }

    /// <summary>The bound Modbus TCP endpoint (the real port when the options asked for port 0), or null without TCP.</summary>
    public IPEndPoint? TcpEndPoint { get; private set; }

    /// <summary>The serial device or pty the simulator answers on, or null without serial.</summary>
    public string? SerialPortPath => _options.Serial?.PortPath;

    /// <summary>When the simulator started (the origin of counters and of faults given in the options).</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The instruments served.</summary>
    public IReadOnlyList<SimulatedInstrument> Instruments => _options.Instruments.ToArray();

    internal ILoggerFactory LoggerFactory { get; }

    /// <summary>Starts serving: validates the options, writes the first values, opens TCP and/or serial, starts the timer.</summary>
    /// <exception cref="ArgumentException">Bad options (the message names the option and the fix).</exception>
    /// <exception cref="ProfileValidationException">A profile breaks a rule.</exception>
    public static async Task<StationSimulator> StartAsync(StationSimulatorOptions options, TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var simulator = new StationSimulator(options, timeProvider ?? TimeProvider.System, loggerFactory ?? NullLoggerFactory.Instance);
        try
        {
            // Values are in the registers before the first request can arrive.
            simulator.Update();
            if (options.Instruments.Count > 0)
            {
                await simulator.StartServerAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (var device in options.UartDevices)
            {
                simulator._bridges.Add(UartPtyBridge.Start(device, simulator._time, simulator.CurrentParticulateSample, simulator._logger));
            }
            simulator._timer = simulator._time.CreateTimer(static state => ((StationSimulator)state!).Tick(), simulator,
                options.UpdatePeriod, options.UpdatePeriod);
            return simulator;
        }
        catch
        {
            await simulator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The engineering value served right now for <paramref name="pointName"/> of unit <paramref name="unitId"/>, as a
    /// master decodes it: after clamping, scaling and the type's quantisation (a UInt16 × 0.1 point serves 45.3, not
    /// 45.2817). Bits are 0 or 1.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such unit or point.</exception>
    /// <exception cref="InvalidOperationException">The point is a string (use <see cref="CurrentText"/>).</exception>
    public double CurrentValue(byte unitId, string pointName)
    {
        var point = Find(unitId, pointName);
        if (point.Point.Type == ModbusDataType.String)
        {
            throw new InvalidOperationException($"Point '{pointName}' is a string; use CurrentText.");
        }

        lock (_gate)
        {
            return point.Served;
        }
    }

    /// <summary>The text served for a string point.</summary>
    public string CurrentText(byte unitId, string pointName)
    {
        var point = Find(unitId, pointName);
        if (point.Point.Type != ModbusDataType.String)
        {
            throw new InvalidOperationException($"Point '{pointName}' is a {point.Point.Type}; use CurrentValue.");
        }

        lock (_gate)
        {
            return point.Text ?? string.Empty;
        }
    }

    /// <summary>
    /// What the simulated UART particulate sensors measure right now (µg/m³): the env-station's PM2.5 and PM10 signals
    /// (mean 45 and 75, daily peak 08:00 local), PM1 = 0.7 × PM2.5. A PMS5003 frame carries them rounded to integers,
    /// an SDS011 frame to 0.1.
    /// </summary>
    public SimulatedDevices.ParticulateSample CurrentParticulateSample()
    {
        var now = _time.GetUtcNow();
        var pm25 = StationSignal.Clamp(UartPm25, StationSignal.Raw(UartPm25, 0, _options.Seed, now, StartedAt, _options.LocalUtcOffset));
        var pm10 = StationSignal.Clamp(UartPm10, StationSignal.Raw(UartPm10, 0, _options.Seed, now, StartedAt, _options.LocalUtcOffset));
        return new SimulatedDevices.ParticulateSample(0.7 * pm25, pm25, Math.Max(pm10, pm25));
    }

    /// <summary>The register file of one unit (to watch what a master wrote, or to poke values in a test).</summary>
    public ModbusDataStore GetDataStore(byte unitId) =>
        _units.TryGetValue(unitId, out var unit)
            ? unit.Store
            : throw new KeyNotFoundException($"The simulator serves no unit {unitId} (units: {string.Join(", ", _units.Keys)}).");

    /// <summary>The faults in force.</summary>
    public IReadOnlyList<SimulatorFault> ActiveFaults
    {
        get
        {
            lock (_gate)
            {
                return _faults.Select(f => f.Fault).ToArray();
            }
        }
    }

    /// <summary>
    /// Adds a fault from now on (replacing one of the same kind, unit and point). A stuck value freezes at what was
    /// served last; a drift starts at 0 now.
    /// </summary>
    /// <exception cref="ArgumentException">The fault names an unknown unit or point, or has bad parameters.</exception>
    public void SetFault(SimulatorFault fault)
    {
        _options.ValidateFault(fault);
        lock (_gate)
        {
            _faults.RemoveAll(f => f.Fault.UnitId == fault.UnitId && f.Fault.Kind == fault.Kind
                && string.Equals(f.Fault.Point, fault.Point, StringComparison.Ordinal));
            if (fault.Kind != SimulatorFaultKind.None)
            {
                _faults.Add(new ActiveFault(fault, _time.GetUtcNow()));
            }

            PublishWireFaults();
        }

        Log.FaultSet(_logger, fault.UnitId, fault.Kind, Describe(fault));
    }

    /// <summary>Removes every fault of a unit; stuck points resume their signal at the next update.</summary>
    public void ClearFaults(byte unitId)
    {
        lock (_gate)
        {
            _faults.RemoveAll(f => f.Fault.UnitId == unitId);
            PublishWireFaults();
        }

        Log.FaultsCleared(_logger, unitId);
    }

    /// <summary>Recomputes every signal at the time provider's current time and writes the registers.</summary>
    public void Update()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (var unit in _units.Values)
            {
                UpdateUnit(unit, now);
            }
        }

        Log.Updated(_logger, now);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var bridge in _bridges)
        {
            await bridge.DisposeAsync().ConfigureAwait(false);
        }

        Log.Stopped(_logger);
    }

    /// <summary>The wire fault the server applies to a request for <paramref name="unitId"/> (what the hook answers).</summary>
    internal ModbusFault WireFaultFor(byte unitId) =>
        _wireFaults.TryGetValue(unitId, out var fault) ? fault : ModbusFault.None;

    private void Tick()
    {
        try
        {
            Update();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or ArithmeticException)
        {
            Log.UpdateFailed(_logger, ex);
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var stores = _units.ToDictionary(u => u.Key, u => u.Value.Store);
        // The wire (scripted delays, RTU silences) runs on the system clock: real peers on real sockets and ptys wait
        // in real time. Only the signals follow the caller's TimeProvider.
        _server = new ModbusServer(stores, new FaultHook(this), TimeProvider.System, LoggerFactory.CreateLogger<ModbusServer>());
        var summary = Summary(_options.Instruments);
        if (_options.Tcp is { } tcp)
        {
            TcpEndPoint = await _server.StartTcpAsync(tcp, cancellationToken).ConfigureAwait(false);
            Log.ListeningTcp(_logger, summary, TcpEndPoint);
        }

        if (_options.Serial is { } serial)
        {
            var line = serial.Line;
            await _server.StartSerialAsync(new ModbusSerialOptions
            {
                PortName = serial.PortPath,
                Mode = serial.Mode,
                BaudRate = line.BaudRate,
                Parity = line.Parity,
                DataBits = line.DataBits,
                StopBits = line.StopBits,
            }, cancellationToken).ConfigureAwait(false);
            Log.ListeningSerial(_logger, summary, serial.Mode.ToString().ToUpperInvariant(), serial.PortPath, line.BaudRate, line.Parity.ToString());
        }
    }

    private PointState Find(byte unitId, string pointName)
    {
        ArgumentNullException.ThrowIfNull(pointName);
        if (!_units.TryGetValue(unitId, out var unit))
        {
            throw new KeyNotFoundException($"The simulator serves no unit {unitId} (units: {string.Join(", ", _units.Keys)}).");
        }

        return unit.Points.FirstOrDefault(p => string.Equals(p.Point.Name, pointName, StringComparison.Ordinal))
            ?? throw new KeyNotFoundException(
                $"Unit {unitId} ({unit.Instrument.Profile.Id}) has no point '{pointName}'. Points: {string.Join(", ", unit.Points.Select(p => p.Point.Name))}.");
    }

    private void UpdateUnit(UnitState unit, DateTimeOffset now)
    {
        var profile = unit.Instrument.Profile;
        Span<ushort> registers = stackalloc ushort[125];
        unit.BitWords.Clear();
        foreach (var state in unit.Points)
        {
            var p = state.Point;
            if (p.Type == ModbusDataType.String)
            {
                var text = p.Simulation?.Text ?? profile.Model;
                var length = p.Length ?? 0;
                text = text.Length > 2 * length ? text[..(2 * length)] : text;
                var span = registers[..length];
                ModbusValueCodec.EncodeString(text, p.ByteOrder, span);
                Write(unit.Store, p.Register, (ushort)p.Address, span);
                state.Text = text;
                continue;
            }

            var value = SignalValue(unit.Instrument.UnitId, state, now);
            if (p.Type == ModbusDataType.Bit)
            {
                var on = value >= 0.5;
                state.Served = on ? 1 : 0;
                switch (p.Register)
                {
                    case RegisterKind.Coil:
                        unit.Store.SetCoils((ushort)p.Address, [on]);
                        break;
                    case RegisterKind.DiscreteInput:
                        unit.Store.SetDiscreteInputs((ushort)p.Address, [on]);
                        break;
                    default:
                        // Bits of one register are gathered and written once, after every point of the unit.
                        var key = (p.Register, (ushort)p.Address);
                        unit.BitWords[key] = ModbusValueCodec.EncodeBit(unit.BitWords.GetValueOrDefault(key), p.Bit ?? 0, on);
                        break;
                }

                continue;
            }

            var count = p.RegisterCount;
            var words = registers[..count];
            words.Clear();
            ModbusValueCodec.Encode(value, p.Type, p.ByteOrder, words, p.Scale, p.Offset);
            state.Served = ModbusValueCodec.Decode(words, p.Type, p.ByteOrder, p.Scale, p.Offset);
            Write(unit.Store, p.Register, (ushort)p.Address, words);
        }

        foreach (var ((kind, address), word) in unit.BitWords)
        {
            Write(unit.Store, kind, address, [word]);
        }
    }

    // The signal with signal faults (drift, stuck) applied, clamped to the plausible range.
    private double SignalValue(byte unitId, PointState state, DateTimeOffset now)
    {
        var p = state.Point;
        var value = StationSignal.Clamp(p, StationSignal.Raw(p, unitId, _options.Seed, now, StartedAt, _options.LocalUtcOffset));
        var stuck = false;
        foreach (var active in _faults)
        {
            var f = active.Fault;
            if (f.UnitId != unitId || (f.Point is not null && !string.Equals(f.Point, p.Name, StringComparison.Ordinal)))
            {
                continue;
            }

            if (f.Kind == SimulatorFaultKind.Drift)
            {
                value = StationSignal.Clamp(p, value + f.DriftPerHour * Math.Max(0, (now - active.Since).TotalHours));
            }
            else if (f.Kind == SimulatorFaultKind.StuckValue)
            {
                stuck = true;
            }
        }

        if (!stuck)
        {
            state.StuckAt = null;
            return value;
        }

        // Frozen at what was served when the fault began (or at this value when nothing was served yet).
        state.StuckAt ??= state.HasServed ? state.Served : value;
        return state.StuckAt.Value;
    }

    private static void Write(ModbusDataStore store, RegisterKind kind, ushort address, ReadOnlySpan<ushort> words)
    {
        if (kind == RegisterKind.HoldingRegister)
        {
            store.SetHoldingRegisters(address, words);
        }
        else
        {
            store.SetInputRegisters(address, words);
        }
    }

    // Called under _gate (or from the constructor): the hook reads an immutable snapshot without locking.
    private void PublishWireFaults()
    {
        var map = new Dictionary<byte, ModbusFault>();
        foreach (var f in _faults.Select(a => a.Fault))
        {
            ModbusFault? wire = f.Kind switch
            {
                SimulatorFaultKind.NoAnswer => ModbusFault.NoAnswer,
                SimulatorFaultKind.BadCrc => ModbusFault.BadChecksum,
                SimulatorFaultKind.Exception => ModbusFault.ExceptionResponse(f.ExceptionCode),
                SimulatorFaultKind.Delay => ModbusFault.Delayed(f.Delay),
                _ => null,
            };
            if (wire is null)
            {
                continue;
            }

            // Several wire faults on one unit: the most severe wins (no answer > bad CRC > exception > delay).
            if (!map.TryGetValue(f.UnitId, out var existing) || Severity(wire.Value.Kind) > Severity(existing.Kind))
            {
                map[f.UnitId] = wire.Value;
            }
        }

        _wireFaults = map;
    }

    private static int Severity(ModbusFaultKind kind) => kind switch
    {
        ModbusFaultKind.NoAnswer => 4,
        ModbusFaultKind.BadChecksum => 3,
        ModbusFaultKind.Exception => 2,
        ModbusFaultKind.Delay => 1,
        _ => 0,
    };

    private static string Describe(SimulatorFault f) => f.Kind switch
    {
        SimulatorFaultKind.Exception => $"code {(byte)f.ExceptionCode} {f.ExceptionCode}",
        SimulatorFaultKind.Delay => $"{f.Delay.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms",
        SimulatorFaultKind.Drift => $"{f.DriftPerHour.ToString(CultureInfo.InvariantCulture)}/h on {f.Point ?? "every point"}",
        SimulatorFaultKind.StuckValue => $"on {f.Point ?? "every point"}",
        _ => "whole unit",
    };

    private static string Summary(IEnumerable<SimulatedInstrument> instruments) =>
        string.Join(", ", instruments.Select(i => $"{i.Profile.Id} as unit {i.UnitId}"));

    private sealed class FaultHook(StationSimulator simulator) : IModbusFaultInjector
    {
        public ModbusFault Decide(in ModbusRequestInfo request) => simulator.WireFaultFor(request.UnitId);
    }

    private sealed record ActiveFault(SimulatorFault Fault, DateTimeOffset Since);

    private sealed class UnitState
    {
        public UnitState(SimulatedInstrument instrument, bool refuseUnmapped)
        {
            Instrument = instrument;
            Points = instrument.Profile.Points.Select(p => new PointState(p)).ToArray();
            var profile = instrument.Profile;
            Store.SetDeviceIdentification(0x00, Truncate(profile.Manufacturer.Length > 0 ? profile.Manufacturer : "IocEdge"));
            Store.SetDeviceIdentification(0x01, Truncate(profile.Model.Length > 0 ? profile.Model : profile.Id));
            Store.SetDeviceIdentification(0x02, "iocedge-sim");
            Store.SetDeviceIdentification(0x04, Truncate(profile.Name));
            // FC 11 Report Server ID (spec V1.1b3 section 6.13): a 1-byte server id (the unit id, as most devices and
            // masters expect), run indicator ON, and the instrument as text: "profile-id: Name (Manufacturer Model)".
            var maker = $"{profile.Manufacturer} {profile.Model}".Trim();
            var text = maker.Length > 0 ? $"{profile.Id}: {profile.Name} ({maker})" : $"{profile.Id}: {profile.Name}";
            var additional = System.Text.Encoding.Latin1.GetBytes(text.Length > 240 ? text[..240] : text);
            Store.SetServerId([instrument.UnitId], running: true, additional);
            if (refuseUnmapped)
            {
                // Like real devices, answer exception 02 outside the mapped points.
                foreach (var kind in Enum.GetValues<RegisterKind>())
                {
                    Store.MarkNonExistent(kind, 0, 65536);
                }

                foreach (var p in profile.Points)
                {
                    Store.MarkExistent(p.Register, (ushort)p.Address, p.RegisterCount);
                }
            }
        }

        public SimulatedInstrument Instrument { get; }

        public ModbusDataStore Store { get; } = new();

        public PointState[] Points { get; }

        public Dictionary<(RegisterKind Kind, ushort Address), ushort> BitWords { get; } = [];

        private static string Truncate(string s) => s.Length > 200 ? s[..200] : s;
    }

    private sealed class PointState(ProfilePoint point)
    {
        private double _served;

        public ProfilePoint Point { get; } = point;

        public double Served
        {
            get => _served;
            set
            {
                _served = value;
                HasServed = true;
            }
        }

        public bool HasServed { get; private set; }

        public string? Text { get; set; }

        public double? StuckAt { get; set; }
    }
}
