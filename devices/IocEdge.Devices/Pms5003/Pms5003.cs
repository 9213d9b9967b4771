using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>
/// Plantower PMS5003 particulate sensor on a UART (9600 8N1). The driver takes the serial stream
/// (<c>SerialPort.BaseStream</c>, or a simulated line), finds frames in the byte stream, drops and counts garbage
/// and checksum failures, and reports PM1, PM2.5 and PM10 (atmospheric environment values).
/// </summary>
public sealed class Pms5003 : IDisposable
{
    private readonly Stream _uart;
    private readonly ILogger _logger;
    private readonly UartFrameReader<Pms5003Frame> _reader;
    private readonly SemaphoreSlim _busy = new(1, 1);
    private readonly LatestFrame<Pms5003Frame> _latest;
    private readonly TimeProvider _time;

    /// <summary>
    /// Upper end of the effective range of PM2.5 (and, applied alike, PM1.0 and PM10), µg/m³: Plantower PMS5003 data
    /// manual, "Technical Index": effective range 0-500 µg/m³, maximum range ≥ 1000 µg/m³. Above it a value is
    /// reported with quality OutOfRange (the value travels).
    /// </summary>
    public const double EffectiveRangeMaxMicrograms = 500;

    /// <param name="uart">The serial stream at 9600 8N1.</param>
    /// <param name="timeProvider">The clock the frame timeout runs on.</param>
    /// <param name="logger">Logs dropped bytes and failures.</param>
    /// <param name="frameTimeout">Longest wait for a good frame; active mode sends one at least every 2.3 s.</param>
    public Pms5003(Stream uart, TimeProvider? timeProvider = null, ILogger<Pms5003>? logger = null, TimeSpan? frameTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(uart);
        _uart = uart;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        FrameTimeout = frameTimeout ?? TimeSpan.FromSeconds(5);
        _time = timeProvider ?? TimeProvider.System;
        _latest = new LatestFrame<Pms5003Frame>("PMS5003", _time, _logger);
        _reader = new UartFrameReader<Pms5003Frame>(uart, Pms5003Frame.Decode, "PMS5003", _time,
            _logger, Statistics);
    }

    public TimeSpan FrameTimeout { get; }

    /// <summary>Frames, checksum errors, malformed frames and discarded bytes since start.</summary>
    public UartStatistics Statistics { get; } = new();

    /// <summary>The next valid data frame. Throws <see cref="SensorException"/> (timeout, closed port).</summary>
    public async Task<Pms5003Frame> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var (status, frame) = await _reader.ReadFrameAsync(FrameTimeout, cancellationToken).ConfigureAwait(false);
                if (status == FrameDecodeStatus.Frame)
                {
                    return frame;
                }
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>
    /// Reads frames continuously (active mode) and keeps the newest for <see cref="ReadLatest"/>, so that a channel
    /// polling every minute gets the current value rather than the oldest frame waiting in the serial buffer.
    /// Timeouts are logged and reading goes on; returns when cancelled or when the port closes.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken) => _latest.RunAsync(ReadFrameAsync, cancellationToken);

    /// <summary>
    /// The newest frame seen by <see cref="RunAsync"/> as <c>pm1</c>, <c>pm2_5</c>, <c>pm10</c>; a comm failure when
    /// none arrived within <paramref name="maxAge"/>.
    /// </summary>
    public IReadOnlyList<SensorReading> ReadLatest(TimeSpan maxAge)
    {
        if (!_latest.TryGet(maxAge, out var latest))
        {
            var error = $"PMS5003: no valid frame in the last {maxAge.TotalSeconds:0.#} s (checksum errors so far: {Statistics.ChecksumErrors}).";
            return
            [
                SensorReading.Failed("pm1", Units.MicrogramsPerCubicMetre, SensorQuality.CommFailure, error),
                SensorReading.Failed("pm2_5", Units.MicrogramsPerCubicMetre, SensorQuality.CommFailure, error),
                SensorReading.Failed("pm10", Units.MicrogramsPerCubicMetre, SensorQuality.CommFailure, error),
            ];
        }

        return ToReadings(latest);
    }

