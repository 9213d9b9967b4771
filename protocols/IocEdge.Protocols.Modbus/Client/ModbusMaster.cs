using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Creates <see cref="IModbusMaster"/>s. Options are validated here (an <see cref="ArgumentException"/> names the bad
/// option and the fix); the link itself is opened lazily on the first call and reopened after a failure.
/// </summary>
public static class ModbusMaster
{
    /// <summary>A Modbus TCP master (MBAP framing, transaction-id matching and resynchronisation).</summary>
    public static IModbusMaster CreateTcp(ModbusTcpMasterOptions options, TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new ModbusTcpMaster(options, timeProvider, logger);
    }

    /// <summary>A master sending RTU frames through a TCP tunnel (a serial server in "raw"/"RTU over TCP" mode).</summary>
    public static IModbusMaster CreateRtuOverTcp(ModbusRtuOverTcpMasterOptions options, TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new ModbusStreamMaster(new TcpStreamConnector(options.Host, options.Port), ModbusSerialMode.Rtu,
            line: null, TimeSpan.Zero, options, timeProvider, logger);
    }

    /// <summary>A master on a serial port (RTU or ASCII; 8N1, 8E1, 8O1, 8N2…, any baud) through System.IO.Ports.</summary>
    public static IModbusMaster CreateSerial(ModbusSerialOptions options, TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new ModbusStreamMaster(new SerialPortConnector(options), options.Mode, options.LineSettings,
            options.TurnaroundDelay, options, timeProvider, logger);
    }

    /// <summary>
    /// A serial-framed master over a stream the caller owns (a simulated line, a port opened elsewhere). The stream is
    /// never closed or reopened by the master.
    /// </summary>
    public static IModbusMaster CreateSerial(Stream line, ModbusStreamMasterOptions options,
        TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var name = $"{(options.Mode == ModbusSerialMode.Rtu ? "rtu" : "ascii")} stream";
        return new ModbusStreamMaster(new FixedStreamConnector(line, name), options.Mode, options.Line,
            options.TurnaroundDelay, options, timeProvider, logger);
    }

    /// <summary>An RTU master over a stream with the given line timing and default timeout (1 s) and retries (2).</summary>
    public static IModbusMaster CreateRtu(Stream line, ModbusSerialLineSettings settings, TimeProvider? timeProvider = null,
        ILogger? logger = null) =>
        CreateSerial(line, new ModbusStreamMasterOptions { Mode = ModbusSerialMode.Rtu, Line = settings }, timeProvider, logger);
}
