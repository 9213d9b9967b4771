using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Hardware.Simulator;

/// <summary>One instrument the simulator serves: a profile behind a unit (slave) id.</summary>
/// <param name="Profile">The register map and signals.</param>
/// <param name="UnitId">Modbus unit id, 1-247; 255 (or 0 without a serial line) for a device reached directly over TCP.</param>
public sealed record SimulatedInstrument(InstrumentProfile Profile, byte UnitId);

/// <summary>The serial (RS-485) side of the simulator: a tty or pty path, its line settings and framing.</summary>
/// <param name="PortPath">Device path, e.g. a socat pty link <c>/tmp/x/ttyV0</c>.</param>
public sealed record SimulatorSerialOptions(string PortPath)
{
    public ModbusSerialLineSettings Line { get; init; } = new();

    public ModbusSerialMode Mode { get; init; } = ModbusSerialMode.Rtu;
}

/// <summary>What a simulated unit does wrong.</summary>
public enum SimulatorFaultKind
{
    /// <summary>Behaves.</summary>
    None,

    /// <summary>Never answers (the master times out).</summary>
    NoAnswer,

    /// <summary>Answers with a corrupted checksum (RTU CRC / ASCII LRC); over Modbus TCP, which has no checksum, the MBAP
    /// protocol identifier is corrupted instead, so the master discards the answer.</summary>
    BadCrc,

    /// <summary>Answers every request with the exception response <see cref="SimulatorFault.ExceptionCode"/>.</summary>
    Exception,

    /// <summary>Answers after <see cref="SimulatorFault.Delay"/>.</summary>
    Delay,

    /// <summary>The values freeze at what they were when the fault began (a dead sensor behind a live transmitter).</summary>
    StuckValue,

    /// <summary>The values drift by <see cref="SimulatorFault.DriftPerHour"/> (point unit per hour) from when the fault began.</summary>
    Drift,
}

/// <summary>A scripted fault of one unit (and, for <see cref="SimulatorFaultKind.StuckValue"/> and
/// <see cref="SimulatorFaultKind.Drift"/>, optionally of one point only).</summary>
public sealed record SimulatorFault
{
    public required byte UnitId { get; init; }

    public required SimulatorFaultKind Kind { get; init; }

    /// <summary>For <see cref="SimulatorFaultKind.Exception"/>.</summary>
    public ModbusExceptionCode ExceptionCode { get; init; } = ModbusExceptionCode.ServerDeviceFailure;

    /// <summary>For <see cref="SimulatorFaultKind.Delay"/>.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>For <see cref="SimulatorFaultKind.Drift"/>: change per hour in the point's unit (negative drifts down).</summary>
    public double DriftPerHour { get; init; }

    /// <summary>For stuck and drift: the point affected; null = every point of the unit.</summary>
    public string? Point { get; init; }

    /// <summary>Convenience constructors.</summary>
    public static SimulatorFault NoAnswer(byte unitId) => new() { UnitId = unitId, Kind = SimulatorFaultKind.NoAnswer };

    public static SimulatorFault BadCrc(byte unitId) => new() { UnitId = unitId, Kind = SimulatorFaultKind.BadCrc };

    public static SimulatorFault Exception(byte unitId, ModbusExceptionCode code) =>
        new() { UnitId = unitId, Kind = SimulatorFaultKind.Exception, ExceptionCode = code };

    public static SimulatorFault Delayed(byte unitId, TimeSpan delay) =>
        new() { UnitId = unitId, Kind = SimulatorFaultKind.Delay, Delay = delay };

    public static SimulatorFault Stuck(byte unitId, string? point = null) =>
        new() { UnitId = unitId, Kind = SimulatorFaultKind.StuckValue, Point = point };

    public static SimulatorFault Drifting(byte unitId, double perHour, string? point = null) =>
        new() { UnitId = unitId, Kind = SimulatorFaultKind.Drift, DriftPerHour = perHour, Point = point };
}

/// <summary>Options of <see cref="StationSimulator"/>; checked by <see cref="Validate"/> at start.</summary>
public sealed class StationSimulatorOptions
{
    /// <summary>The instruments served, one per unit id.</summary>
    public IList<SimulatedInstrument> Instruments { get; init; } = new List<SimulatedInstrument>();

    /// <summary>Modbus TCP endpoint to listen on (port 0 = ephemeral, see <see cref="StationSimulator.TcpEndPoint"/>);
    /// null = no TCP.</summary>
    public IPEndPoint? Tcp { get; set; }

    /// <summary>Modbus RTU/ASCII on a serial device or pty; null = no serial.</summary>
    public SimulatorSerialOptions? Serial { get; set; }

    /// <summary>How often the signals are recomputed and written to the registers.</summary>
    public TimeSpan UpdatePeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Seed of the noise: one seed, one series.</summary>
    public int Seed { get; set; }

    /// <summary>Local time of the daily cycles: UTC+7 (Vietnam, no daylight saving) by default.</summary>
    public TimeSpan LocalUtcOffset { get; set; } = TimeSpan.FromHours(7);

    /// <summary>
    /// When true, addresses outside the profile's points answer exception 02 (Illegal Data Address), as real devices
    /// do around the gaps of their maps; when false (default) every address reads (unmapped ones as 0).
    /// </summary>
    public bool RefuseUnmappedAddresses { get; set; }

    /// <summary>
    /// Simulated UART particulate sensors (PMS5003, SDS011) served on serial devices or ptys, for gateway drivers in
    /// another process. Their frames and timers run on the simulator's TimeProvider.
    /// </summary>
    public IList<SimulatedUartDevice> UartDevices { get; init; } = new List<SimulatedUartDevice>();

