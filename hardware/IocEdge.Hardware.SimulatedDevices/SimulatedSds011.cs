namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// A Nova Fitness SDS011 on a simulated UART (Laser Dust Sensor Control Protocol V1.3). Active mode (the default)
/// transmits a measurement frame 0xAA 0xC0 PM2.5L PM2.5H PM10L PM10H ID1 ID2 CS 0xAB once per second; query mode
/// answers command 4 only. Commands are 19-byte frames 0xAA 0xB4 ... CS 0xAB with device id 0xFFFF or its own;
/// reporting mode (2), query (4), sleep/work (6) and working period (8) are answered with 0xC5 replies. Asleep, it
/// only answers sleep/work. Tests can inject line noise and corrupt checksums.
/// </summary>
public sealed class SimulatedSds011 : IDisposable
{
    private readonly Func<ParticulateSample> _source;
    private readonly TimeProvider _time;
    // Periods run on the monotonic clock (elapsed since construction), like the part's own oscillator: a wall-clock
    // step (NTP) does not stretch or cut a conversion or a working period.
    private readonly long _origin;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private bool _queryMode;
    private bool _asleep;
    private int _workingPeriodMinutes;
    private TimeSpan _nextPeriodic;
    private int _corruptNext;
    private long _framesSent;
    private long _commandsRejected;

    public SimulatedSds011(TimeProvider timeProvider, Func<ParticulateSample> source, ushort deviceId = 0xA1B2)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(source);
        _time = timeProvider;
        _origin = timeProvider.GetTimestamp();
        _source = source;
        DeviceId = deviceId;
        Uart = new SimulatedUartStream(OnCommand);
        _timer = timeProvider.CreateTimer(_ => OnTick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public ushort DeviceId { get; }

    /// <summary>What the driver is given instead of <c>SerialPort.BaseStream</c>.</summary>
    public SimulatedUartStream Uart { get; }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    public long CommandsRejected => Interlocked.Read(ref _commandsRejected);

    public bool IsAsleep
    {
        get
        {
            lock (_gate)
            {
                return _asleep;
            }
        }
    }

    public bool IsQueryMode
    {
        get
        {
            lock (_gate)
            {
                return _queryMode;
            }
        }
    }

    public int WorkingPeriodMinutes
    {
        get
        {
            lock (_gate)
            {
                return _workingPeriodMinutes;
            }
        }
    }

    /// <summary>A 10-byte frame: 0xAA, id, six data bytes, checksum (low byte of their sum), 0xAB (pure).</summary>
    public static byte[] EncodeFrame(byte commandId, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[10];
        bytes[0] = 0xAA;
        bytes[1] = commandId;
        data[..6].CopyTo(bytes.AsSpan(2));
        var sum = 0;
        for (var i = 2; i < 8; i++)
        {
            sum += bytes[i];
        }

        bytes[8] = (byte)sum;
        bytes[9] = 0xAB;
        return bytes;
    }

    /// <summary>The measurement frame for a sample: values in 0.1 µg/m³, little-endian, up to 999.9.</summary>
    public static byte[] EncodeMeasurement(ParticulateSample sample, ushort deviceId)
    {
        static int Tenths(double v) => (int)Math.Clamp(Math.Round(v * 10), 0, 9999);
        var pm25 = Tenths(sample.Pm25);
        var pm10 = Tenths(sample.Pm10);
        return EncodeFrame(0xC0, [(byte)pm25, (byte)(pm25 >> 8), (byte)pm10, (byte)(pm10 >> 8), (byte)(deviceId >> 8), (byte)deviceId]);
    }

    /// <summary>Sends one measurement now, whatever the mode.</summary>
    public void EmitMeasurement()
    {
        var frame = EncodeMeasurement(_source(), DeviceId);
        lock (_gate)
        {
            if (_corruptNext > 0)
            {
                _corruptNext--;
                frame[8] ^= 0x33;
            }
        }

        Interlocked.Increment(ref _framesSent);
        Uart.Transmit(frame);
    }

    public void CorruptNextFrames(int count)
    {
        lock (_gate)
        {
            _corruptNext += count;
        }
    }

    public void InjectGarbage(ReadOnlySpan<byte> bytes) => Uart.Transmit(bytes);

    public void Dispose()
    {
        _timer.Dispose();
        Uart.Dispose();
    }

    private void OnTick()
    {
        lock (_gate)
        {
            if (_asleep || _queryMode)
            {
                return;
            }

            if (_workingPeriodMinutes > 0)
            {
                var now = Elapsed();
                if (now < _nextPeriodic)
                {
                    return;
                }

                _nextPeriodic = now + TimeSpan.FromMinutes(_workingPeriodMinutes);
            }
        }

        EmitMeasurement();
    }

    private void OnCommand(byte[] bytes)
    {
        for (var i = 0; i + 19 <= bytes.Length; i += 19)
        {
            Handle(bytes.AsSpan(i, 19));
        }
    }

    private void Handle(ReadOnlySpan<byte> c)
    {
        var sum = 0;
        for (var i = 2; i <= 16; i++)
        {
            sum += c[i];
        }

        var id = (ushort)((c[15] << 8) | c[16]);
        if (c[0] != 0xAA || c[1] != 0xB4 || c[18] != 0xAB || (byte)sum != c[17] || (id != 0xFFFF && id != DeviceId))
        {
            Interlocked.Increment(ref _commandsRejected);
            return;
        }

        byte[]? reply = null;
        var measure = false;
        lock (_gate)
        {
            var command = c[2];
            var set = c[3] == 1;
            if (_asleep && command != 6)
            {
                return; // asleep: only the sleep/work command is heard
            }

            switch (command)
            {
                case 2:
                    if (set)
                    {
                        _queryMode = c[4] == 1;
                    }

                    reply = Reply(2, c[3], (byte)(_queryMode ? 1 : 0));
                    break;
                case 4:
                    measure = true;
                    break;
                case 6:
                    if (set)
                    {
                        _asleep = c[4] == 0;
                    }

                    reply = Reply(6, c[3], (byte)(_asleep ? 0 : 1));
                    break;
                case 8:
                    if (set)
                    {
                        _workingPeriodMinutes = Math.Min((int)c[4], 30);
                        _nextPeriodic = Elapsed();
                    }

                    reply = Reply(8, c[3], (byte)_workingPeriodMinutes);
                    break;
                default:
                    Interlocked.Increment(ref _commandsRejected);
                    return;
            }
        }

        if (reply is not null)
        {
            Uart.Transmit(reply);
        }

        if (measure)
        {
            EmitMeasurement();
        }
    }

    private byte[] Reply(byte command, byte mode, byte value) =>
        EncodeFrame(0xC5, [command, mode, value, 0, (byte)(DeviceId >> 8), (byte)DeviceId]);

    private TimeSpan Elapsed() => _time.GetElapsedTime(_origin);
}
