using System.Device.Gpio;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Devices;

/// <summary>Settings of one pulse counter (tipping-bucket rain gauge, cup anemometer, flow or energy meter).</summary>
public sealed record PulseCounterOptions
{
    /// <summary>Name used in logs and in the state file.</summary>
    public required string Name { get; init; }

    /// <summary>BCM (logical) GPIO number.</summary>
    public required int Pin { get; init; }

    /// <summary>The edge that counts: a reed switch to GND with a pull-up closes on the falling edge.</summary>
    public PinEventTypes Edge { get; init; } = PinEventTypes.Falling;

    public InputPull Pull { get; init; } = InputPull.PullUp;

    /// <summary>
    /// Edges closer than this to the last counted pulse are contact bounce and are ignored. Keep it below the
    /// shortest real interval: 1 ms suits an anemometer (≤ 50 Hz), 50 ms a rain gauge.
    /// </summary>
    public TimeSpan MinPulseInterval { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Where the running total is kept across restarts; null keeps it in memory only.</summary>
    public string? StateFile { get; init; }

    /// <summary>
    /// How often a changed total is written (temp file + rename). A power cut loses at most the pulses of one
    /// interval; a clean stop (Dispose) writes the final total.
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The sliding window the rate is computed over.</summary>
    public TimeSpan RateWindow { get; init; } = TimeSpan.FromMinutes(1);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("PulseCounter Name is empty: give the counter a name such as 'rain'.");
        }

        if (Pin < 0)
        {
            throw new ArgumentException($"PulseCounter '{Name}' Pin {Pin} is negative: use the BCM GPIO number.");
        }

        if (Edge is not (PinEventTypes.Falling or PinEventTypes.Rising))
        {
            throw new ArgumentException($"PulseCounter '{Name}' Edge must be Falling or Rising (one edge per pulse), not {Edge}.");
        }

        if (MinPulseInterval < TimeSpan.Zero || MinPulseInterval > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"PulseCounter '{Name}' MinPulseInterval {MinPulseInterval} is out of range: use 0 to 1 s.");
        }

        if (FlushInterval < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"PulseCounter '{Name}' FlushInterval {FlushInterval} is too short: use 1 s or more (flash wear).");
        }

        if (RateWindow < TimeSpan.FromSeconds(1) || RateWindow > TimeSpan.FromHours(24))
        {
            throw new ArgumentException($"PulseCounter '{Name}' RateWindow {RateWindow} is out of range: use 1 s to 24 h.");
        }
    }
}

/// <summary>
/// Counts pulses on a GPIO edge, ignores contact bounce, computes a rate over a sliding window and keeps the
/// running total across restarts in a small state file written atomically (temp file, flush, rename).
/// A missing state file (a first start) starts the total at zero, logged as information; a corrupt one also starts it at zero, with a warning (a corrupt one is kept aside as
/// <c>.corrupt</c> for inspection); it never stops the gateway.
/// </summary>
public sealed class PulseCounter : IDisposable
{
    // Enough for a 50 Hz anemometer over a 10 minute window; older pulses beyond it are dropped from the rate.
    private const int MaxWindowPulses = 50_000;

    private readonly GpioController _controller;
    private readonly PulseCounterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Queue<long> _recent = new();
    private readonly PinChangeEventHandler _onEdge;
    private readonly ITimer? _flushTimer;
    // Monotonic timestamps (TimeProvider.GetTimestamp): a wall-clock step (NTP on a gateway without a real-time
    // clock) must neither turn real tips into bounces nor empty or inflate the rate window.
    private readonly long _startedTimestamp;
    private long _total;
    private long _savedTotal;
    private long _bounces;
    private long _lastPulseTimestamp;
    private bool _hasPulse;
    private bool _disposed;

    public PulseCounter(GpioController controller, PulseCounterOptions options, TimeProvider? timeProvider = null,
        ILogger<PulseCounter>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _controller = controller;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _startedTimestamp = _time.GetTimestamp();

        // The pin first: if it is taken, nothing else (state file, flush timer) has been touched.
        GpioPins.EnsureFree(_controller, options.Pin, options.Name);
        _controller.OpenPin(options.Pin, options.Pull.ToPinMode());
        if (options.StateFile is not null)
        {
            _total = _savedTotal = LoadState(options.StateFile);
            _flushTimer = _time.CreateTimer(_ => Flush(), null, options.FlushInterval, options.FlushInterval);
        }

        _onEdge = OnEdge;
        _controller.RegisterCallbackForPinValueChangedEvent(options.Pin, options.Edge, _onEdge);
    }

