using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Modbus TCP master (MBAP, "MODBUS Messaging on TCP/IP Implementation Guide V1.0b"). One request in flight; each
/// carries a fresh transaction id, and a response whose transaction id (or unit id) does not match is discarded and
/// reading goes on: a late answer to an earlier, timed-out request can never be taken for the current one, and the
/// link resynchronises by itself. When an attempt times out with half a frame buffered, or a header is impossible,
/// the byte stream's alignment is unknown and the connection is closed; the next attempt reconnects.
/// </summary>
internal sealed class ModbusTcpMaster : ModbusMasterBase
{
    private readonly ModbusTcpMasterOptions _options;
    private readonly byte[] _tx = new byte[ModbusTcpFraming.MaxAduLength];
    private readonly byte[] _rx = new byte[4 * ModbusTcpFraming.MaxAduLength];
    private int _rxCount;
    private Socket? _socket;
    private ushort _transactionId;

    public ModbusTcpMaster(ModbusTcpMasterOptions options, TimeProvider? timeProvider, ILogger? logger)
        : base(options, timeProvider, logger, $"tcp {options.Host}:{options.Port}")
    {
        _options = options;
    }

    protected override async ValueTask<int> ExchangeAsync(byte unitId, ModbusRequest request, Memory<byte> responsePdu,
        CancellationToken cancellationToken)
    {
        var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var transactionId = ++_transactionId;
        var pduLength = request.Encode(_tx.AsSpan(ModbusTcpFraming.HeaderLength));
        ModbusTcpFraming.WriteHeader(_tx, transactionId, unitId, pduLength);
        var aduLength = ModbusTcpFraming.HeaderLength + pduLength;
        Log.Sent(Logger, Link, _tx.AsSpan(0, aduLength));
        await socket.SendAsync(_tx.AsMemory(0, aduLength), SocketFlags.None, cancellationToken).ConfigureAwait(false);

        while (true)
        {
            // Frames already buffered first (a stale answer and the fresh one may arrive in one read).
            while (TryTakeFrame(out var frameTransactionId, out var frameUnitId, out var pduOffset, out var framePduLength))
            {
                var pdu = _rx.AsSpan(pduOffset, framePduLength);
                var frameLength = ModbusTcpFraming.HeaderLength + framePduLength;
                Log.Received(Logger, Link, _rx.AsSpan(0, frameLength));
                if (frameTransactionId != transactionId)
                {
                    Log.StaleResponse(Logger, Link, frameTransactionId, transactionId);
                    CountFrameDiscarded();
                    Consume(frameLength);
                    continue;
                }

                if (frameUnitId != unitId || (pdu[0] & 0x7F) != (byte)request.Function)
                {
                    Log.ForeignResponse(Logger, Link, frameUnitId, pdu[0], unitId);
                    CountFrameDiscarded();
                    Consume(frameLength);
                    continue;
                }

                pdu.CopyTo(responsePdu.Span);
                Consume(frameLength);
                return framePduLength;
            }

            var read = await socket.ReceiveAsync(_rx.AsMemory(_rxCount), SocketFlags.None, cancellationToken)
                .ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"Modbus {Link}: the server closed the connection.");
            }

            _rxCount += read;
        }
    }

    protected override async ValueTask OnAttemptTimedOutAsync()
    {
        if (_rxCount > 0)
        {
            // Half a frame is buffered: whatever comes next cannot be aligned with it. Start over on a new connection.
            Log.BytesDropped(Logger, Link, _rxCount);
            await CloseLinkAsync().ConfigureAwait(false);
        }
    }

    protected override ValueTask CloseLinkAsync()
    {
        CloseSocket();
        return ValueTask.CompletedTask;
    }

    private void CloseSocket()
    {
        _rxCount = 0;
        var socket = _socket;
        _socket = null;
        socket?.Dispose();
    }

    private bool TryTakeFrame(out ushort transactionId, out byte unitId, out int pduOffset, out int pduLength)
    {
        pduOffset = ModbusTcpFraming.HeaderLength;
        try
        {
            if (ModbusTcpFraming.TryDecode(_rx.AsSpan(0, _rxCount), out transactionId, out unitId, out var consumed))
            {
                pduLength = consumed - ModbusTcpFraming.HeaderLength;
                return true;
            }
        }
        catch (ModbusProtocolException)
        {
            // An impossible MBAP header: the stream is misaligned. Close it; the caller retries on a new connection.
            CloseSocket();
            throw;
        }

        pduLength = 0;
        return false;
    }

    private void Consume(int count)
    {
        _rx.AsSpan(count, _rxCount - count).CopyTo(_rx);
        _rxCount -= count;
    }

    private async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_socket is { Connected: true })
        {
            return _socket;
        }

        await CloseLinkAsync().ConfigureAwait(false);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_options.Host, _options.Port, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        Log.Connected(Logger, Link);
        return socket;
    }
}
