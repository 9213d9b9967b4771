using System.Text.Json;
using System.Threading.Channels;
using IocEdge.Aggregator.Api;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Live;

/// <summary>
/// One event of the live stream (GET /api/v1/stream): its id, SSE event type and JSON data. The JSON is written on
/// first use (by a subscriber), never in the ingest loop, and once whatever the number of subscribers.
/// </summary>
public sealed class LiveEvent
{
    private readonly object _payload;
    private string? _data;

    /// <param name="id">Monotonically increasing from 1 since the aggregator started (the SSE <c>id:</c> field); 0 for the stream's own events, which carry no id.</param>
    /// <param name="type"><c>reading</c>, <c>status</c>, or the stream's own <c>resync</c> and <c>dropped</c>.</param>
    /// <param name="gateway">The gateway the event is about (empty for the stream's own events).</param>
    /// <param name="channel">The channel of a reading event, null otherwise.</param>
    /// <param name="payload">One of the Stream*Dto records of ApiModels.cs: serialised as the event's data.</param>
    public LiveEvent(long id, string type, string gateway, string? channel, object payload)
    {
        Id = id;
        Type = type;
        Gateway = gateway;
        Channel = channel;
        _payload = payload;
    }

    public long Id { get; }

    public string Type { get; }

    public string Gateway { get; }

    public string? Channel { get; }

    /// <summary>The event's JSON (snake_case, like the rest of the API).</summary>
    public string Data => _data ??= _payload switch
    {
        StreamReadingDto r => JsonSerializer.Serialize(r, ApiJsonContext.Default.StreamReadingDto),
        StreamStatusDto s => JsonSerializer.Serialize(s, ApiJsonContext.Default.StreamStatusDto),
        StreamResyncDto r => JsonSerializer.Serialize(r, ApiJsonContext.Default.StreamResyncDto),
        StreamDroppedDto d => JsonSerializer.Serialize(d, ApiJsonContext.Default.StreamDroppedDto),
        _ => throw new InvalidOperationException("Not a stream payload: " + _payload.GetType().Name),
    };
}

/// <summary>
/// What happens after each commit: the ingest loop hands the committed readings and statuses here (one call per
/// commit, <see cref="Committed"/>); they update the <see cref="LatestCache"/> and become events of the live stream.
/// Events are kept in a bounded ring (<see cref="ReplayCapacity"/>, Aggregator:Api:StreamReplayEvents) so that a client can
/// resume with Last-Event-ID; each subscriber has a bounded queue (<see cref="QueueCapacity"/>,
/// Aggregator:Api:StreamClientQueue): a slow client never blocks ingest, its
/// overflow is dropped, counted (<see cref="Dropped"/>) and announced to it.
/// </summary>
public sealed class LiveFeed
{
    /// <summary>The default of <see cref="ReplayCapacity"/> (about 16 s at 4,000 readings/s).</summary>
    public const int RingCapacity = 65_536;

    /// <summary>The default of <see cref="QueueCapacity"/> (a client that reads keeps up easily).</summary>
    public const int ClientQueueCapacity = 4_096;

    // The replay ring: one slot per event, a struct, so that an event nobody is subscribed to costs no object (issue 15:
    // at 250,000 readings/s, two objects per reading kept for a quarter of a second were promoted out of gen0 and were a
    // large part of the aggregator's GC time). A slot keeps the reading's fields; its LiveEvent is made when a subscriber
    // takes it (at publish, or on a resume from Last-Event-ID).
    private readonly Slot[] _ring;
    private readonly Lock _lock = new();
    private readonly List<Subscriber> _subscribers = [];
    private readonly TimestampPolicy _timestamps;
    private readonly ILogger<LiveFeed> _logger;
    private readonly Dictionary<(string Gateway, string Stream), long> _highestSeq = [];
    private long _lastId;
    private long _dropped;

