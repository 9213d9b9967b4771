namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// A Plantower PMS5003 on a simulated UART. In active mode (the power-on default) it transmits a 32-byte frame
/// (0x42 0x4D, length 28, 13 data words, 16-bit sum check; data manual "Transport Protocol - Active Mode") every
/// <c>period</c> on the clock; it obeys the host commands 0xE1 (active/passive), 0xE2 (read in passive mode) and
/// 0xE4 (sleep/wake-up) with their LRC check. Tests can inject line noise and corrupt checksums.
/// The CF=1 and atmospheric values are sent equal, which the part does below about 30 µg/m³.
/// </summary>
public sealed class SimulatedPms5003 : IDisposable
{
    private readonly Func<ParticulateSample> _source;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private bool _passive;
    private bool _asleep;
    private int _zeroFramesLeft;
    private int _corruptNext;
    private long _framesSent;
    private long _commandsRejected;

    /// <param name="timeProvider">The clock frames are sent on.</param>
    /// <param name="source">Concentrations at the moment a frame is sent.</param>
    /// <param name="period">Interval of active-mode frames (the part sends every 200-800 ms in fast mode, 2.3 s in stable mode).</param>
    public SimulatedPms5003(TimeProvider timeProvider, Func<ParticulateSample> source, TimeSpan? period = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        Uart = new SimulatedUartStream(OnCommand);
        var p = period ?? TimeSpan.FromSeconds(1);
        _timer = timeProvider.CreateTimer(_ => OnTick(), null, p, p);
    }

    /// <summary>What the driver is given instead of <c>SerialPort.BaseStream</c>.</summary>
    public SimulatedUartStream Uart { get; }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Host commands dropped for a bad LRC or an unknown command byte.</summary>
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

    public bool IsPassive
    {
        get
        {
            lock (_gate)
            {
                return _passive;
            }
        }
    }

    /// <summary>The 32-byte frame for a sample (pure).</summary>
    public static byte[] EncodeFrame(ParticulateSample sample)
    {
        static ushort C(double v) => (ushort)Math.Clamp(Math.Round(v), 0, ushort.MaxValue);
        var pm1 = C(sample.Pm1);
        var pm25 = C(sample.Pm25);
        var pm10 = C(sample.Pm10);
        // Particle counts per 0.1 L, roughly proportional to mass for urban aerosol.
        ushort[] words = [pm1, pm25, pm10, pm1, pm25, pm10,
            C(sample.Pm25 * 150), C(sample.Pm25 * 45), C(sample.Pm25 * 8), C(sample.Pm10 * 0.6), C(sample.Pm10 * 0.2), C(sample.Pm10 * 0.05), 0];
        var bytes = new byte[32];
        bytes[0] = 0x42;
        bytes[1] = 0x4D;
        bytes[3] = 28;
        for (var i = 0; i < words.Length; i++)
        {
            bytes[4 + (2 * i)] = (byte)(words[i] >> 8);
            bytes[5 + (2 * i)] = (byte)words[i];
        }

        var sum = 0;
        for (var i = 0; i < 30; i++)
        {
            sum += bytes[i];
        }

        bytes[30] = (byte)(sum >> 8);
        bytes[31] = (byte)sum;
        return bytes;
    }

    /// <summary>
    /// How many frames of all zeros the sensor sends after a wake-up command (0xE4, data 1) while its fan spins up,
    /// as the real part does before its data is stable (data manual: wait 30 s after wake-up). Default 0.
    /// </summary>
    public int ZeroFramesAfterWake { get; set; }

    /// <summary>Sends one frame now (whatever the mode), from the source.</summary>
    public void EmitFrame()
    {
        var sample = _source();
        lock (_gate)
        {
            if (_zeroFramesLeft > 0)
            {
                _zeroFramesLeft--;
                sample = new ParticulateSample(0, 0, 0);
            }
        }

        var frame = EncodeFrame(sample);
        lock (_gate)
        {
            if (_corruptNext > 0)
            {
                _corruptNext--;
                frame[31] ^= 0x5A;
            }
        }

        Interlocked.Increment(ref _framesSent);
        Uart.Transmit(frame);
    }

    /// <summary>The next <paramref name="count"/> frames go out with a wrong check code.</summary>
    public void CorruptNextFrames(int count)
    {
        lock (_gate)
        {
            _corruptNext += count;
        }
    }

    /// <summary>Line noise on the wire.</summary>
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
            if (_passive || _asleep)
            {
                return;
            }
        }

        EmitFrame();
    }

    private void OnCommand(byte[] bytes)
    {
        // Host command: 0x42 0x4D CMD DATAH DATAL LRCH LRCL, LRC = sum of the first five bytes.
        for (var i = 0; i + 7 <= bytes.Length; i += 7)
        {
            var c = bytes.AsSpan(i, 7);
            var lrc = c[0] + c[1] + c[2] + c[3] + c[4];
            if (c[0] != 0x42 || c[1] != 0x4D || ((c[5] << 8) | c[6]) != lrc)
            {
                Interlocked.Increment(ref _commandsRejected);
                continue;
            }

            var emit = false;
            lock (_gate)
            {
                switch (c[2])
                {
                    case 0xE1:
                        _passive = c[4] == 0x00;
                        break;
                    case 0xE2:
                        emit = _passive && !_asleep;
                        break;
                    case 0xE4:
                        if (_asleep && c[4] == 0x01)
                        {
                            _zeroFramesLeft = ZeroFramesAfterWake;
                        }

                        _asleep = c[4] == 0x00;
                        break;
                    default:
                        Interlocked.Increment(ref _commandsRejected);
                        break;
                }
            }

            if (emit)
            {
                EmitFrame();
            }
        }
    }
}
