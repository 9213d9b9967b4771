using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace IocEdge.Protocols.Mqtt;

/// <summary>
/// A bounded pool of the channel ids and units a decoder has already validated, so that the thousands of readings that
/// name the same few channels share one string each instead of allocating two strings per reading (issue 15: at
/// 250,000 readings/s those strings were a large part of the aggregator's garbage). Thread-safe.
/// </summary>
/// <remarks>
/// Only strings that passed the validation the pool was made with are added, so a string taken from the pool needs no
/// second check. The pool stops growing at <see cref="Capacity"/> entries (a gateway inventing ids cannot grow it
/// without bound: past it, each decoded string is allocated and validated as before); entries are never removed.
/// </remarks>
public sealed class IdentifierPool
{
    // Channel ids are at most Identifiers.MaxChannelIdLength (128) characters and units MaxUnitLength (16); a longer
    // value is never valid, so it is left to the validating slow path.
    private const int MaxPooledLength = 128;

    // Slots of the recently-read table below: a power of two, at most this many (32 KB of references).
    private const int MaxRecentSlots = 4096;

    private readonly ConcurrentDictionary<string, Entry> _strings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Func<string, bool> _isValid;

    // The pooled entries last read, found by a hash of their raw UTF-8 bytes: a hit needs no UTF-16 transcoding and no
    // dictionary lookup. Each slot holds null or an entry of _strings (so only validated strings), and a pair of slots
    // (i, i ^ 1) is searched, so two ids whose hashes meet do not evict each other. Lossy by design: a miss takes the
    // dictionary path, which then remembers the entry (no allocation: the entry and its bytes were made when pooled).
    private readonly Entry?[] _recent;
    private readonly int _recentShift;

    /// <param name="isValid">The validation a string must pass to be pooled (and that a pooled string has passed).</param>
    /// <param name="capacity">Most distinct strings kept (each about 120 bytes plus three times its length: the string, its bytes, an entry).</param>
    public IdentifierPool(Func<string, bool> isValid, int capacity)
    {
        ArgumentNullException.ThrowIfNull(isValid);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _isValid = isValid;
        Capacity = capacity;
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        var slots = (int)Math.Min(MaxRecentSlots, BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 2)) * 2);
        _recent = new Entry?[slots];
        _recentShift = 64 - BitOperations.Log2((uint)slots);
    }

    /// <summary>Channel ids (contract §2) of every decoder in the process; up to 16,384 (at most about 8 MB).</summary>
    public static IdentifierPool Channels { get; } = new(static s => Identifiers.IsValidChannelId(s), 16_384);

    /// <summary>Units (contract §4 vocabulary: printable ASCII, at most 16 characters) of every decoder; up to 4,096.</summary>
    public static IdentifierPool Units { get; } = new(static s => Identifiers.IsValidUnit(s), 4_096);

    /// <summary>Gateway ids (contract §2) seen by the aggregator's live feed; up to 16,384.</summary>
    public static IdentifierPool Gateways { get; } = new(static s => Identifiers.IsValidGatewayId(s), 16_384);

    /// <summary>Most distinct strings the pool keeps.</summary>
    public int Capacity { get; }

    /// <summary>Distinct strings pooled so far.</summary>
    public int Count => _strings.Count;

    /// <summary>
    /// The current JSON string token as a valid pooled string, or null when it is not a string or fails the pool's
    /// validation. Escaped or multi-segment tokens take the allocating path (still validated, pooled when valid).
    /// </summary>
    public string? Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return null;
        }

        if (!reader.ValueIsEscaped && !reader.HasValueSequence && reader.ValueSpan.Length <= MaxPooledLength)
        {
            var utf8 = reader.ValueSpan;
            var slot = Slot(utf8);
            var recent = Volatile.Read(ref _recent[slot]);
            if (recent is not null && utf8.SequenceEqual(recent.Utf8))
            {
                return recent.Value;
            }

            var other = Volatile.Read(ref _recent[slot ^ 1]);
            if (other is not null && utf8.SequenceEqual(other.Utf8))
            {
                return other.Value;
            }

            if (Lookup(utf8) is { } pooled)
            {
                if (pooled.Utf8 is not null)
                {
                    // Remember it where the next read looks first, in an empty slot of the pair if there is one.
                    Volatile.Write(ref _recent[recent is not null && other is null ? slot ^ 1 : slot], pooled);
                }

                return pooled.Value;
            }
        }

        return Add(reader.GetString()!);
    }

    // Apart from Read so that its 256-byte buffer is not zeroed on every read, only on the ones that miss the table.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Entry? Lookup(ReadOnlySpan<byte> utf8)
    {
        Span<char> chars = stackalloc char[MaxPooledLength];
        return Encoding.UTF8.TryGetChars(utf8, chars, out var n) && _lookup.TryGetValue(chars[..n], out var pooled) ? pooled : null;
    }

    /// <summary>Returns the pooled instance of <paramref name="value"/>, adding it when valid; null when not valid.</summary>
    public string? Add(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (_strings.TryGetValue(value, out var pooled))
        {
            return pooled.Value;
        }

        if (!_isValid(value))
        {
            return null;
        }

        return _strings.Count < Capacity ? _strings.GetOrAdd(value, static v => new Entry(v)).Value : value;
    }

    // Fibonacci hashing of the bytes eight at a time; the top bits of the last product (which depend on every byte) pick
    // the slot, rounded down to the first of its pair.
    private int Slot(ReadOnlySpan<byte> utf8)
    {
        const ulong Golden = 0x9E3779B97F4A7C15; // 2^64 / φ, rounded to odd (Knuth, TAOCP vol. 3, §6.4, multiplicative hashing)
        var h = (ulong)utf8.Length;
        while (utf8.Length >= 8)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(utf8)) * Golden;
            utf8 = utf8[8..];
        }

        ulong tail = 0;
        foreach (var b in utf8)
        {
            tail = (tail << 8) | b;
        }

        h = (h ^ tail) * Golden;
        return (int)(h >> _recentShift) & ~1;
    }

    /// <summary>
    /// A pooled string and, when it is ASCII (every id and unit the contract allows is), its bytes: the only UTF-8 spelling
    /// of it, so equal bytes mean the same string. Non-ASCII strings are never put in the recently-read table.
    /// </summary>
    private sealed class Entry(string value)
    {
        public string Value { get; } = value;

        public byte[]? Utf8 { get; } = Ascii.IsValid(value) ? Encoding.ASCII.GetBytes(value) : null;
    }
}
