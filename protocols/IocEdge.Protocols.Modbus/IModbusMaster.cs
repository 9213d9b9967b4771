namespace IocEdge.Protocols.Modbus;

/// <summary>
/// A Modbus master (client) talking to one link: a TCP connection, an RTU-over-TCP tunnel or an RS-485 line
/// that several slaves share. Every call is one request/response exchange with one unit (slave) id.
/// </summary>
/// <remarks>
/// Errors: <see cref="ModbusDeviceException"/> when the slave answered with an exception response;
/// <see cref="ModbusTimeoutException"/> when no valid answer came within the timeout (after retries);
/// <see cref="ModbusProtocolException"/> when the answer was malformed beyond recovery;
/// <see cref="OperationCanceledException"/> when the call's cancellation token fired.
/// A broken link is reconnected by the implementation on the next call.
/// </remarks>
public interface IModbusMaster : IAsyncDisposable
{
    /// <summary>FC 01.</summary>
    ValueTask<bool[]> ReadCoilsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default);

    /// <summary>FC 02.</summary>
    ValueTask<bool[]> ReadDiscreteInputsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default);

    /// <summary>FC 03.</summary>
    ValueTask<ushort[]> ReadHoldingRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default);

    /// <summary>FC 04.</summary>
    ValueTask<ushort[]> ReadInputRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default);

    /// <summary>FC 05.</summary>
    ValueTask WriteSingleCoilAsync(byte unitId, ushort address, bool value, CancellationToken cancellationToken = default);

    /// <summary>FC 06.</summary>
    ValueTask WriteSingleRegisterAsync(byte unitId, ushort address, ushort value, CancellationToken cancellationToken = default);

    /// <summary>FC 0F.</summary>
    ValueTask WriteMultipleCoilsAsync(byte unitId, ushort address, ReadOnlyMemory<bool> values, CancellationToken cancellationToken = default);

    /// <summary>FC 10.</summary>
    ValueTask WriteMultipleRegistersAsync(byte unitId, ushort address, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default);

    /// <summary>FC 16: result = (current AND andMask) OR (orMask AND NOT andMask).</summary>
    ValueTask MaskWriteRegisterAsync(byte unitId, ushort address, ushort andMask, ushort orMask, CancellationToken cancellationToken = default);

    /// <summary>FC 17: the write is performed before the read.</summary>
    ValueTask<ushort[]> ReadWriteMultipleRegistersAsync(byte unitId, ushort readAddress, ushort readCount,
        ushort writeAddress, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default);

    /// <summary>
    /// FC 11, Report Server ID (spec V1.1b3 section 6.13): the unit's server id, run indicator status (0x00 OFF,
    /// 0xFF ON) and additional data. <paramref name="serverIdLength"/> is the device's server id length in bytes, from
    /// its manual (1 in libmodbus and most devices); null when the device puts the run indicator last and sends no
    /// additional data (pymodbus 3.0). Retried like every call; a malformed answer (byte count against length, too
    /// short, run indicator not 0x00/0xFF) is a counted protocol error, never a report.
    /// </summary>
    /// <exception cref="NotSupportedException">The implementation does not speak FC 11 (the default for
    /// implementations outside this library; every master made by <see cref="ModbusMaster"/> does).</exception>
    ValueTask<ModbusServerIdReport> ReportServerIdAsync(byte unitId, int? serverIdLength = 1,
        CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not implement Report Server ID (FC 11).");

    /// <summary>FC 2B / MEI 0E: the objects (id → value) of one read device identification exchange or several (more follows).</summary>
    ValueTask<IReadOnlyDictionary<byte, string>> ReadDeviceIdentificationAsync(byte unitId, byte readDeviceIdCode = 1,
        byte objectId = 0, CancellationToken cancellationToken = default);
}

/// <summary>
/// Counters of one master's link, for diagnostics (every master made by <see cref="ModbusMaster"/> implements it:
/// <c>master as IModbusMasterStatistics</c>). Monotonic since the master was created.
/// </summary>
public interface IModbusMasterStatistics
{
    /// <summary>Attempts that got no valid answer within <see cref="ModbusMasterOptions.Timeout"/>.</summary>
    long Timeouts { get; }

    /// <summary>
    /// Answers that were malformed or did not answer their request (wrong function code, byte count, or echoed
    /// address/value/quantity for FC 05/06/0F/10/16): counted, never taken as a value, and the request retried.
    /// </summary>
    long ProtocolErrors { get; }

    /// <summary>Well-formed frames read but not for the pending request (another unit, function or transaction id).</summary>
    long FramesDiscarded { get; }

    /// <summary>Bytes a serial master read and threw away while waiting out late answers (<see cref="ModbusMasterOptions.LateAnswerWindow"/>).</summary>
    long LateBytesDiscarded { get; }
}
