using System.Collections.Concurrent;
using System.Net;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Compact;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IocEdge.Edge.Tests.Forwarding;

/// <summary>
/// The forwarder's central promise (contract §4 "PUBACK after commit", §6 reason codes): a reading leaves the outbox
/// only after the PUBACK of ITS OWN message says success. A real MQTTnet server whose publish interceptor answers the
/// reason code a test chooses stands in for an aggregator that refuses: 0x80 unspecified error (a failed commit), 0x97
/// quota exceeded, 0x99 payload format invalid, or a connection closed with the PUBACK never sent.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class ForwarderPromiseTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("fwdpromise");
    private readonly int _port = FreePort.Next();
    private readonly ConcurrentQueue<long> _stored = new();
    private MqttServer _server = null!;
    private SqliteOutbox _outbox = null!;

    /// <summary>Decides the fate of one readings message: null = store it and answer success.</summary>
    private Func<InterceptingPublishEventArgs, Task>? _refuse;

    private int _messages;

    public async Task InitializeAsync()
    {
        _server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(_port)
            .Build());
        _server.InterceptingPublishAsync += async e =>
        {
            if (!e.ApplicationMessage.Topic.Contains("/readings", StringComparison.Ordinal))
            {
                return;
            }

            Interlocked.Increment(ref _messages);
            if (_refuse is { } refuse)
            {
                await refuse(e);
                if (!e.ProcessPublish)
                {
                    return;
                }
            }

            foreach (var seq in Sequences(e.ApplicationMessage))
            {
                _stored.Enqueue(seq);
            }
        };
        await _server.StartAsync();
        _outbox = new SqliteOutbox(_dir.File("outbox.db"));
    }

    public async Task DisposeAsync()
    {
        await _server.StopAsync();
        _server.Dispose();
        _outbox.Dispose();
        _dir.Dispose();
    }

    private static List<long> Sequences(MqttApplicationMessage m)
    {
        var payload = System.Buffers.BuffersExtensions.ToArray(m.Payload);
        if (m.Topic.EndsWith("/bin", StringComparison.Ordinal))
        {
            return CompactCodec.Decode(payload).Readings.Select(r => r.Sequence).ToList();
        }

        Assert.True(ReadingBatchJson.TryDecode(payload, "gw-promise", out var batch, out var error), error);
        return batch!.Readings.Select(r => r.Sequence).ToList();
    }

    private MqttForwarder Forwarder(int batchSize = 10, int maxInFlight = 4, MqttPayload payload = MqttPayload.Json, double backfill = 0) =>
        new(Options.Create(new GatewayOptions
        {
            Id = "gw-promise",
            DataDirectory = _dir.Path,
            Mqtt = new GatewayMqttOptions
            {
                Host = "127.0.0.1",
                Port = _port,
                BatchSize = batchSize,
                MaxInFlight = maxInFlight,
                Payload = payload,
                BackfillReadingsPerSecond = backfill,
                ReconnectDelayMin = TimeSpan.FromMilliseconds(50),
                ReconnectDelayMax = TimeSpan.FromMilliseconds(200),
                Timeout = TimeSpan.FromSeconds(5),
            },
        }), _outbox, TimeProvider.System, NullLogger<MqttForwarder>.Instance);

    private void Fill(int count) => _outbox.Append(Enumerable.Range(0, count)
        .Select(i => new Reading("aq/pm25", T0.AddSeconds(i), 10 + i, "ug/m3", Quality.Good)).ToArray());

    // Contract §6: 0x80 unspecified error (the aggregator could not commit) and 0x97 quota exceeded mean "not stored,
    // send again later": the readings must stay in the outbox and arrive once the aggregator accepts again.
    [Theory]
    [InlineData(MqttPubAckReasonCode.UnspecifiedError)]
    [InlineData(MqttPubAckReasonCode.QuotaExceeded)]
    [InlineData(MqttPubAckReasonCode.ImplementationSpecificError)]
    public async Task A_refused_batch_stays_in_the_outbox_and_is_sent_again(MqttPubAckReasonCode code)
    {
        Fill(100);
        _refuse = e =>
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = code;
            e.Response.ReasonString = "test refuses";
            return Task.CompletedTask;
        };
        using var forwarder = Forwarder();
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => forwarder.Refused >= 3, TimeSpan.FromSeconds(20), "three refusals");

        Assert.Equal(100, _outbox.Count); // nothing was acknowledged by a refusal
        Assert.Equal(0, forwarder.Forwarded);
        Assert.Equal(0, _outbox.DeadLetterCount());

        _refuse = null;
        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(20), "the outbox to drain once accepted");
        await forwarder.StopAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), _stored.Distinct().Order());
    }

    // Contract §6: 0x99 payload format invalid: resending cannot help, the batch is dead-lettered (kept, counted), and
    // the readings after it keep flowing.
    [Fact]
    public async Task A_batch_refused_as_malformed_is_dead_lettered_and_counted_and_the_rest_flows()
    {
        Fill(100);
        _refuse = e =>
        {
            if (Sequences(e.ApplicationMessage).Contains(25))
            {
                e.ProcessPublish = false;
                e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
                e.Response.ReasonString = "readings[4].unit: not in the vocabulary";
            }

            return Task.CompletedTask;
        };
        using var forwarder = Forwarder();
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(20), "the outbox to empty");
        await forwarder.StopAsync(CancellationToken.None);

        var dead = _outbox.DeadLetters().Select(d => d.Sequence).ToList();
        Assert.Equal(Enumerable.Range(21, 10).Select(i => (long)i), dead); // exactly the refused batch 21..30
        Assert.Equal(10, forwarder.DeadLetteredByAggregator);
        Assert.Equal(90, forwarder.Forwarded);
        Assert.DoesNotContain(25L, _stored);
    }

    // A connection closed while PUBACKs are outstanding: no PUBACK, no removal. The broker drops the connection on the
    // first two readings messages it sees; every reading of those messages must still be in the outbox afterwards.
    [Fact]
    public async Task A_connection_dropped_with_pubacks_in_flight_leaves_the_readings_in_the_outbox()
    {
        Fill(100);
        var dropped = new ConcurrentBag<long>();
        var drops = 0;
        var gate = new TaskCompletionSource();
        _refuse = async e =>
        {
            if (Interlocked.Increment(ref drops) <= 2)
            {
                foreach (var s in Sequences(e.ApplicationMessage))
                {
                    dropped.Add(s);
                }

                e.ProcessPublish = false;
                e.CloseConnection = true;
                return;
            }

            await gate.Task; // hold every later message until the test has looked at the outbox
        };
        using var forwarder = Forwarder();
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => Volatile.Read(ref drops) >= 3, TimeSpan.FromSeconds(20), "two dropped connections and a reconnect");

        var left = _outbox.Peek(1000).Select(r => r.Sequence).ToHashSet();
        Assert.NotEmpty(dropped);
        Assert.All(dropped, s => Assert.Contains(s, left));
        Assert.Equal(100, _outbox.Count); // nothing had a PUBACK yet

        _refuse = null;
        gate.SetResult();
        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(20), "the outbox to drain after the drops");
        await forwarder.StopAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), _stored.Distinct().Order());
    }

    // Several messages in flight (MaxInFlight), each acknowledged by its own PUBACK: a slow aggregator sees more than
    // one outstanding message, and every reading arrives once.
    [Fact]
    public async Task Several_messages_are_in_flight_and_each_is_acknowledged_by_its_own_puback()
    {
        Fill(400);
        _refuse = async _ => await Task.Delay(20);
        using var forwarder = Forwarder(batchSize: 10, maxInFlight: 8);
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(30), "the outbox to drain");
        await forwarder.StopAsync(CancellationToken.None);

        Assert.True(forwarder.MaxInFlightSeen > 1, $"at most {forwarder.MaxInFlightSeen} message(s) were in flight");
        Assert.True(forwarder.MaxInFlightSeen <= 8, $"{forwarder.MaxInFlightSeen} messages were in flight, more than MaxInFlight 8");
        Assert.Equal(400, forwarder.Forwarded);
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), _stored.Order());
    }

    // Contract §8: with Payload = Compact the readings go to …/readings/bin, encoded with CompactCodec, and decode to
    // exactly the sequences the outbox held.
    [Fact]
    public async Task Compact_payload_goes_to_the_bin_topic_and_decodes_to_the_same_readings()
    {
        Fill(50);
        var topics = new ConcurrentBag<string>();
        _refuse = e =>
        {
            topics.Add(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        using var forwarder = Forwarder(payload: MqttPayload.Compact);
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(20), "the outbox to drain");
        await forwarder.StopAsync(CancellationToken.None);
        Assert.All(topics, t => Assert.Equal("iocedge/v1/gw-promise/readings/bin", t));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), _stored.Order());
    }

    // Issue 14 "live first": link down 10 minutes at 1 Hz x 20 channels = 12 000 readings waiting. After reconnection
    // the newest readings are stored within 5 s (real time) while the backlog is still being backfilled (here at
    // 2 000 readings/s, so it takes about 6 s), and all 12 000 + the live ones arrive.
    [Fact]
    public async Task After_an_outage_live_readings_arrive_within_5_s_while_the_backlog_is_still_draining()
    {
        var now = DateTimeOffset.UtcNow;
        var backlog = new List<Reading>();
        for (var s = 0; s < 600; s++)
        {
            for (var c = 0; c < 20; c++)
            {
                backlog.Add(new Reading($"st/ch{c:D2}", now.AddSeconds(s - 600), s, "ug/m3", Quality.Good));
            }
        }

        _outbox.Append(backlog);
        Assert.Equal(12_000, _outbox.Count);
        using var forwarder = Forwarder(batchSize: 500, maxInFlight: 8, backfill: 2000);
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => forwarder.IsConnected && !_stored.IsEmpty, TimeSpan.FromSeconds(10), "the backfill to begin");

        var live = _outbox.Append(Enumerable.Range(0, 20).Select(c => new Reading($"st/ch{c:D2}", DateTimeOffset.UtcNow, 1, "ug/m3", Quality.Good)).ToArray());
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.True(() => _stored.Contains(live), TimeSpan.FromSeconds(5), "the live readings within 5 s");
        var storedWhenLive = _stored.Count;
        Assert.True(storedWhenLive < 12_000, $"the backlog had already drained ({storedWhenLive}) when the live readings arrived after {started.Elapsed}");

        await Eventually.True(() => _outbox.Count == 0, TimeSpan.FromSeconds(60), "the backlog to drain");
        await forwarder.StopAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 12_020).Select(i => (long)i), _stored.Distinct().Order());
        Assert.True(forwarder.LiveMessages >= 1 && forwarder.BackfillMessages >= 24);
    }

    // Contract §5.1: the status published on connect carries the health report: outbox depth, oldest reading, bytes on
    // the card, disk free of the data directory, clock state.
    [Fact]
    public async Task The_status_on_connect_carries_the_health_report()
    {
        Fill(30);
        var statuses = new ConcurrentQueue<GatewayStatus>();
        _server.InterceptingPublishAsync += e =>
        {
            if (e.ApplicationMessage.Topic == "iocedge/v1/gw-promise/status" &&
                GatewayStatusJson.TryDecode(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), "gw-promise", out var st, out _))
            {
                statuses.Enqueue(st!);
            }

            return Task.CompletedTask;
        };
        _refuse = async _ => await Task.Delay(Timeout.Infinite); // nothing is acknowledged: the depth stays 30
        using var forwarder = Forwarder();
        await forwarder.StartAsync(CancellationToken.None);
        await Eventually.True(() => !statuses.IsEmpty, TimeSpan.FromSeconds(10), "the birth status");
        var first = statuses.First();
        Assert.Equal(GatewayState.Online, first.State);
        Assert.Equal(30, first.OutboxPending);
        Assert.NotNull(first.Health);
        Assert.Equal(T0, first.Health!.OutboxOldest);
        Assert.True(first.Health.OutboxBytes > 0);
        Assert.True(first.Health.DiskFreeBytes > 0);
        Assert.Contains(first.Health.Clock, new[] { "synced", "unsynced", "unknown" });
        _refuse = null;
        await forwarder.StopAsync(CancellationToken.None);
    }
}
