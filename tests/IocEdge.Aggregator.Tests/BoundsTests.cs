using System.Net.Sockets;
using IocEdge.Aggregator.Security;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Bounds" and its proof: a 10 MB payload, 1,000 sockets that never send CONNECT, 100,000 new channels from one
/// gateway and a slow subscriber are all refused or shed (counted), while good readings keep flowing.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class BoundsTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly TempDirectory _dir = new("aggregator-bounds");
    private TestAggregator _aggregator = null!;
    private MetricRecorder _metrics = null!;

    public async Task InitializeAsync()
    {
        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:ConnectTimeout"] = "00:00:02",
            ["Aggregator:Mqtt:MaxPendingMessagesPerClient"] = "100",
            ["Aggregator:Bounds:MaxReadingsPerMessage"] = "2000",
        }));
        _metrics = new MetricRecorder(_aggregator.Services.GetRequiredService<SecurityMetrics>().Meter);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<IMqttClient> ConnectAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId(clientId)
            .WithProtocolVersion(version).WithTimeout(TimeSpan.FromSeconds(30)).Build());
        return client;
    }

    private static byte[] Readings(string gateway, long from, int count, Func<int, string>? channel = null) => ReadingBatchJson.Encode(new ReadingBatch(gateway, "s1",
        [.. Enumerable.Range(0, count).Select(i => new SequencedReading(from + i,
            new Reading(channel?.Invoke(i) ?? "env1/pm2_5", Now.AddSeconds(-3000 + (i % 2000)), 35, "ug/m3", Quality.Good)))]));

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static void Stored(MqttClientPublishResult result) =>
        Assert.True((int)result.ReasonCode < 0x80, $"PUBACK {result.ReasonCode} {result.ReasonString}");

    [Fact]
    public async Task A_10_MB_payload_ends_the_connection_unread_and_good_readings_keep_flowing_after_reconnecting()
    {
        // MQTT 5 §3.2.2.3.6/§4.13: a packet over the Maximum Packet Size the CONNACK advertised ends the connection
        // (DISCONNECT 0x95 to an MQTT 5 client). The broker stops at the fixed header: the 10 MB are never buffered.
        var client = await ConnectAsync("gw-big", MqttProtocolVersion.V500);
        var huge = new byte[10 * 1024 * 1024];
        Array.Fill(huge, (byte)'x');

        var refused = false;
        try
        {
            var result = await PublishAsync(client, "iocedge/v1/gw-big/readings", huge);
            refused = (int)result.ReasonCode >= 0x80;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
            refused = true;
        }

        Assert.True(refused);
        client.Dispose();
        Assert.Equal(0, _aggregator.Store.Count());
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=too_large,stage=packet"));

        // The gateway reconnects; its readings are stored.
        using var again = await ConnectAsync("gw-big");
        Stored(await PublishAsync(again, "iocedge/v1/gw-big/readings", Readings("gw-big", 1, 1)));
        Assert.Equal(1, _aggregator.Store.Count());
    }

    [Fact]
    public async Task A_header_announcing_256_MiB_is_refused_before_the_body_is_allocated_even_before_connect()
    {
        // MQTTnet 5.2 allocates new byte[RemainingLength] as soon as it has a fixed header (before CONNECT is even
        // authenticated): five bytes could make it reserve 256 MiB per socket. The guard in front of it refuses the header.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, _aggregator.MqttPort);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        await socket.SendAsync(new byte[] { 0x10, 0xFF, 0xFF, 0xFF, 0x7F }); // CONNECT, Remaining Length 268,435,455 (MQTT 5 §1.5.5 maximum)

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        try
        {
            n = await socket.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token);
        }
        catch (SocketException)
        {
            n = 0;
        }

        Assert.Equal(0, n); // closed by the broker
        // Closed at once, not after the 2 s ConnectTimeout that a waiting MQTTnet would take.
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1.5));
        Assert.InRange(GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore, 0, 128L * 1024 * 1024);
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=too_large,stage=packet"));
    }

    [Fact]
    public async Task A_thousand_sockets_that_never_send_connect_are_closed_after_the_timeout()
    {
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 1000; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(System.Net.IPAddress.Loopback, _aggregator.MqttPort);
                sockets.Add(s);
            }

            var started = System.Diagnostics.Stopwatch.StartNew();
            // Each read ends (0 bytes or a reset) once the broker closes its side: ConnectTimeout is 2 s here.
            var closed = await Task.WhenAll(sockets.Select(async s =>
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    return await s.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token) == 0;
                }
                catch (SocketException)
                {
                    return true;
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }));

            Assert.All(closed, Assert.True);
            Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(25));

            // And the broker still serves a real gateway.
            using var client = await ConnectAsync("gw-after");
            Stored(await PublishAsync(client, "iocedge/v1/gw-after/readings", Readings("gw-after", 1, 1)));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task A_hundred_thousand_new_channels_from_one_gateway_are_refused_beyond_the_cap()
    {
        using var client = await ConnectAsync("gw-flood");
        var results = new List<MqttClientPublishResult>();
        for (var m = 0; m < 100; m++)
        {
            results.Add(await PublishAsync(client, "iocedge/v1/gw-flood/readings",
                Readings("gw-flood", 1 + (m * 1000L), 1000, i => $"x/c{(m * 1000) + i}")));
        }

        // MaxSeriesPerGateway is 5000 (default): five messages of 1000 new channels fit, the other 95 are refused.
        Assert.Equal(5, results.Count(r => (int)r.ReasonCode < 0x80));
        Assert.All(results.Skip(5), r => Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, r.ReasonCode));
        Assert.Equal(5000, _aggregator.Store.Channels("gw-flood").Count);
        Assert.Equal(95, _metrics.Sum("iocedge.mqtt.refusals", "reason=series_cap,stage=publish"));

        // Readings on the channels it has keep flowing.
        Stored(await PublishAsync(client, "iocedge/v1/gw-flood/readings", Readings("gw-flood", 200_000, 10, i => $"x/c{i}")));

        // One message may not create more than MaxNewSeriesPerMessage (1000), nor carry more than MaxReadingsPerMessage (2000 here).
        using var other = await ConnectAsync("gw-other");
        var wide = await PublishAsync(other, "iocedge/v1/gw-other/readings", Readings("gw-other", 1, 1001, i => $"y/c{i}"));
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, wide.ReasonCode);
        var many = await PublishAsync(other, "iocedge/v1/gw-other/readings", Readings("gw-other", 1, 2001));
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, many.ReasonCode);
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=too_many_new_series,stage=publish"));
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=too_many_readings,stage=publish"));
        Assert.Empty(_aggregator.Store.Channels("gw-other"));
    }

    [Fact]
    public async Task A_subscriber_that_never_reads_has_its_queue_bounded_with_drops_counted_then_is_disconnected_while_readings_are_stored()
    {
        // A raw MQTT 3.1.1 client with a reader's rights (authentication is off here): CONNECT, SUBSCRIBE
        // iocedge/v1/+/readings QoS 1, then never reads its socket (4 KiB receive buffer).
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await slow.ConnectAsync(System.Net.IPAddress.Loopback, _aggregator.MqttPort);
        await slow.SendAsync(RawMqtt.Connect("slow-sub"));
        await slow.SendAsync(RawMqtt.Subscribe("iocedge/v1/+/readings"));
        await Task.Delay(200); // let the subscription land (the broker answers SUBACK into the unread socket)

        using var gateway = await ConnectAsync("gw-pub");
        const int messages = 1000, perMessage = 150; // ~15 KB each: 15 MB in all, far more than the socket buffers hold
        for (var m = 0; m < messages; m += 50)
        {
            var batch = await Task.WhenAll(Enumerable.Range(m, 50).Select(i =>
                PublishAsync(gateway, "iocedge/v1/gw-pub/readings", Readings("gw-pub", 1 + (i * (long)perMessage), perMessage))));
            Assert.All(batch, Stored);
        }

        // Readings kept flowing: every one stored.
        Assert.Equal(messages * perMessage, _aggregator.Store.Count());

        // Its queue (100 here, Aggregator:Mqtt:MaxPendingMessagesPerClient) shed the oldest, counted; once it had lost
        // a whole queue it was disconnected (MQTTnet keeps each dropped QoS 1 message in the session otherwise).
        Assert.InRange(_metrics.Sum("iocedge.mqtt.dropped"), 100, messages);
        Assert.Equal(_metrics.Sum("iocedge.mqtt.dropped"), _aggregator.Metrics.BrokerDropped);
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=slow_subscriber,stage=deliver"));

        // Draining the socket: far less than was published arrives, then the end (closed by the broker, not a timeout).
        long received = 0;
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            int n;
            while ((n = await slow.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                received += n;
            }
        }
        catch (SocketException)
        {
            // reset by the broker: also the end
        }

        Assert.False(cts.IsCancellationRequested, "the slow subscriber was never disconnected");
        Assert.InRange(received, 0, messages * 15_000L / 2);
    }
}

/// <summary>Hand-made MQTT 3.1.1 packets (MQTT 3.1.1 §3.1 CONNECT, §3.8 SUBSCRIBE) for a client that misbehaves on purpose.</summary>
internal static class RawMqtt
{
    public static byte[] Connect(string clientId)
    {
        var id = System.Text.Encoding.UTF8.GetBytes(clientId);
        byte[] body = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, (byte)(id.Length >> 8), (byte)id.Length, .. id];
        return [0x10, (byte)body.Length, .. body];
    }

    public static byte[] Subscribe(string filter)
    {
        var f = System.Text.Encoding.UTF8.GetBytes(filter);
        byte[] body = [0, 1, (byte)(f.Length >> 8), (byte)f.Length, .. f, 1];
        return [0x82, (byte)body.Length, .. body];
    }
}
