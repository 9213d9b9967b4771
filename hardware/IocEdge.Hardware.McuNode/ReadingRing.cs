using IocEdge.Protocols.Compact;

namespace IocEdge.Hardware.McuNode;

/// <summary>One reading held in the node's RAM (a value type: the ring is one preallocated array).</summary>
internal struct RingEntry
{
    public long Sequence;
    public int Channel;
    public long TimestampMs;
    public double Value;
    public CompactQuality Quality;
}

/// <summary>
/// A fixed-size FIFO of readings in RAM, as a microcontroller keeps them: preallocated, no allocation per reading, lost
/// on reboot. When full, the oldest reading is overwritten and counted (Telegraf's metric_buffer_limit rule: bounded,
/// visible, never silent).
/// </summary>
internal sealed class ReadingRing
{
    private readonly RingEntry[] _entries;
    private int _head;

    public ReadingRing(int capacity)
    {
        if (capacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A ring holds at least one reading.");
        }

        _entries = new RingEntry[capacity];
    }

    public int Capacity => _entries.Length;

    public int Count { get; private set; }

    /// <summary>Readings overwritten because the ring was full.</summary>
    public long Overwritten { get; private set; }

    public void Add(in RingEntry entry)
    {
        if (Count == _entries.Length)
        {
            _head = (_head + 1) % _entries.Length;
            Count--;
            Overwritten++;
        }

        _entries[(_head + Count) % _entries.Length] = entry;
        Count++;
    }

    /// <summary>The i-th oldest reading (0 = oldest).</summary>
    public ref readonly RingEntry this[int i] => ref _entries[(_head + i) % _entries.Length];

    /// <summary>Removes the <paramref name="n"/> oldest readings (acknowledged by the aggregator).</summary>
    public void RemoveOldest(int n)
    {
        n = Math.Min(n, Count);
        _head = (_head + n) % _entries.Length;
        Count -= n;
    }

    /// <summary>Forgets everything (what a reboot does to RAM); returns how many readings were held.</summary>
    public int Clear()
    {
        var lost = Count;
        _head = 0;
        Count = 0;
        return lost;
    }
}
