using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>One SDS011 measurement.</summary>
public readonly record struct Sds011Measurement(double Pm25, double Pm10, ushort DeviceId);

/// <summary>
/// Nova Fitness SDS011 particulate sensor on a UART (9600 8N1, Laser Dust Sensor Control Protocol V1.3). Reads
/// measurement frames in active mode, queries in query mode, and sends the reporting-mode, sleep/work and
/// working-period commands, waiting for their 0xC5 replies. Garbage and checksum failures are counted and dropped.
/// The SDS011 reports PM2.5 and PM10 only (no PM1).
/// </summary>
public sealed class Sds011 : IDisposable
{
    private const byte CommandHead = 0xB4;
    private const byte ReportingModeCommand = 2;
    private const byte QueryCommand = 4;
    private const byte SleepWorkCommand = 6;
    private const byte WorkingPeriodCommand = 8;

    private readonly Stream _uart;
    private readonly ILogger _logger;
    private readonly UartFrameReader<Sds011Frame> _reader;
    private readonly SemaphoreSlim _busy = new(1, 1);
    private readonly LatestFrame<Sds011Measurement> _latest;
    private readonly TimeProvider _time;

    /// <summary>
    /// Upper end of the measuring range, µg/m³ (Nova Fitness SDS011 datasheet V1.3, "Technical parameters":
    /// measuring range 0.0-999.9 µg/m³). The frame can carry up to 6553.5; above 999.9 the value is reported with
    /// quality OutOfRange (the value travels).
    /// </summary>
    public const double RangeMaxMicrograms = 999.9;

    /// <param name="uart">The serial stream at 9600 8N1.</param>
    /// <param name="timeProvider">The clock timeouts run on.</param>
    /// <param name="logger">Logs dropped bytes and failures.</param>
    /// <param name="timeout">Longest wait for a frame or a reply (active mode sends one per second).</param>
    public Sds011(Stream uart, TimeProvider? timeProvider = null, ILogger<Sds011>? logger = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(uart);
        _uart = uart;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Timeout = timeout ?? TimeSpan.FromSeconds(3);
        _time = timeProvider ?? TimeProvider.System;
        _latest = new LatestFrame<Sds011Measurement>("SDS011", _time, _logger);
        _reader = new UartFrameReader<Sds011Frame>(uart, Sds011Frame.Decode, "SDS011", _time,
            _logger, Statistics);
    }

    public TimeSpan Timeout { get; }

    public UartStatistics Statistics { get; } = new();

    /// <summary>
    /// The 19-byte host command: 0xAA 0xB4, DATA1..DATA13, device id (0xFFFF = any), checksum of bytes 2..16, 0xAB.
    /// </summary>
    public static byte[] Command(byte command, byte data2 = 0, byte data3 = 0, ushort deviceId = 0xFFFF)
    {
        var bytes = new byte[19];
        bytes[0] = Sds011Frame.Head;
        bytes[1] = CommandHead;
        bytes[2] = command;
        bytes[3] = data2;
        bytes[4] = data3;
        bytes[15] = (byte)(deviceId >> 8);
        bytes[16] = (byte)deviceId;
        bytes[17] = Sds011Frame.Checksum(bytes.AsSpan(2, 15));
        bytes[18] = Sds011Frame.Tail;
        return bytes;
    }

