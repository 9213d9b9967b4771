namespace IocEdge.Protocols.Mqtt;

/// <summary>The quality that travels with every value (contract v1, "quality" field).</summary>
public enum Quality : byte
{
    /// <summary>Read from the device just now, and plausible.</summary>
    Good = 0,
    /// <summary>The last good value, repeated while the device has not been read again.</summary>
    Stale = 1,
    /// <summary>The link or the device did not answer; the value is absent.</summary>
    CommFailure = 2,
    /// <summary>The device answered with an error (Modbus exception, checksum, sensor fault); the value is absent.</summary>
    DeviceException = 3,
    /// <summary>
    /// The device answered, but with a code that is not a measurement: a raw word its profile declares as a sentinel
    /// ("no sensor", "not available", such as 0x8000 or 0x7FFF), a NaN or infinite float, or a driver's reset/error
    /// code. The value is absent. Added in contract v1.1 (README §4.2).
    /// </summary>
    Invalid = 4,
    /// <summary>
    /// A number was read but lies outside the point's declared valid range (the sensor's measuring range or a
    /// physical bound). The value travels so a technician can see it; it is not a measurement to use. Added in v1.1.
    /// </summary>
    OutOfRange = 5,
}

/// <summary>One measurement of one channel at one instant.</summary>
/// <param name="Channel">The channel id, "device/point" (see <see cref="Identifiers"/>).</param>
/// <param name="Timestamp">When the value was read, UTC.</param>
/// <param name="Value">The engineering value, or null when <paramref name="Quality"/> says there is none.</param>
/// <param name="Unit">The unit from the contract's vocabulary ("ug/m3", "degC", …).</param>
/// <param name="Quality">How far the value can be trusted.</param>
public readonly record struct Reading(string Channel, DateTimeOffset Timestamp, double? Value, string Unit, Quality Quality);

/// <summary>A reading with the sequence number its gateway's outbox gave it.</summary>
public readonly record struct SequencedReading(long Sequence, Reading Reading)
{
    /// <summary>
    /// True when the reading's timestamp came from a gateway clock that was not trusted (no NTP sync yet, or a time
    /// before the software's build date) and could not be corrected (contract §4.4, v1.2, JSON <c>"clock": "untrusted"</c>).
    /// The aggregator stores such a reading with ts_status <c>clock_untrusted</c>: kept, never a channel's latest value.
    /// </summary>
    public bool ClockUntrusted { get; init; }
}

/// <summary>
/// The readings of one MQTT message. (<see cref="GatewayId"/>, <see cref="StreamId"/>, sequence) identifies a reading
/// for ever: the aggregator stores it once whatever the number of deliveries.
/// </summary>
public sealed record ReadingBatch(string GatewayId, string StreamId, IReadOnlyList<SequencedReading> Readings);

/// <summary>Vocabulary of the <c>quality</c> field.</summary>
public static class QualityNames
{
    /// <summary>True for the qualities that carry a number (good, stale, out_of_range); the others carry null.</summary>
    public static bool CarriesValue(Quality quality) => quality is Quality.Good or Quality.Stale or Quality.OutOfRange;

    public static string ToWire(Quality quality) => quality switch
    {
        Quality.Good => "good",
        Quality.Stale => "stale",
        Quality.CommFailure => "comm_failure",
        Quality.DeviceException => "device_exception",
        Quality.Invalid => "invalid",
        Quality.OutOfRange => "out_of_range",
        _ => throw new ArgumentOutOfRangeException(nameof(quality), quality, "Not a contract quality."),
    };

    public static bool TryParse(ReadOnlySpan<byte> utf8, out Quality quality)
    {
        if (utf8.SequenceEqual("good"u8))
        {
            quality = Quality.Good;
        }
        else if (utf8.SequenceEqual("stale"u8))
        {
            quality = Quality.Stale;
        }
        else if (utf8.SequenceEqual("comm_failure"u8))
        {
            quality = Quality.CommFailure;
        }
        else if (utf8.SequenceEqual("device_exception"u8))
        {
            quality = Quality.DeviceException;
        }
        else if (utf8.SequenceEqual("invalid"u8))
        {
            quality = Quality.Invalid;
        }
        else if (utf8.SequenceEqual("out_of_range"u8))
        {
            quality = Quality.OutOfRange;
        }
        else
        {
            quality = default;
            return false;
        }

        return true;
    }
}