    /// <summary>
    /// The frame as <c>pm1</c>, <c>pm2_5</c>, <c>pm10</c>: Good; OutOfRange (value kept) above the effective range of
    /// 500 µg/m³; Invalid for a frame whose twelve data words are all zero, which the sensor sends while its fan spins
    /// up after power-on or wake-up (ambient air always holds particles &gt; 0.3 µm, so a zero count is not a
    /// measurement; the data manual asks to wait 30 s after wake-up for stable data).
    /// </summary>
    public static IReadOnlyList<SensorReading> ToReadings(Pms5003Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (frame.IsAllZero)
        {
            const string error = "PMS5003: frame of all zeros (fan still spinning up after power-on or wake-up; " +
                "data is stable 30 s after wake-up, PMS5003 data manual).";
            return
            [
                SensorReading.Invalid("pm1", Units.MicrogramsPerCubicMetre, error),
                SensorReading.Invalid("pm2_5", Units.MicrogramsPerCubicMetre, error),
                SensorReading.Invalid("pm10", Units.MicrogramsPerCubicMetre, error),
            ];
        }

        const string range = "PMS5003 data manual, effective range";
        return
        [
            SensorReading.Ranged("pm1", frame.Pm1, Units.MicrogramsPerCubicMetre, 0, EffectiveRangeMaxMicrograms, "PMS5003", range),
            SensorReading.Ranged("pm2_5", frame.Pm25, Units.MicrogramsPerCubicMetre, 0, EffectiveRangeMaxMicrograms, "PMS5003", range),
            SensorReading.Ranged("pm10", frame.Pm10, Units.MicrogramsPerCubicMetre, 0, EffectiveRangeMaxMicrograms, "PMS5003", range),
        ];
    }

    /// <summary><c>pm1</c>, <c>pm2_5</c>, <c>pm10</c> in ug/m3 from the next frame. Never throws for a device problem.</summary>
    public async Task<IReadOnlyList<SensorReading>> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var f = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            return ToReadings(f);
        }
        catch (SensorException ex)
        {
            Log.ReadFailed(_logger, "PMS5003", ex.Message);
            return
            [
                SensorReading.Failed("pm1", Units.MicrogramsPerCubicMetre, ex),
                SensorReading.Failed("pm2_5", Units.MicrogramsPerCubicMetre, ex),
                SensorReading.Failed("pm10", Units.MicrogramsPerCubicMetre, ex),
            ];
        }
    }

    /// <summary>Releases the driver; the serial port stays open (its owner closes it).</summary>
    public void Dispose() => _busy.Dispose();

    /// <summary>Sleep (fan and laser off, extends the laser's life) or wake up (data manual: command 0xE4).</summary>
    public Task SetSleepAsync(bool sleep, CancellationToken cancellationToken = default) =>
        SendAsync(0xE4, sleep ? (byte)0x00 : (byte)0x01, cancellationToken);

    /// <summary>Active mode (frames sent on their own) or passive mode (frames on request) (command 0xE1).</summary>
    public Task SetPassiveModeAsync(bool passive, CancellationToken cancellationToken = default) =>
        SendAsync(0xE1, passive ? (byte)0x00 : (byte)0x01, cancellationToken);

    /// <summary>Asks for one frame in passive mode (command 0xE2); read it with <see cref="ReadFrameAsync"/>.</summary>
    public Task RequestFrameAsync(CancellationToken cancellationToken = default) => SendAsync(0xE2, 0x00, cancellationToken);

    /// <summary>The 7-byte host command: 0x42 0x4D CMD DATAH DATAL LRCH LRCL, LRC = sum of the bytes before it.</summary>
    public static byte[] Command(byte command, byte data)
    {
        var bytes = new byte[] { Pms5003Frame.Start1, Pms5003Frame.Start2, command, 0x00, data, 0, 0 };
        var sum = Pms5003Frame.Sum(bytes.AsSpan(0, 5));
        bytes[5] = (byte)(sum >> 8);
        bytes[6] = (byte)sum;
        return bytes;
    }

    private async Task SendAsync(byte command, byte data, CancellationToken cancellationToken)
    {
        try
        {
            await _uart.WriteAsync(Command(command, data), cancellationToken).ConfigureAwait(false);
            await _uart.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"PMS5003: serial write failed ({ex.Message}).", ex);
        }
    }
}
