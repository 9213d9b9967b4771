namespace IocEdge.Protocols.Modbus;

/// <summary>How a server transport frames its answers (what a fault hook is told).</summary>
public enum ModbusServerTransport
{
    /// <summary>Modbus TCP (MBAP).</summary>
    Tcp,

    /// <summary>RTU frames over a TCP connection.</summary>
    RtuOverTcp,

    /// <summary>RTU on a serial line (or pty).</summary>
    Rtu,

    /// <summary>ASCII on a serial line (or pty).</summary>
    Ascii,
}

/// <summary>What the server is about to answer, as a fault hook sees it.</summary>
/// <param name="Transport">The framing of the link the request came in on.</param>
/// <param name="UnitId">The addressed unit.</param>
/// <param name="FunctionCode">The request's function code.</param>
/// <param name="Address">Starting address (0 when the request did not decode).</param>
/// <param name="Count">Quantity (0 when the request did not decode).</param>
/// <param name="TransactionId">MBAP transaction id (TCP only; 0 otherwise).</param>
/// <param name="Sequence">1 for the first request this server received, then 2, 3… across all its links.</param>
public readonly record struct ModbusRequestInfo(ModbusServerTransport Transport, byte UnitId, byte FunctionCode,
    ushort Address, ushort Count, ushort TransactionId, long Sequence);

/// <summary>The kinds of scripted misbehaviour.</summary>
public enum ModbusFaultKind
{
    /// <summary>Behave.</summary>
    None,

    /// <summary>Execute nothing, answer nothing (a dead or deaf slave).</summary>
    NoAnswer,

    /// <summary>Execute, then answer after <see cref="ModbusFault.Delay"/> (a slow slave; later requests on the same link queue behind it).</summary>
    Delay,

    /// <summary>
    /// Execute and answer with a corrupted checksum: RTU CRC or ASCII LRC. MBAP has no checksum, so on Modbus TCP the
    /// header's protocol identifier is corrupted instead (the closest thing a TCP peer can get wrong).
    /// </summary>
    BadChecksum,

    /// <summary>Execute nothing; answer the exception response <see cref="ModbusFault.ExceptionCode"/>.</summary>
    Exception,

    /// <summary>Execute, and answer as unit <see cref="ModbusFault.UnitId"/> (checksum valid for that unit).</summary>
    WrongUnitId,

    /// <summary>Execute, and send only the first <see cref="ModbusFault.Length"/> bytes of the answer (0 = half).</summary>
    Truncated,

    /// <summary>
    /// Execute, send again the answer this link sent last (on TCP with its old transaction id; when there is none, the
    /// current answer with transaction id − 1), then the correct answer.
    /// </summary>
    Stale,
}

/// <summary>One scripted misbehaviour. <c>default</c> is <see cref="None"/>.</summary>
public readonly record struct ModbusFault
{
    /// <summary>What to do.</summary>
    public ModbusFaultKind Kind { get; init; }

    /// <summary>For <see cref="ModbusFaultKind.Delay"/>: how late to answer (on the server's TimeProvider).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>For <see cref="ModbusFaultKind.Exception"/>: the code to answer.</summary>
    public ModbusExceptionCode ExceptionCode { get; init; }

    /// <summary>For <see cref="ModbusFaultKind.WrongUnitId"/>: the unit id to answer as.</summary>
    public byte UnitId { get; init; }

    /// <summary>For <see cref="ModbusFaultKind.Truncated"/>: bytes to send (0 = half the frame).</summary>
    public int Length { get; init; }

    /// <summary>No fault.</summary>
    public static ModbusFault None => default;

    /// <summary>Answer nothing.</summary>
    public static ModbusFault NoAnswer => new() { Kind = ModbusFaultKind.NoAnswer };

    /// <summary>Bad CRC / LRC (corrupted MBAP protocol id on TCP).</summary>
    public static ModbusFault BadChecksum => new() { Kind = ModbusFaultKind.BadChecksum };

    /// <summary>Repeat the previous answer before this one.</summary>
    public static ModbusFault Stale => new() { Kind = ModbusFaultKind.Stale };

    /// <summary>Answer late.</summary>
    public static ModbusFault Delayed(TimeSpan delay) => new() { Kind = ModbusFaultKind.Delay, Delay = delay };

    /// <summary>Answer an exception response.</summary>
    public static ModbusFault ExceptionResponse(ModbusExceptionCode code) => new() { Kind = ModbusFaultKind.Exception, ExceptionCode = code };

    /// <summary>Answer as another unit.</summary>
    public static ModbusFault FromUnit(byte unitId) => new() { Kind = ModbusFaultKind.WrongUnitId, UnitId = unitId };

    /// <summary>Send only part of the answer.</summary>
    public static ModbusFault Truncated(int length = 0) => new() { Kind = ModbusFaultKind.Truncated, Length = length };
}

/// <summary>
/// A hook that decides, request by request, how a <see cref="ModbusServer"/> misbehaves. Called once per received,
/// checksum-valid request addressed to a unit the server hosts, before the request is executed, on the link's loop
/// (keep it quick; it may be called concurrently from different links).
/// </summary>
public interface IModbusFaultInjector
{
    /// <summary>The fault to apply to this request (<see cref="ModbusFault.None"/> to behave).</summary>
    ModbusFault Decide(in ModbusRequestInfo request);
}

/// <summary>Ready-made fault hooks.</summary>
public static class ModbusFaultInjector
{
    /// <summary>A hook from a function.</summary>
    public static IModbusFaultInjector From(Func<ModbusRequestInfo, ModbusFault> decide)
    {
        ArgumentNullException.ThrowIfNull(decide);
        return new FuncInjector(decide);
    }

    /// <summary>Applies <paramref name="faults"/> to the first requests in turn, then behaves.</summary>
    public static IModbusFaultInjector Sequence(params ModbusFault[] faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        var queue = new Queue<ModbusFault>(faults);
        var gate = new Lock();
        return new FuncInjector(_ =>
        {
            lock (gate)
            {
                return queue.TryDequeue(out var fault) ? fault : ModbusFault.None;
            }
        });
    }

    private sealed class FuncInjector(Func<ModbusRequestInfo, ModbusFault> decide) : IModbusFaultInjector
    {
        public ModbusFault Decide(in ModbusRequestInfo request) => decide(request);
    }
}
