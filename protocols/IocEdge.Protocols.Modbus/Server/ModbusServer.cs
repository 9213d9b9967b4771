using System.Collections.Concurrent;
using System.IO.Ports;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// A Modbus server (slave) hosting one <see cref="ModbusDataStore"/> per unit id, on any number of links at once:
/// Modbus TCP, RTU over TCP, and RTU or ASCII on a serial line (System.IO.Ports, a pty, or any stream).
/// </summary>
/// <remarks>
/// <para>Unit ids: on TCP a request for a unit the server does not host is answered with exception 0x0B, Gateway Target
/// Device Failed To Respond (spec V1.1b3 section 7: "the device is not present on the network"), because a TCP server
/// hosting several unit ids plays a gateway. On a serial line such a request is for another slave on the bus and is
/// ignored (serial line spec section 2.2). Unit 0 on a serial line is a broadcast: write requests are applied to every
/// hosted unit and nobody answers; broadcast reads are ignored.</para>
/// <para>Unit 0xFF and 0 on Modbus TCP: "On TCP/IP, the MODBUS server is addressed using its IP address; therefore,
/// the MODBUS Unit Identifier is useless. The value 0xFF has to be used. [...] The value 0 is also accepted to
/// communicate directly to a MODBUS/TCP device" (Messaging on TCP/IP Implementation Guide V1.0b section 4.4.2.2).
/// When neither id is hosted itself, <see cref="TcpDirectUnitId"/> (by default the only unit of a single-unit server)
/// answers them, echoing the request's unit id.</para>
/// <para>Every request gets a defined outcome. A request whose frame is bounded (MBAP length; checksum-valid RTU or
/// ASCII frame) but whose PDU contradicts itself (length against its function's fixed size or its own byte count) is
/// answered with exception 03, function code 0 or one with the exception bit set with 01 (as libmodbus's server
/// does), and counted in <see cref="MalformedRequestsRefused"/>. Bytes that form no frame (bad CRC/LRC, garbage) are
/// counted in <see cref="MalformedFramesDropped"/> and dropped; an impossible MBAP header (protocol id not 0, length
/// outside 2-254) or a TCP frame left incomplete for <see cref="IncompleteFrameTimeout"/> closes that connection (its
/// byte stream cannot be realigned); on a serial link such a stub is dropped. Everything else keeps flowing.</para>
/// <para>Misbehaviour can be scripted per request through <see cref="FaultInjector"/>.</para>
/// </remarks>
public sealed class ModbusServer : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<byte, ModbusDataStore> _units;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _loops = new();
    private readonly ConcurrentDictionary<IDisposable, bool> _resources = new();
    private volatile IModbusFaultInjector? _faultInjector;
    private long _requestsServed;
    private long _exceptionsSent;
    private long _malformedFramesDropped;
    private long _malformedRequestsRefused;
    private byte? _tcpDirectUnitId;
    private TimeSpan _incompleteFrameTimeout = TimeSpan.FromSeconds(5);
    private long _faultsInjected;
    private long _responsesSent;
    private long _sequence;
    private int _disposed;

    /// <summary>Creates a server; nothing listens until a Start method is called.</summary>
    /// <param name="units">The register file of each hosted unit id (1-247; 0 and 248-255 work on TCP too).</param>
    /// <param name="faultInjector">Optional scripted misbehaviour (can be changed later through <see cref="FaultInjector"/>).</param>
    /// <param name="timeProvider">Clock for scripted delays and serial line silences. Default system clock.</param>
    /// <param name="logger">Frames are logged as hex at Debug level.</param>
    public ModbusServer(IReadOnlyDictionary<byte, ModbusDataStore> units, IModbusFaultInjector? faultInjector = null,
        TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(units);
        if (units.Count == 0)
        {
            throw new ArgumentException("A Modbus server needs at least one unit (unit id → ModbusDataStore).", nameof(units));
        }

        _units = units;
        _tcpDirectUnitId = units.Count == 1 ? units.Keys.First() : null;
        _faultInjector = faultInjector;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Scripted misbehaviour; null to behave. May be swapped while the server runs.</summary>
    public IModbusFaultInjector? FaultInjector
    {
        get => _faultInjector;
        set => _faultInjector = value;
    }

    /// <summary>
    /// The hosted unit that answers Modbus TCP requests for unit 0xFF or 0 when those ids are not hosted themselves
    /// (Implementation Guide V1.0b section 4.4.2.2: a server reached directly over TCP is addressed by its IP address).
    /// Default: the only unit of a single-unit server; null for a server hosting several units (it then behaves as a
    /// gateway and answers exception 0x0B for them). Serial links never use it: unit 0 stays the broadcast address.
    /// </summary>
    /// <exception cref="ArgumentException">The unit is not hosted by this server.</exception>
    public byte? TcpDirectUnitId
    {
        get => _tcpDirectUnitId;
        set
        {
            if (value is { } unit && !_units.ContainsKey(unit))
            {
                throw new ArgumentException(
                    $"Unit {unit} is not hosted by this server; name one of {string.Join(", ", _units.Keys)} or null.", nameof(value));
            }

            _tcpDirectUnitId = value;
        }
    }

    /// <summary>
    /// How long part of a frame may wait for the rest: then a TCP connection is closed (its stream cannot be
    /// realigned) and a serial link drops the stub. Default 5 s; a master's whole frame arrives within milliseconds.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public TimeSpan IncompleteFrameTimeout
    {
        get => _incompleteFrameTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _incompleteFrameTimeout = value;
        }
    }

    /// <summary>Requests in a bounded frame whose PDU contradicts itself, answered with exception 03 (or 01).</summary>
    public long MalformedRequestsRefused => Interlocked.Read(ref _malformedRequestsRefused);

    /// <summary>Well-formed requests to a hosted unit that were handled (answered normally, with an exception, or silently by a fault).</summary>
    public long RequestsServed => Interlocked.Read(ref _requestsServed);

    /// <summary>Exception responses sent (refused requests, unknown TCP unit ids, scripted exceptions).</summary>
    public long ExceptionsSent => Interlocked.Read(ref _exceptionsSent);

    /// <summary>Frames dropped because they could not be decoded (bad checksum, impossible header, malformed PDU).</summary>
    public long MalformedFramesDropped => Interlocked.Read(ref _malformedFramesDropped);

    /// <summary>Frames written back to masters (normal and exception answers, stale repeats included), counted once written.</summary>
    public long ResponsesSent => Interlocked.Read(ref _responsesSent);

    /// <summary>Requests the fault hook made misbehave.</summary>
    public long FaultsInjected => Interlocked.Read(ref _faultsInjected);

    /// <summary>Listens for Modbus TCP (MBAP) on <paramref name="endpoint"/> (port 0 picks a free port).</summary>
    /// <returns>The bound endpoint.</returns>
    public Task<IPEndPoint> StartTcpAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default) =>
        StartListenerAsync(endpoint, ModbusServerTransport.Tcp, cancellationToken);

    /// <summary>Listens for RTU frames over TCP on <paramref name="endpoint"/> (port 0 picks a free port).</summary>
    /// <returns>The bound endpoint.</returns>
    public Task<IPEndPoint> StartRtuOverTcpAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default) =>
        StartListenerAsync(endpoint, ModbusServerTransport.RtuOverTcp, cancellationToken);

    /// <summary>
    /// Opens a serial port (a pty link works) and serves RTU or ASCII on it. <see cref="ModbusMasterOptions.Timeout"/>
    /// and <see cref="ModbusMasterOptions.Retries"/> are ignored; answers keep the t3.5 silence of the line settings.
    /// </summary>
    public Task StartSerialAsync(ModbusSerialOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var port = new SerialPort(options.PortName, options.BaudRate, options.Parity, options.DataBits, options.StopBits)
        {
            Handshake = Handshake.None,
        };
        port.Open();
        port.DiscardInBuffer();
        _resources.TryAdd(port, true);
        var transport = options.Mode == ModbusSerialMode.Rtu ? ModbusServerTransport.Rtu : ModbusServerTransport.Ascii;
        Track(ServeStreamAsync(port.BaseStream, transport, options.LineSettings, $"{transport} {options.PortName}", _stopping.Token));
        Log.ServerListening(_logger, transport.ToString(), options.PortName);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Serves RTU or ASCII on a stream the caller owns (a simulated line). <paramref name="line"/> gives the t3.5
    /// silence kept before each answer; null for none.
    /// </summary>
    public Task StartSerialAsync(Stream stream, ModbusSerialMode mode, ModbusSerialLineSettings? line = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        line?.Validate();
        var transport = mode == ModbusSerialMode.Rtu ? ModbusServerTransport.Rtu : ModbusServerTransport.Ascii;
        Track(ServeStreamAsync(stream, transport, line, $"{transport} stream", _stopping.Token));
        return Task.CompletedTask;
    }

    /// <summary>Stops every link and waits for their loops to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var resource in _resources.Keys)
        {
            resource.Dispose();
        }

        try
        {
            await Task.WhenAll(_loops.Keys).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Loops end by cancellation or by their socket/port being closed under them.
        }

        _stopping.Dispose();
    }

    private Task<IPEndPoint> StartListenerAsync(IPEndPoint endpoint, ModbusServerTransport transport,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endpoint);
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _resources.TryAdd(listener, true);
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        Log.ServerListening(_logger, transport.ToString(), bound.ToString());
        Track(AcceptLoopAsync(listener, transport, _stopping.Token));
        return Task.FromResult(bound);
    }

    private async Task AcceptLoopAsync(Socket listener, ModbusServerTransport transport, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            client.NoDelay = true;
            _resources.TryAdd(client, true);
            Track(ServeClientAsync(client, transport, stopping));
        }
    }

    private async Task ServeClientAsync(Socket client, ModbusServerTransport transport, CancellationToken stopping)
    {
        var remote = client.RemoteEndPoint?.ToString() ?? "?";
        Log.ServerClientConnected(_logger, remote);
        try
        {
            if (transport == ModbusServerTransport.Tcp)
            {
                await ServeMbapAsync(client, $"tcp {remote}", stopping).ConfigureAwait(false);
            }
            else
            {
                var stream = new NetworkStream(client, ownsSocket: false);
                await using (stream.ConfigureAwait(false))
                {
                    await ServeStreamAsync(stream, transport, null, $"rtu-over-tcp {remote}", stopping).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away or the server is stopping.
        }
        finally
        {
            _resources.TryRemove(client, out _);
            client.Dispose();
            Log.ServerClientGone(_logger, remote);
        }
    }

    private async Task ServeMbapAsync(Socket client, string link, CancellationToken stopping)
    {
        var rx = new byte[4 * ModbusTcpFraming.MaxAduLength];
        var tx = new byte[2 * ModbusTcpFraming.MaxAduLength];
        var response = new byte[ModbusLimits.MaxPduLength];
        var count = 0;
        byte[]? lastAnswer = null;
        while (true)
        {
            var read = await ReceiveAsync(client, rx.AsMemory(count), count > 0, stopping).ConfigureAwait(false);
            if (read < 0)
            {
                Interlocked.Increment(ref _malformedFramesDropped);
                Log.ServerMalformed(_logger, link, $"{count} byte(s) of an MBAP frame never completed; closing the connection");
                return;
            }

            if (read == 0)
            {
                return;
            }

            count += read;
            while (true)
            {
                ushort transactionId;
                byte unitId;
                int consumed;
                try
                {
                    if (!ModbusTcpFraming.TryDecode(rx.AsSpan(0, count), out transactionId, out unitId, out consumed))
                    {
                        break;
                    }
                }
                catch (ModbusProtocolException ex)
                {
                    Interlocked.Increment(ref _malformedFramesDropped);
                    Log.ServerMalformed(_logger, link, ex.Message);
                    return; // closes the connection: an MBAP stream cannot be realigned
                }

                Log.Received(_logger, link, rx.AsSpan(0, consumed));
                var pdu = rx.AsSpan(ModbusTcpFraming.HeaderLength, consumed - ModbusTcpFraming.HeaderLength);
                var length = Handle(ModbusServerTransport.Tcp, unitId, pdu, transactionId, response, out var fault, link);
                rx.AsSpan(consumed, count - consumed).CopyTo(rx);
                count -= consumed;
                if (length == 0)
                {
                    continue;
                }

                var answerUnit = fault.Kind == ModbusFaultKind.WrongUnitId ? fault.UnitId : unitId;
                var adu = ModbusTcpFraming.Encode(tx, transactionId, answerUnit, response.AsSpan(0, length));
                var answer = tx.AsSpan(0, adu).ToArray();
                await SendFaultyAsync(client, answer, fault, lastAnswer, transactionId, link, stopping).ConfigureAwait(false);
                lastAnswer = answer;
            }
        }
    }

    /// <summary>Receives; returns -1 when <paramref name="partial"/> and nothing came within <see cref="IncompleteFrameTimeout"/>.</summary>
    private async ValueTask<int> ReceiveAsync(Socket client, Memory<byte> buffer, bool partial, CancellationToken stopping)
    {
        if (!partial)
        {
            return await client.ReceiveAsync(buffer, SocketFlags.None, stopping).ConfigureAwait(false);
        }

        using var incomplete = new CancellationTokenSource(_incompleteFrameTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, incomplete.Token);
        try
        {
            return await client.ReceiveAsync(buffer, SocketFlags.None, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return -1;
        }
    }

    /// <summary>Reads; returns -1 when <paramref name="partial"/> and nothing came within <see cref="IncompleteFrameTimeout"/>.</summary>
    private async ValueTask<int> ReadAsync(Stream stream, Memory<byte> buffer, bool partial, CancellationToken stopping)
    {
        if (!partial)
        {
            return await stream.ReadAsync(buffer, stopping).ConfigureAwait(false);
        }

        using var incomplete = new CancellationTokenSource(_incompleteFrameTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, incomplete.Token);
        try
        {
            return await stream.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return -1;
        }
    }

    private async Task SendFaultyAsync(Socket client, byte[] answer, ModbusFault fault, byte[]? lastAnswer,
        ushort transactionId, string link, CancellationToken stopping)
    {
        switch (fault.Kind)
        {
            case ModbusFaultKind.Delay:
                await Task.Delay(fault.Delay, _timeProvider, stopping).ConfigureAwait(false);
                break;
            case ModbusFaultKind.BadChecksum:
                answer = (byte[])answer.Clone();
                answer[3] ^= 0x01; // protocol identifier 0 → 1: no checksum in MBAP, so corrupt the header
                break;
            case ModbusFaultKind.Truncated:
                answer = answer[..TruncatedLength(fault, answer.Length)];
                break;
            case ModbusFaultKind.Stale:
            {
                var stale = lastAnswer ?? (byte[])answer.Clone();
                if (lastAnswer is null)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(stale, (ushort)(transactionId - 1));
                }

                Log.Sent(_logger, link, stale);
                await client.SendAsync(stale, SocketFlags.None, stopping).ConfigureAwait(false);
                Interlocked.Increment(ref _responsesSent);
                break;
            }
        }

        Log.Sent(_logger, link, answer);
        await client.SendAsync(answer, SocketFlags.None, stopping).ConfigureAwait(false);
        Interlocked.Increment(ref _responsesSent);
    }

    private async Task ServeStreamAsync(Stream stream, ModbusServerTransport transport, ModbusSerialLineSettings? line,
        string link, CancellationToken stopping)
    {
        try
        {
            await ServeStreamCoreAsync(stream, transport, line, link, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
            // Stopping, or the line/connection closed.
        }
        catch (Exception ex)
        {
            Log.ServerLoopFailed(_logger, link, ex);
            throw;
        }
    }

    private async Task ServeStreamCoreAsync(Stream stream, ModbusServerTransport transport, ModbusSerialLineSettings? line,
        string link, CancellationToken stopping)
    {
        var rtu = transport != ModbusServerTransport.Ascii;
        var serialLine = transport is ModbusServerTransport.Rtu or ModbusServerTransport.Ascii;
        var rx = new byte[4 * ModbusAsciiFraming.MaxAduLength];
        var tx = new byte[ModbusAsciiFraming.MaxAduLength];
        var pdu = new byte[ModbusLimits.MaxPduLength];
        var response = new byte[ModbusLimits.MaxPduLength];
        var count = 0;
        byte[]? lastAnswer = null;
        long lastByteAt = 0;
        while (true)
        {
            if (count == rx.Length)
            {
                Interlocked.Increment(ref _malformedFramesDropped);
                count = 0;
            }

            var read = await ReadAsync(stream, rx.AsMemory(count), count > 0, stopping).ConfigureAwait(false);
            if (read < 0)
            {
                // Part of a frame that never completed: drop it, the next request starts clean.
                Interlocked.Increment(ref _malformedFramesDropped);
                Log.ServerMalformed(_logger, link, $"{count} byte(s) of a frame never completed");
                count = 0;
                continue;
            }

            if (read == 0)
            {
                return;
            }

            count += read;
            lastByteAt = _timeProvider.GetTimestamp();
            while (count > 0)
            {
                ModbusSerialFrame frame;
                int consumed;
                bool found;
                if (rtu && ModbusRtuFraming.FrameLength(rx.AsSpan(0, count), ModbusFrameDirection.Request) != count
                    && ModbusRtuFraming.TryDecodeAtSilence(rx.AsSpan(0, count), pdu, out frame))
                {
                    // The whole burst is CRC-valid but its function code has no known length, or its byte count
                    // disagrees with its length: one complete request all the same, to be refused (exception 01 or
                    // 03) rather than left unanswered.
                    found = true;
                    consumed = count;
                }
                else
                {
                    found = rtu
                        ? ModbusRtuFraming.TryDecode(rx.AsSpan(0, count), ModbusFrameDirection.Request, pdu, out frame, out consumed)
                        : ModbusAsciiFraming.TryDecode(rx.AsSpan(0, count), pdu, out frame, out consumed);
                }

                if (!found)
                {
                    if (consumed > 0)
                    {
                        Interlocked.Increment(ref _malformedFramesDropped);
                        Log.ServerMalformed(_logger, link, $"{consumed} byte(s) with no valid frame");
                        rx.AsSpan(consumed, count - consumed).CopyTo(rx);
                        count -= consumed;
                    }

                    break;
                }

                if (frame.Discarded > 0)
                {
                    Interlocked.Increment(ref _malformedFramesDropped);
                    Log.ServerMalformed(_logger, link, $"{frame.Discarded} byte(s) before a frame");
                }

                Log.Received(_logger, link, rx.AsSpan(frame.Discarded, consumed - frame.Discarded));
                rx.AsSpan(consumed, count - consumed).CopyTo(rx);
                count -= consumed;

                int length;
                ModbusFault fault;
                if (serialLine && frame.UnitId == 0)
                {
                    Broadcast(pdu.AsSpan(0, frame.PduLength), transport, link);
                    continue;
                }

                if (serialLine && !_units.ContainsKey(frame.UnitId))
                {
                    continue; // another slave on the bus
                }

                length = Handle(transport, frame.UnitId, pdu.AsSpan(0, frame.PduLength), 0, response, out fault, link);
                if (length == 0)
                {
                    continue;
                }

                var answerUnit = fault.Kind == ModbusFaultKind.WrongUnitId ? fault.UnitId : frame.UnitId;
                var adu = rtu
                    ? ModbusRtuFraming.Encode(tx, answerUnit, response.AsSpan(0, length))
                    : ModbusAsciiFraming.Encode(tx, answerUnit, response.AsSpan(0, length));
                var answer = tx.AsSpan(0, adu).ToArray();
                switch (fault.Kind)
                {
                    case ModbusFaultKind.Delay:
                        await Task.Delay(fault.Delay, _timeProvider, stopping).ConfigureAwait(false);
                        break;
                    case ModbusFaultKind.BadChecksum when rtu:
                        answer[^1] ^= 0xFF;
                        break;
                    case ModbusFaultKind.BadChecksum:
                        answer[^3] = answer[^3] == (byte)'0' ? (byte)'1' : (byte)'0';
                        break;
                    case ModbusFaultKind.Truncated:
                        answer = answer[..TruncatedLength(fault, answer.Length)];
                        break;
                    case ModbusFaultKind.Stale when lastAnswer is not null:
                        await WriteAnswerAsync(stream, lastAnswer, line, lastByteAt, link, stopping).ConfigureAwait(false);
                        lastByteAt = _timeProvider.GetTimestamp();
                        break;
                }

                await WriteAnswerAsync(stream, answer, line, lastByteAt, link, stopping).ConfigureAwait(false);
                lastAnswer = answer;
            }
        }
    }

    private async Task WriteAnswerAsync(Stream stream, byte[] answer, ModbusSerialLineSettings? line, long lastByteAt,
        string link, CancellationToken stopping)
    {
        if (line is not null)
        {
            // Frames on a serial line are separated by at least t3.5 of silence (serial line spec section 2.5.1.1).
            await LineSilence.WaitAsync(_timeProvider, lastByteAt, line.T35, stopping).ConfigureAwait(false);
        }

        Log.Sent(_logger, link, answer);
        await stream.WriteAsync(answer, stopping).ConfigureAwait(false);
        await stream.FlushAsync(stopping).ConfigureAwait(false);
        Interlocked.Increment(ref _responsesSent);
    }

    private void Broadcast(ReadOnlySpan<byte> pdu, ModbusServerTransport transport, string link)
    {
        if (ModbusRequest.TryDecode(pdu, out var request, out _) != ModbusRequestDecodeStatus.Ok || !request.IsWrite)
        {
            return;
        }

        Span<byte> ignored = stackalloc byte[ModbusLimits.MaxPduLength];
        foreach (var store in _units.Values)
        {
            store.Execute(request, ignored, out _);
        }

        Interlocked.Increment(ref _requestsServed);
        _ = transport;
        _ = link;
    }

    /// <summary>
    /// Decodes and executes one request and writes the response PDU; returns its length, or 0 for no answer.
    /// </summary>
    private int Handle(ModbusServerTransport transport, byte unitId, ReadOnlySpan<byte> pdu, ushort transactionId,
        Span<byte> response, out ModbusFault fault, string link)
    {
        fault = default;
        var status = ModbusRequest.TryDecode(pdu, out var request, out var refusal);
        if (pdu.Length == 0)
        {
            Interlocked.Increment(ref _malformedFramesDropped);
            Log.ServerMalformed(_logger, link, "empty PDU");
            return 0;
        }

        if (!TryGetStore(transport, unitId, out var store))
        {
            Interlocked.Increment(ref _exceptionsSent);
            return ModbusResponse.EncodeException(response, pdu[0], ModbusExceptionCode.GatewayTargetDeviceFailedToRespond);
        }

        if (status == ModbusRequestDecodeStatus.Malformed)
        {
            // The frame is bounded (MBAP length, checksum-valid serial frame): refuse it rather than let the master
            // wait out its timeout.
            Interlocked.Increment(ref _malformedRequestsRefused);
            Interlocked.Increment(ref _exceptionsSent);
            Log.ServerMalformed(_logger, link, $"malformed PDU {Convert.ToHexString(pdu)} refused with exception {refusal}");
            return ModbusResponse.EncodeException(response, pdu[0], refusal);
        }

        var injector = _faultInjector;
        if (injector is not null)
        {
            var info = new ModbusRequestInfo(transport, unitId, pdu[0], request.Address, request.Count, transactionId,
                Interlocked.Increment(ref _sequence));
            fault = injector.Decide(info);
            if (fault.Kind != ModbusFaultKind.None)
            {
                Interlocked.Increment(ref _faultsInjected);
                Log.ServerFault(_logger, link, fault.Kind, unitId, pdu[0]);
            }
        }
        else
        {
            Interlocked.Increment(ref _sequence);
        }

        Interlocked.Increment(ref _requestsServed);
        switch (fault.Kind)
        {
            case ModbusFaultKind.NoAnswer:
                return 0;
            case ModbusFaultKind.Exception:
                Interlocked.Increment(ref _exceptionsSent);
                return ModbusResponse.EncodeException(response, pdu[0], fault.ExceptionCode);
        }

        if (status == ModbusRequestDecodeStatus.Exception)
        {
            Interlocked.Increment(ref _exceptionsSent);
            return ModbusResponse.EncodeException(response, pdu[0], refusal);
        }

        // The unit the store is hosted under (unit 0xFF/0 on TCP reach the direct unit): the default FC 11 server id.
        var hostUnit = _units.ContainsKey(unitId) ? unitId : _tcpDirectUnitId ?? unitId;
        var code = store.Execute(request, response, out var length, hostUnit);
        if (code is { } exceptionCode)
        {
            Interlocked.Increment(ref _exceptionsSent);
            return ModbusResponse.EncodeException(response, pdu[0], exceptionCode);
        }

        return length;
    }

    private bool TryGetStore(ModbusServerTransport transport, byte unitId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ModbusDataStore? store)
    {
        if (_units.TryGetValue(unitId, out store))
        {
            return true;
        }

        if (transport == ModbusServerTransport.Tcp && unitId is 0 or 0xFF && _tcpDirectUnitId is { } direct)
        {
            store = _units[direct];
            return true;
        }

        return false;
    }

    private static int TruncatedLength(ModbusFault fault, int length) =>
        fault.Length > 0 ? Math.Min(fault.Length, length - 1) : Math.Max(1, length / 2);

    private void Track(Task loop)
    {
        _loops.TryAdd(loop, true);
        _ = loop.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _),
            _loops, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
