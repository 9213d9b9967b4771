using System.Collections.Concurrent;
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

    private readonly ConcurrentDictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Func<string, bool> _isValid;

    /// <param name="isValid">The validation a string must pass to be pooled (and that a pooled string has passed).</param>
    /// <param name="capacity">Most distinct strings kept (each about 40 bytes plus twice its length).</param>
    public IdentifierPool(Func<string, bool> isValid, int capacity)
    {
        ArgumentNullException.ThrowIfNull(isValid);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _isValid = isValid;
        Capacity = capacity;
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Channel ids (contract §2) of every decoder in the process; up to 16,384 (at most about 5 MB).</summary>
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
            Span<char> chars = stackalloc char[MaxPooledLength];
            if (Encoding.UTF8.TryGetChars(reader.ValueSpan, chars, out var n) && _lookup.TryGetValue(chars[..n], out var pooled))
            {
                return pooled;
            }
        }

        return Add(reader.GetString()!);
    }

    /// <summary>Returns the pooled instance of <paramref name="value"/>, adding it when valid; null when not valid.</summary>
    public string? Add(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (_strings.TryGetValue(value, out var pooled))
        {
            return pooled;
        }

        if (!_isValid(value))
        {
            return null;
        }

        return _strings.Count < Capacity ? _strings.GetOrAdd(value, value) : value;
    }
}
