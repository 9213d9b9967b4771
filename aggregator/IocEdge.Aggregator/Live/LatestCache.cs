using System.Collections.Concurrent;
using IocEdge.Aggregator.Storage;

namespace IocEdge.Aggregator.Live;

/// <summary>
/// The in-memory last-value cache behind GET /api/v1/latest: one entry per (gateway, channel), seeded from the store at
/// start and offered every reading after its commit. An entry only moves forward: a reading replaces it when its device
/// timestamp is newer, or equal with a higher sequence (the same rule as the store's <c>series</c> row, so cache and
/// store agree). Readings whose device timestamp was flagged (contract §4.3) are never offered.
/// </summary>
/// <remarks>
/// Reads are lock-free on the values; the ordered key list (for paging in (gateway, channel) order) is rebuilt only
/// when a new channel appeared since the last read, which is rare once a station runs. Each value carries a slot for its
/// rendered form (<see cref="Entry.Rendered"/>): the API serialises a value once, on its first read, and every later
/// response that includes it copies the bytes (issue 15: <c>latest</c> for 1,000 channels at 50 concurrent requests).
/// </remarks>
public sealed class LatestCache
{
    private readonly ConcurrentDictionary<SeriesKey, Entry> _values = new();
    private long _revision;
    private readonly Lock _keysLock = new();
    private SeriesKey[] _sorted = [];
    private volatile bool _keysChanged;

    /// <summary>
    /// This cache's instance tag (64 random bits, hex): with <see cref="Entry.Revision"/> it names a state of the cache
    /// that no other process or instance can have named, so an entity tag made of them (GET /api/v1/latest) never
    /// matches one from before a restart.
    /// </summary>
    public string Epoch { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    /// <summary>How many channels have a latest value.</summary>
    public int Count => _values.Count;

    /// <summary>
    /// Offers <paramref name="reading"/>; returns true when it became the channel's latest value (newer device timestamp,
    /// or the same timestamp with a higher sequence). Thread-safe; an older or equal reading changes nothing.
    /// </summary>
    public bool Offer(LatestReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        var key = new SeriesKey(reading.Gateway, reading.Channel);
        while (true)
        {
            if (!_values.TryGetValue(key, out var current))
            {
                if (_values.TryAdd(key, new Entry(reading, Interlocked.Increment(ref _revision))))
                {
                    _keysChanged = true;
                    return true;
                }

                continue;
            }

            if (!IsNewer(reading, current.Reading))
            {
                return false;
            }

            if (_values.TryUpdate(key, new Entry(reading, Interlocked.Increment(ref _revision)), current))
            {
                return true;
            }
        }
    }

    /// <summary>The latest value of one channel, or null when it has none.</summary>
    public LatestReading? Get(string gateway, string channel) =>
        _values.TryGetValue(new SeriesKey(gateway, channel), out var e) ? e.Reading : null;

    /// <summary>
    /// One page of latest values in (gateway, channel) ordinal order: of <paramref name="gateway"/> when given, whose
    /// channel starts with <paramref name="channelPrefix"/> when given, strictly after <paramref name="after"/> when
    /// given (the previous page's last key), at most <paramref name="limit"/>. <c>More</c> is true when entries remain.
    /// O(log n + page).
    /// </summary>
    public (IReadOnlyList<Entry> Page, bool More) Page(string? gateway, string? channelPrefix, SeriesKey? after, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var keys = SortedKeys();
        var start = new SeriesKey(gateway ?? string.Empty, gateway is null ? string.Empty : channelPrefix ?? string.Empty);
        if (after is { } a && SeriesKey.Comparer.Compare(a, start) >= 0)
        {
            start = a;
        }

        var i = Array.BinarySearch(keys, start, SeriesKey.Comparer);
        i = i < 0 ? ~i : after is not null && SeriesKey.Comparer.Compare(keys[i], after.Value) == 0 ? i + 1 : i;
        var page = new List<Entry>(Math.Min(limit, 1024));
        for (; i < keys.Length; i++)
        {
            var k = keys[i];
            if (gateway is not null && !string.Equals(k.Gateway, gateway, StringComparison.Ordinal))
            {
                break; // sorted by gateway first: nothing of this gateway follows
            }

            if (channelPrefix is not null && !k.Channel.StartsWith(channelPrefix, StringComparison.Ordinal))
            {
                if (gateway is not null && string.CompareOrdinal(k.Channel, channelPrefix) > 0)
                {
                    break; // past every channel with this prefix
                }

                continue;
            }

            if (page.Count == limit)
            {
                return (page, true);
            }

            if (_values.TryGetValue(k, out var e))
            {
                page.Add(e);
            }
        }

        return (page, false);
    }

    /// <summary>
    /// One channel's latest value as the cache holds it: the reading, and the form a reader rendered it in (for the API,
    /// its JSON object in UTF-8; about 180 bytes a channel, kept until the next value replaces the entry).
    /// </summary>
    public sealed class Entry(LatestReading reading, long revision)
    {
        private byte[]? _rendered;

        /// <summary>The channel's latest reading.</summary>
        public LatestReading Reading { get; } = reading;

        /// <summary>
        /// When this value entered the cache: a counter of this cache instance, increasing with every value it takes
        /// (any channel). The largest revision of a page (and its count) changes whenever one of its values is replaced
        /// or a channel joins it, as entries are never removed.
        /// </summary>
        public long Revision { get; } = revision;

        /// <summary>
        /// The reading rendered by <paramref name="render"/>, computed on the first call and kept. Two readers racing may
        /// both render; the results are equal, so either is kept. <paramref name="render"/> must be the same function on
        /// every call (one cache serves one API).
        /// </summary>
        public byte[] Rendered(Func<LatestReading, byte[]> render)
        {
            ArgumentNullException.ThrowIfNull(render);
            return Volatile.Read(ref _rendered) ?? (_rendered = render(Reading));
        }
    }

    internal static bool IsNewer(LatestReading candidate, LatestReading current) =>
        IsNewer(candidate.Timestamp, candidate.Sequence, current.Timestamp, current.Sequence);

    /// <summary>The same rule on a reading's device timestamp and sequence (the live feed picks a batch's newest with it).</summary>
    internal static bool IsNewer(DateTimeOffset timestamp, long sequence, DateTimeOffset thanTimestamp, long thanSequence) =>
        timestamp > thanTimestamp || (timestamp == thanTimestamp && sequence > thanSequence);

    private SeriesKey[] SortedKeys()
    {
        if (!_keysChanged)
        {
            return Volatile.Read(ref _sorted);
        }

        lock (_keysLock)
        {
            if (_keysChanged)
            {
                _keysChanged = false;
                var keys = _values.Keys.ToArray();
                Array.Sort(keys, SeriesKey.Comparer);
                Volatile.Write(ref _sorted, keys);
            }

            return _sorted;
        }
    }
}

/// <summary>A channel's identity: gateway id and channel id (contract §2), ordered ordinally, gateway first.</summary>
public readonly record struct SeriesKey(string Gateway, string Channel)
{
    /// <summary>Ordinal order by gateway, then channel.</summary>
    public static IComparer<SeriesKey> Comparer { get; } = Comparer<SeriesKey>.Create(static (x, y) =>
    {
        var c = string.CompareOrdinal(x.Gateway, y.Gateway);
        return c != 0 ? c : string.CompareOrdinal(x.Channel, y.Channel);
    });
}