    /// <summary>The next measurement frame (active mode). Throws <see cref="SensorException"/>.</summary>
    public async Task<Sds011Measurement> ReadMeasurementAsync(CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await NextMeasurementAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>Asks for a measurement (query mode) and returns it. Throws <see cref="SensorException"/>.</summary>
    public async Task<Sds011Measurement> QueryAsync(CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendAsync(Command(QueryCommand), cancellationToken).ConfigureAwait(false);
            return await NextMeasurementAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>Query mode (measurements only on request) or active mode (one per second).</summary>
    public Task SetQueryModeAsync(bool queryMode, CancellationToken cancellationToken = default) =>
        CommandAsync(ReportingModeCommand, 1, queryMode ? (byte)1 : (byte)0, cancellationToken);

    /// <summary>
    /// Sleep (fan and laser off) or work. After waking, the datasheet advises letting the fan run about 30 s before
    /// trusting the values.
    /// </summary>
    public Task SetSleepAsync(bool sleep, CancellationToken cancellationToken = default) =>
        CommandAsync(SleepWorkCommand, 1, sleep ? (byte)0 : (byte)1, cancellationToken);

    /// <summary>0 = continuous (one per second), 1-30 = work 30 s then sleep, once every n minutes.</summary>
    public Task SetWorkingPeriodAsync(int minutes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minutes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minutes, 30);
        return CommandAsync(WorkingPeriodCommand, 1, (byte)minutes, cancellationToken);
    }

    /// <summary>
    /// <c>pm2_5</c> and <c>pm10</c> in ug/m3: in active mode the next frame, in query mode after a query.
    /// Never throws for a device problem.
    /// </summary>
    public async Task<IReadOnlyList<SensorReading>> ReadAsync(bool query = false, CancellationToken cancellationToken = default)
    {
        try
        {
            var m = query
                ? await QueryAsync(cancellationToken).ConfigureAwait(false)
                : await ReadMeasurementAsync(cancellationToken).ConfigureAwait(false);
            return ToReadings(m);
        }
        catch (SensorException ex)
        {
            Log.ReadFailed(_logger, "SDS011", ex.Message);
            return
            [
                SensorReading.Failed("pm2_5", Units.MicrogramsPerCubicMetre, ex),
                SensorReading.Failed("pm10", Units.MicrogramsPerCubicMetre, ex),
            ];
        }
    }

    /// <summary>
    /// Reads measurements continuously (active mode) and keeps the newest for <see cref="ReadLatest"/>. Timeouts are
    /// logged and reading goes on; returns when cancelled or when the port closes. Not for query mode.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken) => _latest.RunAsync(ReadMeasurementAsync, cancellationToken);

    /// <summary>
    /// The newest measurement seen by <see cref="RunAsync"/> as <c>pm2_5</c> and <c>pm10</c>; a comm failure when
    /// none arrived within <paramref name="maxAge"/>.
    /// </summary>
    public IReadOnlyList<SensorReading> ReadLatest(TimeSpan maxAge)
    {
        if (!_latest.TryGet(maxAge, out var latest))
        {
            var error = $"SDS011: no valid frame in the last {maxAge.TotalSeconds:0.#} s (checksum errors so far: {Statistics.ChecksumErrors}).";
            return
            [
                SensorReading.Failed("pm2_5", Units.MicrogramsPerCubicMetre, SensorQuality.CommFailure, error),
                SensorReading.Failed("pm10", Units.MicrogramsPerCubicMetre, SensorQuality.CommFailure, error),
            ];
        }

        return ToReadings(latest);
    }

    /// <summary><c>pm2_5</c> and <c>pm10</c>: Good, or OutOfRange (value kept) above the 999.9 µg/m³ measuring range.</summary>
    public static IReadOnlyList<SensorReading> ToReadings(Sds011Measurement m)
    {
        const string range = "SDS011 datasheet V1.3, measuring range";
        return
        [
            SensorReading.Ranged("pm2_5", m.Pm25, Units.MicrogramsPerCubicMetre, 0, RangeMaxMicrograms, "SDS011", range),
            SensorReading.Ranged("pm10", m.Pm10, Units.MicrogramsPerCubicMetre, 0, RangeMaxMicrograms, "SDS011", range),
        ];
    }

    /// <summary>Releases the driver; the serial port stays open (its owner closes it).</summary>
    public void Dispose() => _busy.Dispose();

    private async Task<Sds011Measurement> NextMeasurementAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (_, frame) = await _reader.ReadFrameAsync(Timeout, cancellationToken).ConfigureAwait(false);
            if (frame.CommandId == Sds011Frame.MeasurementId)
            {
                return new Sds011Measurement(frame.Pm25, frame.Pm10, frame.DeviceId);
            }
        }
    }

    private async Task CommandAsync(byte command, byte data2, byte data3, CancellationToken cancellationToken)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendAsync(Command(command, data2, data3), cancellationToken).ConfigureAwait(false);
            while (true)
            {
                // Measurement frames may arrive before the reply in active mode; skip them.
                var (_, frame) = await _reader.ReadFrameAsync(Timeout, cancellationToken).ConfigureAwait(false);
                if (frame.CommandId == Sds011Frame.ReplyId && frame.Data[0] == command)
                {
                    if (frame.Data[2] != data3)
                    {
                        throw SensorException.Device($"SDS011: command {command} answered with value {frame.Data[2]}, expected {data3}.");
                    }

                    return;
                }
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    private async Task SendAsync(byte[] command, CancellationToken cancellationToken)
    {
        try
        {
            await _uart.WriteAsync(command, cancellationToken).ConfigureAwait(false);
            await _uart.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"SDS011: serial write failed ({ex.Message}).", ex);
        }
    }
}