    public string Name => _options.Name;

    public int Pin => _options.Pin;

    /// <summary>Pulses counted since the counter was first installed (restored from the state file).</summary>
    public long Total
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Edges ignored as contact bounce since start.</summary>
    public long BouncesIgnored => Interlocked.Read(ref _bounces);

    /// <summary>
    /// Pulses per second over the last <see cref="PulseCounterOptions.RateWindow"/> (or since start, if shorter),
    /// measured on the monotonic clock (<see cref="TimeProvider.GetTimestamp"/>), so a wall-clock step changes nothing.
    /// </summary>
    public double RatePerSecond()
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            Prune(now);
            var span = _time.GetElapsedTime(_startedTimestamp, now);
            if (span > _options.RateWindow)
            {
                span = _options.RateWindow;
            }

            return span <= TimeSpan.Zero ? 0 : _recent.Count / span.TotalSeconds;
        }
    }

    /// <summary>Writes the total to the state file now if it changed since the last write. Never throws.</summary>
    public void Flush()
    {
        var path = _options.StateFile;
        if (path is null)
        {
            return;
        }

        long total;
        lock (_gate)
        {
            total = _total;
            if (total == _savedTotal)
            {
                return;
            }
        }

        try
        {
            SaveState(path, total, _time.GetUtcNow());
            lock (_gate)
            {
                _savedTotal = Math.Max(_savedTotal, total);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CounterStateSaveFailed(_logger, ex, _options.Name, path);
        }
    }

    /// <summary>Stops counting, writes the final total, releases the pin.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _controller.UnregisterCallbackForPinValueChangedEvent(_options.Pin, _onEdge);
        _flushTimer?.Dispose();
        Flush();
        if (_controller.IsPinOpen(_options.Pin))
        {
            _controller.ClosePin(_options.Pin);
        }
    }

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            if (_hasPulse && _time.GetElapsedTime(_lastPulseTimestamp, now) < _options.MinPulseInterval)
            {
                _bounces++;
                return;
            }

            _hasPulse = true;
            _lastPulseTimestamp = now;
            _total++;
            _recent.Enqueue(now);
            if (_recent.Count > MaxWindowPulses)
            {
                _recent.Dequeue();
            }
        }
    }

    private void Prune(long nowTimestamp)
    {
        while (_recent.Count > 0 && _time.GetElapsedTime(_recent.Peek(), nowTimestamp) >= _options.RateWindow)
        {
            _recent.Dequeue();
        }
    }

    private long LoadState(string path)
    {
        if (!File.Exists(path))
        {
            Log.CounterStateMissing(_logger, _options.Name, path);
            return 0;
        }

        string? reason;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("total", out var totalElement)
                && totalElement.TryGetInt64(out var total)
                && total >= 0)
            {
                Log.CounterStateLoaded(_logger, _options.Name, total, path);
                return total;
            }

            reason = "no non-negative integer 'total'";
        }
        catch (JsonException ex)
        {
            reason = "not JSON: " + ex.Message;
        }
        catch (IOException ex)
        {
            reason = ex.Message;
        }

        // Keep the bad file for a technician instead of overwriting the evidence at the next flush.
        var keptAs = path + ".corrupt";
        try
        {
            File.Move(path, keptAs, overwrite: true);
        }
        catch (IOException)
        {
            keptAs = "(could not be moved)";
        }

        Log.CounterStateCorrupt(_logger, _options.Name, path, reason, keptAs);
        return 0;
    }

    private void SaveState(string path, long total, DateTimeOffset now)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                writer.WriteString("name", _options.Name);
                writer.WriteNumber("total", total);
                writer.WriteString("savedUtc", now.ToString("O", CultureInfo.InvariantCulture));
                writer.WriteEndObject();
            }

            // On the Pi's SD card the rename must not reach the disk before the data does.
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
