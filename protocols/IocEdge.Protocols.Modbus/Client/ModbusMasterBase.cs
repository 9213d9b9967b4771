using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>Decodes a response PDU into the caller's result (pure; throws the codec's documented errors).</summary>
internal delegate T ResponseDecoder<T>(byte unitId, in ModbusRequest request, ReadOnlySpan<byte> pdu);

/// <summary>
/// The request/response loop shared by every master: one exchange at a time on the link, a timeout per attempt
/// (on the injected <see cref="TimeProvider"/>), retries after a timeout, a broken link or a malformed answer, and
/// the twelve function calls of <see cref="IModbusMaster"/> on top. Subclasses only send one request and read its
/// matching response (<see cref="ExchangeAsync"/>).
/// </summary>
internal abstract class ModbusMasterBase : IModbusMaster, IModbusMasterStatistics
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private readonly byte[] _responsePdu = new byte[ModbusLimits.MaxPduLength];
    private bool _disposed;
    private long _timeouts;
    private long _protocolErrors;
    private long _framesDiscarded;
    private long _lateBytesDiscarded;

    protected ModbusMasterBase(ModbusMasterOptions options, TimeProvider? timeProvider, ILogger? logger, string link)
    {
        Options = options;
        TimeProvider = timeProvider ?? TimeProvider.System;
        Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        Link = link;
    }

    protected ModbusMasterOptions Options { get; }

    protected TimeProvider TimeProvider { get; }

    protected ILogger Logger { get; }

    /// <summary>A name for logs: "tcp 10.0.0.5:502", "rtu /dev/ttyUSB0".</summary>
    protected string Link { get; }

    /// <inheritdoc/>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <inheritdoc/>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    /// <inheritdoc/>
    public long FramesDiscarded => Interlocked.Read(ref _framesDiscarded);

    /// <inheritdoc/>
    public long LateBytesDiscarded => Interlocked.Read(ref _lateBytesDiscarded);

    public ValueTask<bool[]> ReadCoilsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        ExecuteAsync(unitId, ModbusRequest.ReadCoils(address, count), static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeBits(u, r, p), cancellationToken);

    public ValueTask<bool[]> ReadDiscreteInputsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        ExecuteAsync(unitId, ModbusRequest.ReadDiscreteInputs(address, count), static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeBits(u, r, p), cancellationToken);

    public ValueTask<ushort[]> ReadHoldingRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        ExecuteAsync(unitId, ModbusRequest.ReadHoldingRegisters(address, count), static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeRegisters(u, r, p), cancellationToken);

    public ValueTask<ushort[]> ReadInputRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        ExecuteAsync(unitId, ModbusRequest.ReadInputRegisters(address, count), static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeRegisters(u, r, p), cancellationToken);

    public ValueTask WriteSingleCoilAsync(byte unitId, ushort address, bool value, CancellationToken cancellationToken = default) =>
        WriteAsync(unitId, ModbusRequest.WriteSingleCoil(address, value), cancellationToken);

    public ValueTask WriteSingleRegisterAsync(byte unitId, ushort address, ushort value, CancellationToken cancellationToken = default) =>
        WriteAsync(unitId, ModbusRequest.WriteSingleRegister(address, value), cancellationToken);

    public ValueTask WriteMultipleCoilsAsync(byte unitId, ushort address, ReadOnlyMemory<bool> values, CancellationToken cancellationToken = default) =>
        WriteAsync(unitId, ModbusRequest.WriteMultipleCoils(address, values), cancellationToken);

    public ValueTask WriteMultipleRegistersAsync(byte unitId, ushort address, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        WriteAsync(unitId, ModbusRequest.WriteMultipleRegisters(address, values), cancellationToken);

    public ValueTask MaskWriteRegisterAsync(byte unitId, ushort address, ushort andMask, ushort orMask, CancellationToken cancellationToken = default) =>
        WriteAsync(unitId, ModbusRequest.MaskWriteRegister(address, andMask, orMask), cancellationToken);

    public ValueTask<ushort[]> ReadWriteMultipleRegistersAsync(byte unitId, ushort readAddress, ushort readCount,
        ushort writeAddress, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        ExecuteAsync(unitId, ModbusRequest.ReadWriteMultipleRegisters(readAddress, readCount, writeAddress, values),
            static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeRegisters(u, r, p), cancellationToken);

    public ValueTask<ModbusServerIdReport> ReportServerIdAsync(byte unitId, int? serverIdLength = 1,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(serverIdLength ?? 0, nameof(serverIdLength));
        return ExecuteAsync(unitId, ModbusRequest.ReportServerId(),
            (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeServerIdReport(u, r, p, serverIdLength),
            cancellationToken);
    }

    public async ValueTask<IReadOnlyDictionary<byte, string>> ReadDeviceIdentificationAsync(byte unitId,
        byte readDeviceIdCode = 1, byte objectId = 0, CancellationToken cancellationToken = default)
    {
        var objects = new Dictionary<byte, string>();
        var next = objectId;
        // Section 6.21: stream access may need several exchanges ("more follows"); 256 objects is the most there can be.
        for (var exchange = 0; exchange < 256; exchange++)
        {
            var response = await ExecuteAsync(unitId, ModbusRequest.ReadDeviceIdentification(readDeviceIdCode, next),
                static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) => ModbusResponse.DecodeDeviceIdentification(u, r, p),
                cancellationToken).ConfigureAwait(false);
            foreach (var (id, value) in response.Objects)
            {
                objects[id] = value;
            }

            if (!response.MoreFollows || readDeviceIdCode == 4 || response.Objects.Count == 0
                || objects.ContainsKey(response.NextObjectId))
            {
                break;
            }

            next = response.NextObjectId;
        }

        return objects;
    }

    public async ValueTask DisposeAsync()
    {
        // A call in flight (waiting for an answer, a silence, a connection) is cancelled, not waited for.
        await _disposing.CancelAsync().ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await CloseLinkAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="unitId"/> and copies the PDU of its matching response into
    /// <paramref name="responsePdu"/>; returns its length, or 0 for a broadcast (no answer expected). Throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires (the attempt's timeout
    /// or the caller's), <see cref="IOException"/>/<see cref="SocketException"/> when the link broke,
    /// <see cref="ModbusProtocolException"/> when the stream cannot be resynchronised without closing it.
    /// </summary>
    protected abstract ValueTask<int> ExchangeAsync(byte unitId, ModbusRequest request, Memory<byte> responsePdu,
        CancellationToken cancellationToken);

    /// <summary>Called after an attempt timed out (the link stays open unless the subclass knows it is misaligned).</summary>
    protected virtual ValueTask OnAttemptTimedOutAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Called before each attempt, outside the attempt's timeout, with the caller's token: a serial master discards a
    /// late answer to an earlier, unanswered attempt here. Throws like <see cref="ExchangeAsync"/>.
    /// </summary>
    protected virtual ValueTask BeforeAttemptAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Called when an attempt ended without a valid answer (timeout, cancellation, malformed or mismatched answer,
    /// broken link): its answer may still arrive later.
    /// </summary>
    protected virtual void OnAttemptUnanswered()
    {
    }

    /// <summary>Counts a frame that was read but answers no pending request (another unit, function or transaction).</summary>
    protected void CountFrameDiscarded() => Interlocked.Increment(ref _framesDiscarded);

    /// <summary>Counts bytes discarded while waiting out a late answer.</summary>
    protected void CountLateBytesDiscarded(int count) => Interlocked.Add(ref _lateBytesDiscarded, count);

    /// <summary>Closes the link; the next exchange opens it again.</summary>
    protected abstract ValueTask CloseLinkAsync();

    private async ValueTask WriteAsync(byte unitId, ModbusRequest request, CancellationToken cancellationToken) =>
        await ExecuteAsync(unitId, request, static (byte u, in ModbusRequest r, ReadOnlySpan<byte> p) =>
        {
            if (p.Length > 0)
            {
                ModbusResponse.CheckWriteResponse(u, r, p);
            }

            return true;
        }, cancellationToken).ConfigureAwait(false);

    private async ValueTask<T> ExecuteAsync<T>(byte unitId, ModbusRequest request, ResponseDecoder<T> decode,
        CancellationToken callerToken)
    {
        // Disposal cancels like the caller does (OperationCanceledException, no retries).
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _disposing.Token);
        var cancellationToken = caller.Token;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var attempts = Options.Retries + 1;
            Exception? lastFailure = null;
            var allTimedOut = true;
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                var answered = false;
                try
                {
                    await BeforeAttemptAsync(cancellationToken).ConfigureAwait(false);
                    using var timeout = new CancellationTokenSource(Options.Timeout, TimeProvider);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                    var length = await ExchangeAsync(unitId, request, _responsePdu, linked.Token).ConfigureAwait(false);
                    var result = decode(unitId, request, _responsePdu.AsSpan(0, length));
                    answered = true;
                    return result;
                }
                catch (ModbusDeviceException)
                {
                    // A well-formed exception response answers the request: nothing late will follow.
                    answered = true;
                    throw;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _timeouts);
                    Log.AttemptTimedOut(Logger, Link, unitId, (byte)request.Function, attempt);
                    await OnAttemptTimedOutAsync().ConfigureAwait(false);
                }
                catch (ModbusProtocolException ex)
                {
                    // An answer that is malformed or does not answer this request (function, byte count, echo):
                    // never a value. Count it and ask again (after the serial master waited out any late bytes).
                    allTimedOut = false;
                    lastFailure = ex;
                    Interlocked.Increment(ref _protocolErrors);
                    Log.AttemptFailed(Logger, Link, unitId, (byte)request.Function, attempt, ex.Message);
                }
                catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    allTimedOut = false;
                    lastFailure = ex;
                    Log.LinkBroken(Logger, Link, $"{ex.GetType().Name}: {ex.Message}"); // the cause, not a stack trace per poll
                    await CloseLinkAsync().ConfigureAwait(false);
                }
                finally
                {
                    if (!answered)
                    {
                        OnAttemptUnanswered();
                    }
                }
            }

            if (allTimedOut || lastFailure is null)
            {
                throw new ModbusTimeoutException(unitId, (byte)request.Function, Options.Timeout, attempts);
            }

            if (lastFailure is ModbusProtocolException protocol)
            {
                throw protocol;
            }

            throw new ModbusConnectionException(
                $"Modbus {Link}: unit {unitId} function 0x{(byte)request.Function:X2} failed after {attempts} attempt(s): {lastFailure.Message}",
                lastFailure);
        }
        finally
        {
            _gate.Release();
        }
    }
}
