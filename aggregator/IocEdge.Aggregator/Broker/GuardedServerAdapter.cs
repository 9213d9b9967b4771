using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IocEdge.Aggregator.Security;
using Microsoft.Extensions.Logging;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Aggregator.Broker;

/// <summary>One listening endpoint of <see cref="GuardedServerAdapter"/>.</summary>
/// <param name="Address">The address to bind (one family only).</param>
/// <param name="Port">TCP port; 0 picks a free one (read it back from <see cref="GuardedServerAdapter.BoundPort"/>).</param>
/// <param name="Certificate">The server certificate with its private key: TLS on this endpoint; null: plain TCP.</param>
/// <param name="ClientCa">Set with a certificate: mutual TLS, a client must show a certificate chaining to these roots.</param>
internal sealed record BrokerEndpoint(IPAddress Address, int Port, X509Certificate2? Certificate = null, X509Certificate2Collection? ClientCa = null);

/// <summary>
/// The embedded broker's own TCP/TLS listener, in place of MQTTnet's (<c>MqttTcpServerAdapter</c>), for three things
/// MQTTnet 5.2's listener does not give us:
/// <list type="bullet">
/// <item>a read-side packet size bound before MQTTnet allocates a packet body (<see cref="PacketSizeGuardStream"/>);</item>
/// <item>the TLS handshake in our hands: the client certificate (mutual TLS) is checked against the client CA in the
/// handshake, and the verified certificate travels with the connection itself (<see cref="GuardedChannelAdapter"/>), so
/// <c>ValidatingConnectionAsync</c> reads the CN of the very connection it validates; a handshake that does not finish
/// within the connect timeout is dropped;</item>
/// <item>the CONNECT packet itself (with its will) for <c>ValidatingConnectionAsync</c>, which MQTTnet does not expose.</item>
/// </list>
/// Each accepted socket runs in its own task; every failure of one connection is caught, counted by the owner through
/// <see cref="ConnectionFailed"/>, and never stops the accept loop (which backs off one second after an accept error).
/// </summary>
internal sealed class GuardedServerAdapter : IMqttServerAdapter
{
    private readonly BrokerEndpoint[] _endpoints;
    private readonly int _maxPacketSize;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeProvider _time;
    private readonly List<Socket> _listeners = [];
    private CancellationTokenSource? _stopping;
    private MqttServerOptions? _serverOptions;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;

    /// <param name="endpoints">Where to listen.</param>
    /// <param name="maxPacketSize">The largest whole MQTT packet read, bytes (Aggregator:Mqtt:MaxPacketSize).</param>
    /// <param name="handshakeTimeout">How long a TLS handshake may take (Aggregator:Mqtt:ConnectTimeout).</param>
    /// <param name="time">The clock for the handshake timeout and the accept back-off.</param>
    public GuardedServerAdapter(IEnumerable<BrokerEndpoint> endpoints, int maxPacketSize, TimeSpan handshakeTimeout, TimeProvider time)
    {
        _endpoints = [.. endpoints];
        _maxPacketSize = maxPacketSize;
        _handshakeTimeout = handshakeTimeout;
        _time = time;
    }

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>A connection was refused for a packet over the size limit: (remote end point, announced packet size in bytes).</summary>
    public Action<EndPoint?, long>? PacketTooLarge { get; set; }

    /// <summary>A connection ended in an error before or outside MQTT (a failed TLS handshake, a reset): (remote end point, stage, exception).</summary>
    public Action<EndPoint?, string, Exception>? ConnectionFailed { get; set; }

