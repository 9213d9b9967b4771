using System;
using System.Collections.Generic;

namespace IocEdge.Protocols.Compact;

/// <summary>
/// The quality of a reading, numbered as on the wire (3 bits of the reading's head byte, contract §8.1). The numbers
/// and meanings are those of contract v1.1 §4 and §4.2 (<c>IocEdge.Protocols.Mqtt.Quality</c> uses the same numbers).
/// </summary>
public enum CompactQuality : byte
{
    /// <summary><c>good</c>: read just now and plausible; carries a value.</summary>
    Good = 0,
    /// <summary><c>stale</c>: the last good value repeated; carries a value.</summary>
    Stale = 1,
    /// <summary><c>comm_failure</c>: no answer; no value.</summary>
    CommFailure = 2,
    /// <summary><c>device_exception</c>: the device reported an error; no value.</summary>
    DeviceException = 3,
    /// <summary><c>invalid</c>: a sentinel word, NaN/infinity or reset code (§4.2); no value.</summary>
    Invalid = 4,
    /// <summary><c>out_of_range</c>: outside the point's valid range (§4.2); the value is kept.</summary>
    OutOfRange = 5,
}

/// <summary>One reading of a compact message, in the units of the contract (§4).</summary>
/// <param name="Sequence">Outbox sequence number, 1 to 2^53 (§4.1).</param>
/// <param name="Channel">Channel id (§2), such as <c>env1/pm2_5</c>.</param>
/// <param name="TimestampMs">When the value was read: milliseconds since 1970-01-01T00:00:00Z (UTC), within the
/// range of <see cref="DateTimeOffset"/> (<see cref="CompactFormat.MinTimestampMs"/> to <see cref="CompactFormat.MaxTimestampMs"/>).</param>
/// <param name="Value">The engineering value, a finite double; null exactly when the quality carries none.</param>
/// <param name="Unit">Unit (§2), such as <c>ug/m3</c>.</param>
/// <param name="Quality">The reading's quality.</param>
public readonly record struct CompactReading(long Sequence, string Channel, long TimestampMs, double? Value, string Unit, CompactQuality Quality);

/// <summary>
/// The content of one <c>iocedge/v1/{gateway}/readings/bin</c> message (the gateway id travels in the topic only).
/// </summary>
/// <param name="StreamId">The sender's stream id (§2, §4.1); at most 21 characters when <paramref name="BootEpoch"/> is not 0.</param>
/// <param name="BootEpoch">0 for a sender with a persistent outbox; otherwise the boot epoch (1 to 2^32-1) of a node
/// that restarts its sequence at every boot (§8.2). The aggregator's stream id is then <see cref="IdentityStreamId"/>.</param>
/// <param name="Readings">1 to 10 000 readings.</param>
public sealed record CompactBatch(string StreamId, uint BootEpoch, IReadOnlyList<CompactReading> Readings)
{
    /// <summary>
    /// The stream id under which the aggregator stores these readings (contract §8.2): <see cref="StreamId"/> itself for
    /// epoch 0, otherwise <c>{StreamId}e{BootEpoch}</c> in decimal, such as <c>node7e42</c>.
    /// </summary>
    public string IdentityStreamId => CompactFormat.IdentityStreamId(StreamId, BootEpoch);
}

/// <summary>A channel-table entry for <see cref="CompactWriter"/>: channel id, unit and the channel's resolution.</summary>
/// <param name="Channel">Channel id (§2).</param>
/// <param name="Unit">Unit (§2).</param>
/// <param name="Decimals">Decimal places of the channel's resolution, 0 to 9 (0.1 °C → 1); the value is carried as the
/// integer value × 10^Decimals when that is exact, otherwise as a float (§8.3).</param>
public readonly record struct CompactChannel(string Channel, string Unit, int Decimals);

/// <summary>Why a compact payload was refused: the byte offset where the fault was found and the field it belongs to.</summary>
/// <param name="Offset">0-based byte offset into the payload.</param>
/// <param name="Field">The field, named as in contract §8 (<c>header.stream</c>, <c>channels[3].unit</c>, <c>readings[12].value</c>).</param>
/// <param name="Reason">What is wrong, in words.</param>
public readonly record struct CompactError(int Offset, string Field, string Reason)
{
    /// <summary>"byte 12, readings[3].ts: ..." as used in the aggregator's warning and the PUBACK reason string.</summary>
    public override string ToString() => $"byte {Offset}, {Field}: {Reason}";
}

/// <summary>Thrown by <see cref="CompactCodec.Decode(byte[])"/> for a payload that breaks contract §8; the only exception decoding throws.</summary>
public sealed class CompactFormatException : FormatException
{
    public CompactFormatException()
    {
    }

    public CompactFormatException(string message)
        : base(message)
    {
    }

    public CompactFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal CompactFormatException(CompactError error)
        : base(error.ToString()) => Error = error;

    /// <summary>Offset, field and reason.</summary>
    public CompactError Error { get; }
}
