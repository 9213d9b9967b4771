using System.IO.Ports;
using System.Net.Sockets;

namespace IocEdge.Protocols.Modbus;

/// <summary>Opens (and reopens) the byte stream a serial-framed master or server talks over.</summary>
internal interface IModbusStreamConnector : IAsyncDisposable
{
    /// <summary>A name for logs.</summary>
    string Name { get; }

    /// <summary>Returns the open stream, opening it when needed.</summary>
    ValueTask<Stream> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Drops bytes the driver has buffered but nobody read (stale answers), where the stream allows it.</summary>
    void DiscardInput();

    /// <summary>Closes the stream after a failure; <see cref="OpenAsync"/> opens it again (when it can).</summary>
    ValueTask CloseAsync();
}

/// <summary>A serial port through System.IO.Ports; the port's BaseStream gives true async reads and writes.</summary>
internal sealed class SerialPortConnector : IModbusStreamConnector
{
    private readonly ModbusSerialOptions _options;
    private SerialPort? _port;

    public SerialPortConnector(ModbusSerialOptions options)
    {
        _options = options;
    }

    public string Name => $"{(_options.Mode == ModbusSerialMode.Rtu ? "rtu" : "ascii")} {_options.PortName}";

    public ValueTask<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        if (_port is { IsOpen: true })
        {
            return ValueTask.FromResult(_port.BaseStream);
        }

        var port = new SerialPort(_options.PortName, _options.BaudRate, _options.Parity, _options.DataBits, _options.StopBits)
        {
            Handshake = Handshake.None,
            ReadTimeout = SerialPort.InfiniteTimeout,
            WriteTimeout = SerialPort.InfiniteTimeout,
        };
        try
        {
            port.Open();
            port.DiscardInBuffer();
        }
        catch
        {
            port.Dispose();
            throw;
        }

        _port = port;
        return ValueTask.FromResult(port.BaseStream);
    }

    public void DiscardInput()
    {
        if (_port is { IsOpen: true })
        {
            _port.DiscardInBuffer();
        }
    }

    public ValueTask CloseAsync()
    {
        var port = _port;
        _port = null;
        port?.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => CloseAsync();
}

/// <summary>A TCP connection carrying serial frames (RTU over TCP, as serial servers tunnel them).</summary>
internal sealed class TcpStreamConnector : IModbusStreamConnector
{
    private readonly string _host;
    private readonly int _port;
    private Socket? _socket;
    private NetworkStream? _stream;

    public TcpStreamConnector(string host, int port)
    {
        _host = host;
        _port = port;
    }

    public string Name => $"rtu-over-tcp {_host}:{_port}";

    public async ValueTask<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        if (_stream is not null)
        {
            return _stream;
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_host, _port, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        return _stream;
    }

    public void DiscardInput()
    {
        // A late answer that arrived while the master was idle must not be taken for the next request's answer
        // (RTU has no transaction id): drop what the socket holds. Receive does not block: the bytes are there.
        var socket = _socket;
        if (socket is null)
        {
            return;
        }

        Span<byte> sink = stackalloc byte[256];
        while (socket.Available > 0)
        {
            if (socket.Receive(sink) == 0)
            {
                return;
            }
        }
    }

    public async ValueTask CloseAsync()
    {
        var stream = _stream;
        _stream = null;
        _socket = null;
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => CloseAsync();
}

/// <summary>A stream the caller opened and owns (a simulated line, a pty, a port opened elsewhere). Never reopened.</summary>
internal sealed class FixedStreamConnector : IModbusStreamConnector
{
    private readonly Stream _stream;

    public FixedStreamConnector(Stream stream, string name)
    {
        _stream = stream;
        Name = name;
    }

    public string Name { get; }

    public ValueTask<Stream> OpenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_stream);

    public void DiscardInput()
    {
    }

    public ValueTask CloseAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