    /// <summary>The port an endpoint is bound to (after start), by its index in the constructor's list.</summary>
    public int BoundPort(int endpoint) => ((IPEndPoint)_listeners[endpoint].LocalEndPoint!).Port;

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _serverOptions = options;
        _mqttLogger = logger ?? MqttNetNullLogger.Instance;
        _stopping = new CancellationTokenSource();
        try
        {
            foreach (var endpoint in _endpoints)
            {
                var socket = new Socket(endpoint.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _listeners.Add(socket);
                socket.Bind(new IPEndPoint(endpoint.Address, endpoint.Port));
                socket.Listen(512);
            }
        }
        catch
        {
            DisposeListeners();
            throw;
        }

        for (var i = 0; i < _endpoints.Length; i++)
        {
            var (socket, endpoint, token) = (_listeners[i], _endpoints[i], _stopping.Token);
            _ = Task.Run(() => AcceptLoopAsync(socket, endpoint, token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync()
    {
        _stopping?.Cancel();
        DisposeListeners();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stopping?.Cancel();
        DisposeListeners();
        _stopping?.Dispose();
        _stopping = null;
    }

    private void DisposeListeners()
    {
        foreach (var socket in _listeners)
        {
            socket.Dispose();
        }
    }

    private async Task AcceptLoopAsync(Socket listener, BrokerEndpoint endpoint, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (Exception ex)
            {
                // Supervised: count, back off, go on (file descriptors exhausted, for instance).
                ConnectionFailed?.Invoke(null, "accept", ex);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            _ = Task.Run(() => HandleAsync(client, endpoint, stopping), CancellationToken.None);
        }
    }

    private async Task HandleAsync(Socket socket, BrokerEndpoint endpoint, CancellationToken stopping)
    {
        EndPoint? remote = null;
        Stream? stream = null;
        var stage = "tls";
        try
        {
            remote = socket.RemoteEndPoint;
            socket.NoDelay = true;
            stream = new NetworkStream(socket, ownsSocket: true);
            X509Certificate2? clientCertificate = null;
            if (endpoint.Certificate is { } serverCertificate)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var timeout = new CancellationTokenSource(_handshakeTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping);
                var ca = endpoint.ClientCa;
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = serverCertificate,
                    ClientCertificateRequired = ca is not null,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck, // a field CA publishes no CRL
                    EncryptionPolicy = EncryptionPolicy.RequireEncryption,
                    // Mutual TLS: the certificate must chain to Tls:ClientCaPath (and only to it); no CA, no client certificate asked.
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => ca is null || TlsCertificates.ChainsTo(certificate, ca),
                }, linked.Token).ConfigureAwait(false);
                if (ssl.RemoteCertificate is { } presented)
                {
                    clientCertificate = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
                }
            }

            stage = "mqtt";
            var guard = new PacketSizeGuardStream(stream, _maxPacketSize);
            stream = guard;
            var handler = ClientHandler;
            if (handler is null)
            {
                return;
            }

            var options = _serverOptions!;
            var channel = new MqttTcpChannel(guard, socket.LocalEndPoint, remote, clientCertificate);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
            using var inner = new MqttChannelAdapter(channel, formatter, _mqttLogger);
            using var adapter = new GuardedChannelAdapter(inner, guard, endpoint.Certificate is not null, clientCertificate, remote, this);
            await handler(adapter).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            ConnectionFailed?.Invoke(remote, stage, ex);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            try
            {
                if (stream is not null)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    socket.Dispose();
                }
            }
            catch (Exception ex)
            {
                ConnectionFailed?.Invoke(remote, "close", ex);
            }
        }
    }

    internal void OnPacketTooLarge(EndPoint? remote, long size) => PacketTooLarge?.Invoke(remote, size);
}

/// <summary>
/// MQTTnet's channel adapter for one connection, plus what our broker needs to know about it: the verified client
/// certificate and whether the connection is TLS (MQTTnet would see only the guard stream), and the CONNECT packet
/// (<see cref="ConnectPacket"/>: client id, will topic, will retain…), which MQTTnet 5.2's <c>ValidatingConnectionEventArgs</c>
/// keeps private. When a packet over the size limit arrives from an MQTT 5 client, it is told with DISCONNECT 0x95
/// (packet too large, MQTT 5 §4.13) before the connection ends.
/// </summary>
internal sealed class GuardedChannelAdapter(MqttChannelAdapter inner, PacketSizeGuardStream guard, bool secure,
    X509Certificate2? clientCertificate, EndPoint? remote, GuardedServerAdapter owner) : IMqttChannelAdapter
{
    /// <summary>The CONNECT this connection began with (null until it has arrived).</summary>
    public MqttConnectPacket? ConnectPacket { get; private set; }

    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2? ClientCertificate => clientCertificate;

    public EndPoint? RemoteEndPoint => remote;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => secure;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        try
        {
            var packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
            if (packet is MqttConnectPacket connect && ConnectPacket is null)
            {
                ConnectPacket = connect;
            }

            return packet;
        }
        catch (Exception) when (guard.RefusedPacketSize is { } size)
        {
            owner.OnPacketTooLarge(remote, size);
            if (inner.PacketFormatterAdapter.ProtocolVersion == MqttProtocolVersion.V500)
            {
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await inner.SendPacketAsync(new MqttDisconnectPacket
                    {
                        ReasonCode = MqttDisconnectReasonCode.PacketTooLarge,
                        ReasonString = Bounded.Text($"packet of {size} bytes; this broker accepts at most the Maximum Packet Size of its CONNACK"),
                    }, cts.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Best effort: the connection ends either way.
                }
            }

            throw;
        }
    }

    public void ResetStatistics() => inner.ResetStatistics();

    public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

    public void Dispose()
    {
        // The inner adapter is disposed by its owner (GuardedServerAdapter.HandleAsync).
    }
}
