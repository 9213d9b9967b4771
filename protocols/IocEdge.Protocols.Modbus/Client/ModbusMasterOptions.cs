using System.IO.Ports;

namespace IocEdge.Protocols.Modbus;

/// <summary>Settings common to every master: per-attempt timeout and retries.</summary>
public abstract record ModbusMasterOptions
{
    /// <summary>How long to wait for each answer (and for a connection). Default 1 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Further attempts after a timeout or a broken link (so Retries + 1 attempts in all). Default 2.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>
    /// Serial framing only (RTU, ASCII, RTU over TCP: no transaction id tells a late answer from the current one).
    /// After an attempt timed out or got an answer that does not answer it, the master reads and discards whatever
    /// arrives for this long, and then until the line has been silent for t3.5 ("MODBUS over Serial Line V1.02",
    /// section 2.5.1.1), before it sends anything again; a slave that answers late can then never have its answer
    /// taken for the next request's. Null (default) = <see cref="Timeout"/>, which catches an answer up to twice the
    /// timeout late (libmodbus's error recovery also sleeps one response timeout and flushes). Zero = only the t3.5
    /// silence. Modbus TCP ignores it: the MBAP transaction id already tells answers apart.
    /// </summary>
    public TimeSpan? LateAnswerWindow { get; init; }

    /// <summary>The <see cref="LateAnswerWindow"/> in force.</summary>
    internal TimeSpan EffectiveLateAnswerWindow => LateAnswerWindow ?? Timeout;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad option and the fix.</summary>
    public virtual void Validate()
    {
        var name = GetType().Name;
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException(
                $"{name}.Timeout must be between 0 and 5 minutes (was {Timeout}); 1 s suits most devices.", nameof(Timeout));
        }

        if (Retries is < 0 or > 10)
        {
            throw new ArgumentException($"{name}.Retries must be 0 to 10 (was {Retries}); 2 is usual.", nameof(Retries));
        }

        if (LateAnswerWindow is { } window && (window < TimeSpan.Zero || window > TimeSpan.FromMinutes(5)))
        {
            throw new ArgumentException(
                $"{name}.LateAnswerWindow must be 0 to 5 minutes (was {window}); leave it unset to use the Timeout.",
                nameof(LateAnswerWindow));
        }
    }
}

/// <summary>A Modbus TCP master (MBAP framing).</summary>
public sealed record ModbusTcpMasterOptions : ModbusMasterOptions
{
    /// <summary>Host name or IP address of the device or gateway.</summary>
    public string Host { get; init; } = string.Empty;

    /// <summary>TCP port. Default 502 (the registered Modbus port).</summary>
    public int Port { get; init; } = 502;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("ModbusTcpMasterOptions.Host is empty; set it to the device's host name or IP address.", nameof(Host));
        }

        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"ModbusTcpMasterOptions.Port must be 1-65535 (was {Port}); Modbus TCP uses 502.", nameof(Port));
        }
    }
}

/// <summary>RTU frames tunnelled over TCP by a serial server (no MBAP header, CRC kept).</summary>
public sealed record ModbusRtuOverTcpMasterOptions : ModbusMasterOptions
{
    /// <summary>Host name or IP address of the serial server.</summary>
    public string Host { get; init; } = string.Empty;

    /// <summary>TCP port of the serial server's tunnel (often 4001 or 502).</summary>
    public int Port { get; init; } = 502;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("ModbusRtuOverTcpMasterOptions.Host is empty; set it to the serial server's address.", nameof(Host));
        }

        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"ModbusRtuOverTcpMasterOptions.Port must be 1-65535 (was {Port}).", nameof(Port));
        }
    }
}

/// <summary>A master on a serial line (RS-485 / RS-232) through System.IO.Ports.</summary>
public sealed record ModbusSerialOptions : ModbusMasterOptions
{
    /// <summary>Device path, e.g. /dev/ttyUSB0 or /dev/ttyAMA0 (a pty link works too).</summary>
    public string PortName { get; init; } = string.Empty;

    /// <summary>RTU (default) or ASCII.</summary>
    public ModbusSerialMode Mode { get; init; } = ModbusSerialMode.Rtu;

    /// <summary>Bits per second. Default 9600.</summary>
    public int BaudRate { get; init; } = 9600;

    /// <summary>Parity. Default none (8N1).</summary>
    public Parity Parity { get; init; } = Parity.None;

    /// <summary>Data bits. Default 8.</summary>
    public int DataBits { get; init; } = 8;

    /// <summary>Stop bits. Default one.</summary>
    public StopBits StopBits { get; init; } = StopBits.One;

    /// <summary>
    /// Silence after a broadcast (unit 0) before the next request, so that slaves finish the write
    /// ("MODBUS over Serial Line V1.02", section 2.4.1 "turnaround delay"). Default 100 ms.
    /// </summary>
    public TimeSpan TurnaroundDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The line settings these options describe.</summary>
    public ModbusSerialLineSettings LineSettings => new()
    {
        BaudRate = BaudRate,
        Parity = Parity,
        DataBits = DataBits,
        StopBits = StopBits,
    };

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(PortName))
        {
            throw new ArgumentException("ModbusSerialOptions.PortName is empty; set it to the serial device, e.g. /dev/ttyUSB0.", nameof(PortName));
        }

        if (Mode == ModbusSerialMode.Rtu && DataBits != 8)
        {
            throw new ArgumentException($"ModbusSerialOptions.DataBits must be 8 in RTU mode (was {DataBits}).", nameof(DataBits));
        }

        if (TurnaroundDelay < TimeSpan.Zero || TurnaroundDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"ModbusSerialOptions.TurnaroundDelay must be 0 to 10 s (was {TurnaroundDelay}).", nameof(TurnaroundDelay));
        }

        try
        {
            LineSettings.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"ModbusSerialOptions.{ex.ParamName}: {ex.Message}", ex.ParamName, ex);
        }
    }
}

/// <summary>A master over a caller-supplied byte stream: a serial port opened elsewhere, a simulated line, a pty.</summary>
public sealed record ModbusStreamMasterOptions : ModbusMasterOptions
{
    /// <summary>RTU (default) or ASCII.</summary>
    public ModbusSerialMode Mode { get; init; } = ModbusSerialMode.Rtu;

    /// <summary>
    /// The line's character format, for the t3.5 silence kept before each request; null for a link without line timing
    /// (a TCP tunnel).
    /// </summary>
    public ModbusSerialLineSettings? Line { get; init; } = new();

    /// <summary>Silence after a broadcast before the next request. Default 100 ms.</summary>
    public TimeSpan TurnaroundDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Line?.Validate();
        if (TurnaroundDelay < TimeSpan.Zero || TurnaroundDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"ModbusStreamMasterOptions.TurnaroundDelay must be 0 to 10 s (was {TurnaroundDelay}).", nameof(TurnaroundDelay));
        }
    }
}