    /// <summary>Faults active from the start (change them later with <see cref="StationSimulator.SetFault"/>).</summary>
    public IList<SimulatorFault> Faults { get; init; } = new List<SimulatorFault>();

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad option and the fix.</summary>
    public void Validate()
    {
        if (Instruments.Count == 0 && UartDevices.Count == 0)
        {
            throw new ArgumentException("Instruments is empty: add at least one (profile, unit id), or a UART device.", nameof(Instruments));
        }

        foreach (var device in UartDevices)
        {
            if (device is null || string.IsNullOrWhiteSpace(device.PortPath) || !Enum.IsDefined(device.Kind))
            {
                throw new ArgumentException("A UART device needs a kind (Pms5003, Sds011) and a port path.", nameof(UartDevices));
            }
        }

        var sharedPort = UartDevices.Select(d => d.PortPath).Append(Serial?.PortPath)
            .Where(p => p is not null).GroupBy(p => p, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (sharedPort is not null)
        {
            throw new ArgumentException($"The port {sharedPort.Key} is used twice: give each device (and the Modbus line) its own port.", nameof(UartDevices));
        }

        foreach (var instrument in Instruments)
        {
            ArgumentNullException.ThrowIfNull(instrument?.Profile, nameof(Instruments));
            // 1-247 (MODBUS over Serial Line V1.02, 2.2); 255 or, off a serial line, 0 for a device reached directly
            // over Modbus TCP (Implementation Guide V1.0b, 4.4.2.2).
            var direct = instrument.UnitId == 255 || (instrument.UnitId == 0 && Serial is null);
            if (instrument.UnitId is < 1 or > 247 && !direct)
            {
                throw new ArgumentException(
                    $"Unit id {instrument.UnitId} of '{instrument.Profile.Id}' is outside 1-247 (MODBUS over Serial Line V1.02, 2.2): pick 1-247, or 255 (0 on TCP only) for a device reached directly over TCP.",
                    nameof(Instruments));
            }

            instrument.Profile.Validate();
        }

        var duplicate = Instruments.GroupBy(i => i.UnitId).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"Unit id {duplicate.Key} is used by {string.Join(" and ", duplicate.Select(i => i.Profile.Id))}: give each instrument its own unit id.",
                nameof(Instruments));
        }

        if (Instruments.Count > 0 && Tcp is null && Serial is null)
        {
            throw new ArgumentException("Neither Tcp nor Serial is set: give a TCP endpoint (e.g. 127.0.0.1:1502) or a serial port path.", nameof(Tcp));
        }

        if (Serial is not null)
        {
            if (string.IsNullOrWhiteSpace(Serial.PortPath))
            {
                throw new ArgumentException("Serial.PortPath is empty: give the tty or pty path.", nameof(Serial));
            }

            Serial.Line.Validate();
        }

        if (UpdatePeriod <= TimeSpan.Zero)
        {
            throw new ArgumentException($"UpdatePeriod must be positive (was {UpdatePeriod}); 1 s is usual.", nameof(UpdatePeriod));
        }

        if (LocalUtcOffset < TimeSpan.FromHours(-14) || LocalUtcOffset > TimeSpan.FromHours(14))
        {
            throw new ArgumentException($"LocalUtcOffset {LocalUtcOffset} is outside ±14 h.", nameof(LocalUtcOffset));
        }

        foreach (var fault in Faults)
        {
            ValidateFault(fault);
        }
    }

    internal void ValidateFault(SimulatorFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        var instrument = Instruments.FirstOrDefault(i => i.UnitId == fault.UnitId)
            ?? throw new ArgumentException(
                $"A {fault.Kind} fault names unit {fault.UnitId}, which the simulator does not serve (units: {string.Join(", ", Instruments.Select(i => i.UnitId))}).",
                nameof(fault));
        if (!Enum.IsDefined(fault.Kind))
        {
            throw new ArgumentException($"Unknown fault kind {(int)fault.Kind}.", nameof(fault));
        }

        if (fault.Point is not null && !instrument.Profile.TryGetPoint(fault.Point, out _))
        {
            throw new ArgumentException(
                $"The fault names point '{fault.Point}', which profile '{instrument.Profile.Id}' does not have (points: {string.Join(", ", instrument.Profile.Points.Select(p => p.Name))}).",
                nameof(fault));
        }

        if (fault.Point is not null && fault.Kind is not (SimulatorFaultKind.StuckValue or SimulatorFaultKind.Drift))
        {
            throw new ArgumentException($"A {fault.Kind} fault affects the whole unit: remove Point.", nameof(fault));
        }

        if (fault.Kind == SimulatorFaultKind.Delay && (fault.Delay <= TimeSpan.Zero || fault.Delay > TimeSpan.FromMinutes(5)))
        {
            throw new ArgumentException($"A delay fault needs a Delay between 0 and 5 min (was {fault.Delay}).", nameof(fault));
        }

        if (fault.Kind == SimulatorFaultKind.Drift && (!double.IsFinite(fault.DriftPerHour) || fault.DriftPerHour == 0))
        {
            throw new ArgumentException("A drift fault needs a finite, non-zero DriftPerHour (point unit per hour).", nameof(fault));
        }

        if (fault.Kind == SimulatorFaultKind.Exception && !Enum.IsDefined(fault.ExceptionCode))
        {
            throw new ArgumentException(
                $"Exception code {(byte)fault.ExceptionCode} is not one of the specification's (1-6, 8, 10, 11).", nameof(fault));
        }
    }
}
