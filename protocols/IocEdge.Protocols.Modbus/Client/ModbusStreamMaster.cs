using Microsoft.Extensions.Logging;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// A master for serial framing (RTU or ASCII) over a byte stream: an RS-485 line through System.IO.Ports, a TCP tunnel
/// (RTU over TCP) or any caller-supplied stream. Several slaves share the line, so requests are strictly one at a time
/// (the base class's gate); before each request the line is kept silent for t3.5 after the last byte seen
/// ("MODBUS over Serial Line V1.02", section 2.5.1.1), and after a broadcast for the turnaround delay (section 2.4.1).
/// A response from another unit, to another function, with a bad checksum or truncated is discarded and reading goes
/// on until the attempt's timeout, then the base class retries, as section 2.4.1 prescribes for the master.
/// </summary>
/// <remarks>
/// Serial framing has no transaction id, so a slave that answers after the timeout would have its answer taken for the
/// next request of the same shape. After any attempt that got no valid answer (timeout, cancellation, an answer that
/// does not match), the next attempt first reads and discards whatever arrives during
/// <see cref="ModbusMasterOptions.LateAnswerWindow"/> and then until the line has been silent for t3.5; only then does
/// it send.
/// </remarks>
internal sealed class ModbusStreamMaster : ModbusMasterBase
{
    private readonly IModbusStreamConnector _connector;
    private readonly ModbusSerialMode _mode;
    private readonly ModbusSerialLineSettings? _line;
    private readonly TimeSpan _turnaroundDelay;
    private readonly byte[] _tx = new byte[ModbusAsciiFraming.MaxAduLength];
    private readonly byte[] _rx = new byte[4 * ModbusAsciiFraming.MaxAduLength];
    private readonly byte[] _pdu = new byte[ModbusLimits.MaxPduLength];
    private int _rxCount;
    private long _lastActivity;
    private TimeSpan _silenceNeeded;
    private bool _lateAnswerPossible;
    private long _unansweredAt;

    public ModbusStreamMaster(IModbusStreamConnector connector, ModbusSerialMode mode, ModbusSerialLineSettings? line,
        TimeSpan turnaroundDelay, ModbusMasterOptions options, TimeProvider? timeProvider, ILogger? logger)
        : base(options, timeProvider, logger, connector.Name)
    {
        _connector = connector;
        _mode = mode;
        _line = line;
        _turnaroundDelay = turnaroundDelay;
        _lastActivity = TimeProvider.GetTimestamp();
        _silenceNeeded = line?.T35 ?? TimeSpan.Zero;
    }

    protected override async ValueTask<int> ExchangeAsync(byte unitId, ModbusRequest request, Memory<byte> responsePdu,
        CancellationToken cancellationToken)
    {
        if (unitId == 0 && !request.IsWrite)
        {
            throw new ArgumentException(
                "Unit 0 is the serial broadcast address; only write functions may be broadcast (serial line spec section 2.2).",
                nameof(unitId));
        }

        var stream = await _connector.OpenAsync(cancellationToken).ConfigureAwait(false);
        await KeepSilenceAsync(cancellationToken).ConfigureAwait(false);
        _connector.DiscardInput();
        _rxCount = 0;

        Span<byte> pdu = stackalloc byte[ModbusLimits.MaxPduLength];
        var pduLength = request.Encode(pdu);
        var aduLength = _mode == ModbusSerialMode.Rtu
            ? ModbusRtuFraming.Encode(_tx, unitId, pdu[..pduLength])
            : ModbusAsciiFraming.Encode(_tx, unitId, pdu[..pduLength]);
        Log.Sent(Logger, Link, _tx.AsSpan(0, aduLength));
        await stream.WriteAsync(_tx.AsMemory(0, aduLength), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        MarkActivity(_line?.T35 ?? TimeSpan.Zero);

        if (unitId == 0)
        {
            // Broadcast: no slave answers; give them the turnaround delay to act before the next request.
            MarkActivity(_turnaroundDelay);
            return 0;
        }

        while (true)
        {
            while (_rxCount > 0)
            {
                var found = TryDecode(out var frame, out var consumed);
                if (consumed > 0 && !found)
                {
                    Log.BytesDropped(Logger, Link, consumed);
                }

                if (!found)
                {
                    Consume(consumed);
                    break;
                }

                if (frame.Discarded > 0)
                {
                    Log.BytesDropped(Logger, Link, frame.Discarded);
                }

                Log.Received(Logger, Link, _rx.AsSpan(frame.Discarded, consumed - frame.Discarded));
                Consume(consumed);
                var function = _pdu[0];
                if (frame.UnitId != unitId || (function & 0x7F) != (byte)request.Function)
                {
                    Log.ForeignResponse(Logger, Link, frame.UnitId, function, unitId);
                    CountFrameDiscarded();
                    continue;
                }

                _pdu.AsSpan(0, frame.PduLength).CopyTo(responsePdu.Span);
                return frame.PduLength;
            }

            if (_rxCount == _rx.Length)
            {
                // Cannot happen with the framers' bounded look-ahead; guard anyway so a read never gets 0 bytes of room.
                Log.BytesDropped(Logger, Link, _rxCount);
                _rxCount = 0;
            }

            var read = await stream.ReadAsync(_rx.AsMemory(_rxCount), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"Modbus {Link}: the line was closed.");
            }

            _rxCount += read;
            MarkActivity(_line?.T35 ?? TimeSpan.Zero);
        }
    }

