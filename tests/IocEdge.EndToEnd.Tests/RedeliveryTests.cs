using System.Net;
using System.Net.Sockets;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.EndToEnd.Tests;

/// <summary>
/// Issue 14, proof: exactly-once actually exercised. The aggregator commits a readings message, then the PUBACK is lost
/// on the way back (a TCP proxy on loopback swallows the PUBACK bytes and cuts both connections), so the sender, as
/// contract §1 and §4.1 ask, keeps the readings and publishes the same (stream, seq) again after reconnecting. The store
/// must hold each reading once: this test fails when the readings table's primary key (the dedup) is removed.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class RedeliveryTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("e2e-redelivery");
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync() => _aggregator = await TestAggregator.StartAsync(_dir.Path);

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_batch_whose_PUBACK_is_lost_after_the_commit_is_resent_and_stored_once(bool compact)
    {
        const string gateway = "gw-redeliver";
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var batch = new ReadingBatch(gateway, "r1", Enumerable.Range(1, 50)
            .Select(i => new SequencedReading(i, new Reading("env1/pm2_5", now.AddSeconds(i - 50), i, "ug/m3", Quality.Good))).ToArray());
        var topic = compact ? Topics.ReadingsCompact(gateway) : Topics.Readings(gateway);
        var payload = compact ? CompactCodec.Encode(ReadingBatchCompact.ToCompact(batch)) : ReadingBatchJson.Encode(batch);
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        await using var proxy = new PubAckLosingProxy(_aggregator.MqttPort);

        // First attempt: committed by the aggregator, PUBACK swallowed, connection cut. The sender cannot know.
        using (var first = await ConnectAsync(proxy.Port, gateway))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => first.PublishAsync(message));
        }

        Assert.Equal(1, proxy.PubAcksDropped);
        Assert.Equal(50, _aggregator.Store.Count()); // the commit happened before the PUBACK was lost

        // The sender kept the readings (no PUBACK) and resends the same (stream, seq) after reconnecting.
        using var second = await ConnectAsync(proxy.Port, gateway);
        var result = await second.PublishAsync(message);

        Assert.True(result.IsSuccess, result.ReasonCode.ToString());
        Assert.Equal(2, proxy.Connections);
        var history = _aggregator.Store.History(gateway, "env1/pm2_5");
        Assert.Equal(50, history.Count); // count = distinct = contiguous
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), history.Select(h => h.Sequence));
        Assert.Equal(50, _aggregator.Metrics.Duplicates);
        Assert.Equal(50, _aggregator.Store.Count());
    }

    private static async Task<IMqttClient> ConnectAsync(int port, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10)).Build());
        return client;
    }

    /// <summary>
    /// A loopback TCP proxy in front of the broker. Client bytes pass unchanged; broker bytes are split into MQTT control
    /// packets (fixed header: type in the high nibble of byte 1, then the Remaining Length varint, MQTT 5.0 §2.1). On its
    /// first connection the first PUBACK (type 4) is swallowed and both sockets are closed; later connections pass through.
    /// </summary>
    private sealed class PubAckLosingProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _target;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _sockets = [];
        private readonly Task _accept;
        private int _connections;
        private int _dropped;

        public PubAckLosingProxy(int target)
        {
            _target = target;
            _listener.Start();
            _accept = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public int PubAcksDropped => Volatile.Read(ref _dropped);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var server = new TcpClient();
                    await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                    lock (_sockets)
                    {
                        _sockets.Add(client);
                        _sockets.Add(server);
                    }

                    var lossy = Interlocked.Increment(ref _connections) == 1;
                    _ = PumpAsync(client.GetStream(), server.GetStream(), client, server);
                    _ = ServerToClientAsync(server.GetStream(), client.GetStream(), client, server, lossy);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
        }

        private async Task PumpAsync(NetworkStream from, NetworkStream to, TcpClient a, TcpClient b)
        {
            var buffer = new byte[8192];
            try
            {
                int n;
                while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
            }
            finally
            {
                a.Close();
                b.Close();
            }
        }

        private async Task ServerToClientAsync(NetworkStream from, NetworkStream to, TcpClient a, TcpClient b, bool lossy)
        {
            try
            {
                while (true)
                {
                    var packet = await ReadPacketAsync(from);
                    if (packet is null)
                    {
                        return;
                    }

                    if (lossy && packet[0] >> 4 == 4)
                    {
                        // The PUBACK leaves the broker after the commit; it never reaches the sender.
                        Interlocked.Increment(ref _dropped);
                        return;
                    }

                    await to.WriteAsync(packet, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
            }
            finally
            {
                a.Close();
                b.Close();
            }
        }

        private async Task<byte[]?> ReadPacketAsync(NetworkStream s)
        {
            var header = new List<byte>(5);
            var one = new byte[1];
            if (await s.ReadAsync(one, _stop.Token) == 0)
            {
                return null;
            }

            header.Add(one[0]);
            int length = 0, shift = 0;
            do
            {
                await s.ReadExactlyAsync(one, _stop.Token);
                header.Add(one[0]);
                length |= (one[0] & 0x7F) << shift;
                shift += 7;
            }
            while ((one[0] & 0x80) != 0);

            var packet = new byte[header.Count + length];
            header.CopyTo(packet);
            await s.ReadExactlyAsync(packet.AsMemory(header.Count), _stop.Token);
            return packet;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_sockets)
            {
                foreach (var s in _sockets)
                {
                    s.Dispose();
                }
            }

            await _accept;
            _stop.Dispose();
        }
    }
}