    /// <param name="store">Where the last-value cache is filled from at start.</param>
    /// <param name="options">The ring's and the subscribers' bounds.</param>
    /// <param name="logger">Where dropped events are logged.</param>
    /// <param name="time">The wall clock that places this run's event ids (<see cref="IdBase"/>); the system clock when null.</param>
    public LiveFeed(IReadingStore store, IOptions<AggregatorOptions> options, ILogger<LiveFeed> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        // Ids of this run start above every id of an earlier run: the start time in Unix ms × 1,000 (an earlier run would
        // need more than 1,000 events a millisecond over its whole life to reach it; still under 2^53 for JavaScript
        // clients until the year 2255). A Last-Event-ID below it is from before a restart and gets a resync.
        IdBase = Math.Max(0, (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds()) * 1_000;
        _lastId = IdBase;
        _timestamps = new TimestampPolicy(options.Value.Timestamps);
        _logger = logger;
        ReplayCapacity = options.Value.Api.StreamReplayEvents;
        QueueCapacity = options.Value.Api.StreamClientQueue;
        _ring = new Slot[ReplayCapacity];
        foreach (var l in store.Latest())
        {
            Cache.Offer(l);
        }
    }

    /// <summary>Events kept for resumption with Last-Event-ID (Aggregator:Api:StreamReplayEvents); older ids get a <c>resync</c> event.</summary>
    public int ReplayCapacity { get; }

    /// <summary>Events queued per subscriber before its overflow is dropped (Aggregator:Api:StreamClientQueue).</summary>
    public int QueueCapacity { get; }

    /// <summary>The last-value cache this feed keeps current.</summary>
    public LatestCache Cache { get; } = new();

    /// <summary>Events dropped for slow subscribers since start, all subscribers together.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The id before this run's first event: ids from an earlier run are below or at it.</summary>
    public long IdBase { get; }

    /// <summary>The id of the newest event (<see cref="IdBase"/> before the first).</summary>
    public long LastId
    {
        get
        {
            lock (_lock)
            {
                return _lastId;
            }
        }
    }

    /// <summary>Connected stream clients.</summary>
    public int Subscribers
    {
        get
        {
            lock (_lock)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>
    /// Called by the ingest loop after a successful commit, with the commit's batches, the store's result per batch,
    /// the statuses it recorded and its receive time. Never throws into the ingest loop (a failure here is logged: the
    /// readings are stored whatever the live feed does).
    /// </summary>
    public void Committed(IReadOnlyList<ReadingBatch> batches, IReadOnlyList<StoreResult> results, IEnumerable<GatewayStatus> statuses,
        DateTimeOffset receivedAt)
    {
        try
        {
            foreach (var s in statuses)
            {
                Publish("status", s.GatewayId, null, new StreamStatusDto(s.GatewayId,
                    s.State == GatewayState.Online ? "online" : "offline", s.Timestamp.UtcDateTime, receivedAt.UtcDateTime));
            }

            for (var b = 0; b < batches.Count && b < results.Count; b++)
            {
                Batch(batches[b], results[b], receivedAt);
            }
        }
#pragma warning disable CA1031 // the live feed must never stop the ingest loop that calls it
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.LiveFeedFailed(ex);
        }
    }

    private void Batch(ReadingBatch batch, StoreResult result, DateTimeOffset receivedAt)
    {
        if (result.Stored == 0)
        {
            return; // a redelivery: every reading was stored before and announced then
        }

        // A batch with both new and already stored readings (a resend overlapping what arrived): the store does not say
        // which is which, so only readings past the highest sequence announced for the stream are taken as new.
        var key = (batch.GatewayId, batch.StreamId);
        long highest;
        lock (_lock)
        {
            highest = result.Duplicates == 0 ? long.MinValue : _highestSeq.GetValueOrDefault(key, long.MinValue);
        }

        // One string per gateway for the ring's slots (the batch's id is a new string per message).
        var gateway = IdentifierPool.Gateways.Add(batch.GatewayId) ?? batch.GatewayId;
        var max = long.MinValue;
        // The cache is offered each channel's newest reading of the batch once (LatestCache.IsNewer, the rule Offer
        // applies), not every reading: a backlog message of 500 readings over 20 channels is 20 offers.
        var newest = new Dictionary<string, int>(StringComparer.Ordinal);
        var readings = batch.Readings;
        for (var i = 0; i < readings.Count; i++)
        {
            var (seq, r) = readings[i];
            max = Math.Max(max, seq);
            if (seq <= highest)
            {
                continue;
            }

            var tsStatus = _timestamps.Classify(r.Timestamp, receivedAt);
            if (tsStatus == TimestampStatus.Ok) // a flagged clock never reaches the latest values (contract §4.3)
            {
                ref var at = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(newest, r.Channel, out var had);
                if (!had || LatestCache.IsNewer(r.Timestamp, seq, readings[at].Reading.Timestamp, readings[at].Sequence))
                {
                    at = i;
                }
            }

            PublishReading(gateway, r, seq, tsStatus, receivedAt);
        }

        foreach (var i in newest.Values)
        {
            var (seq, r) = readings[i];
            Cache.Offer(new LatestReading(batch.GatewayId, r.Channel, r.Timestamp, r.Value, r.Unit, r.Quality, seq, receivedAt));
        }

        lock (_lock)
        {
            if (max > _highestSeq.GetValueOrDefault(key, long.MinValue))
            {
                _highestSeq[key] = max;
            }
        }
    }

    private void Publish(string type, string gateway, string? channel, object payload)
    {
        lock (_lock)
        {
            var e = new LiveEvent(++_lastId, type, gateway, channel, payload);
            _ring[e.Id % ReplayCapacity] = new Slot { Id = e.Id, Gateway = gateway, Channel = channel, Event = e };
            Deliver(e);
        }
    }

    private void PublishReading(string gateway, Reading r, long seq, TimestampStatus tsStatus, DateTimeOffset receivedAt)
    {
        lock (_lock)
        {
            var id = ++_lastId;
            ref var slot = ref _ring[id % ReplayCapacity];
            slot = new Slot
            {
                Id = id, Gateway = gateway, Channel = r.Channel, Unit = r.Unit, Timestamp = r.Timestamp.UtcDateTime, Value = r.Value,
                Quality = r.Quality, Sequence = seq, TsStatus = tsStatus, ReceivedAt = receivedAt.UtcDateTime,
            };
            if (_subscribers.Count > 0)
            {
                // Made once for every subscriber (its JSON is written once), and kept in the slot for a later resume.
                slot.Event = slot.ToEvent();
                Deliver(slot.Event);
            }
        }
    }

    private void Deliver(LiveEvent e)
    {
        foreach (var s in _subscribers)
        {
            if (s.Matches(e) && !s.Queue.Writer.TryWrite(e))
            {
                s.Lost++;
                _dropped++;
            }
        }
    }

    private struct Slot
    {
        public long Id;
        public string Gateway;
        public string? Channel;
        public string? Unit;
        public DateTime Timestamp;
        public DateTime ReceivedAt;
        public double? Value;
        public long Sequence;
        public Quality Quality;
        public TimestampStatus TsStatus;
        public LiveEvent? Event;

        public readonly LiveEvent ToEvent() => Event ?? new LiveEvent(Id, "reading", Gateway, Channel, new StreamReadingDto(Gateway,
            Channel!, Timestamp, Value, Unit!, QualityNames.ToWire(Quality), Sequence, TimestampPolicy.ToWire(TsStatus), ReceivedAt));
    }

    /// <summary>
    /// Subscribes to events of <paramref name="gateway"/> (all when null) whose channel starts with
    /// <paramref name="channelPrefix"/> (readings only; statuses of the gateway always), resuming after
    /// <paramref name="lastEventId"/> when given. Yields until <paramref name="cancellationToken"/> is cancelled (the
    /// client went away). A <c>resync</c> event comes first when events after that id are no longer in the ring (or
    /// the id is from before a restart); a <c>dropped</c> event when this client fell behind and lost events.
    /// </summary>
    public async IAsyncEnumerable<LiveEvent> SubscribeAsync(string? gateway, string? channelPrefix, long? lastEventId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sub = new Subscriber(gateway, channelPrefix, QueueCapacity);
        var backlog = new List<LiveEvent>();
        LiveEvent? resync = null;
        lock (_lock)
        {
            if (lastEventId is { } after)
            {
                var oldest = Math.Max(IdBase + 1, _lastId - ReplayCapacity + 1);
                if (after > _lastId || after < oldest - 1)
                {
                    resync = new LiveEvent(0, "resync", string.Empty, null,
                        new StreamResyncDto(after, oldest, "events after this id are no longer kept: re-read /api/v1/latest or /api/v1/history, then follow this stream"));
                }

                for (var id = Math.Max(after + 1, oldest); id <= _lastId; id++)
                {
                    ref var slot = ref _ring[id % ReplayCapacity];
                    if (slot.Id == id && sub.Matches(slot.Gateway, slot.Channel))
                    {
                        backlog.Add(slot.Event ??= slot.ToEvent());
                    }
                }
            }

            _subscribers.Add(sub);
        }

        try
        {
            if (resync is not null)
            {
                yield return resync;
            }

            foreach (var e in backlog)
            {
                yield return e;
            }

            long announced = 0;
            while (await sub.Queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (sub.Queue.Reader.TryRead(out var e))
                {
                    long lost;
                    lock (_lock)
                    {
                        lost = sub.Lost;
                    }

                    if (lost > announced)
                    {
                        yield return new LiveEvent(0, "dropped", string.Empty, null,
                            new StreamDroppedDto(lost - announced, lost, "this client fell behind: events were dropped; re-read /api/v1/latest or /api/v1/history for the gap"));
                        announced = lost;
                    }

                    yield return e;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _subscribers.Remove(sub);
            }
        }
    }

    private sealed class Subscriber(string? gateway, string? channelPrefix, int capacity)
    {
        public Channel<LiveEvent> Queue { get; } = Channel.CreateBounded<LiveEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of waiting: the overflow is counted
        });

        /// <summary>Events dropped for this subscriber (guarded by the feed's lock).</summary>
        public long Lost { get; set; }

        public bool Matches(LiveEvent e) => Matches(e.Gateway, e.Channel);

        public bool Matches(string eventGateway, string? eventChannel) =>
            (gateway is null || string.Equals(eventGateway, gateway, StringComparison.Ordinal)) &&
            (channelPrefix is null || eventChannel is null || eventChannel.StartsWith(channelPrefix, StringComparison.Ordinal));
    }
}