    protected override void OnAttemptUnanswered()
    {
        _lateAnswerPossible = true;
        _unansweredAt = TimeProvider.GetTimestamp();
    }

    protected override async ValueTask BeforeAttemptAsync(CancellationToken cancellationToken)
    {
        if (!_lateAnswerPossible)
        {
            return;
        }

        var stream = await _connector.OpenAsync(cancellationToken).ConfigureAwait(false);
        var window = Options.EffectiveLateAnswerWindow;
        var t35 = _line?.T35 ?? TimeSpan.Zero;
        var discarded = _rxCount;
        _rxCount = 0;
        while (true)
        {
            var untilWindowEnds = window - TimeProvider.GetElapsedTime(_unansweredAt);
            var untilSilence = t35 - TimeProvider.GetElapsedTime(_lastActivity);
            var wait = untilWindowEnds > untilSilence ? untilWindowEnds : untilSilence;
            if (wait <= TimeSpan.Zero)
            {
                break;
            }

            using var quiet = new CancellationTokenSource(wait, TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, quiet.Token);
            try
            {
                var read = await stream.ReadAsync(_rx, linked.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"Modbus {Link}: the line was closed.");
                }

                discarded += read;
                MarkActivity(t35);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The quiet period (or what was left of it) passed; check again.
            }
        }

        _connector.DiscardInput();
        _lateAnswerPossible = false;
        if (discarded > 0)
        {
            CountLateBytesDiscarded(discarded);
            Log.LateBytesDiscarded(Logger, Link, discarded);
        }
    }

    protected override ValueTask CloseLinkAsync()
    {
        _rxCount = 0;
        return _connector.CloseAsync();
    }

    private bool TryDecode(out ModbusSerialFrame frame, out int consumed) => _mode == ModbusSerialMode.Rtu
        ? ModbusRtuFraming.TryDecode(_rx.AsSpan(0, _rxCount), ModbusFrameDirection.Response, _pdu, out frame, out consumed)
        : ModbusAsciiFraming.TryDecode(_rx.AsSpan(0, _rxCount), _pdu, out frame, out consumed);

    private void Consume(int count)
    {
        _rx.AsSpan(count, _rxCount - count).CopyTo(_rx);
        _rxCount -= count;
    }

    private void MarkActivity(TimeSpan silenceAfter)
    {
        _lastActivity = TimeProvider.GetTimestamp();
        _silenceNeeded = silenceAfter;
    }

    private ValueTask KeepSilenceAsync(CancellationToken cancellationToken) =>
        LineSilence.WaitAsync(TimeProvider, _lastActivity, _silenceNeeded, cancellationToken);
}
