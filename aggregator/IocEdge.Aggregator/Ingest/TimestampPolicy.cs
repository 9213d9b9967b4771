namespace IocEdge.Aggregator.Ingest;

/// <summary>What the aggregator made of a reading's device timestamp (contract §4.3). Stored as <c>readings.ts_status</c>.</summary>
public enum TimestampStatus
{
    /// <summary>Within the tolerance around the receive time.</summary>
    Ok = 0,
    /// <summary>More than <see cref="TimestampOptions.MaxFuture"/> ahead of the receive time.</summary>
    Future = 1,
    /// <summary>More than <see cref="TimestampOptions.MaxAge"/> behind the receive time (and not before the floor).</summary>
    TooOld = 2,
    /// <summary>Before <see cref="TimestampOptions.Floor"/>: a clock that was never set.</summary>
    BeforeEpoch = 3,
    /// <summary>The gateway marked the timestamp as taken on a clock it did not trust (contract §4.4, <c>"clock": "untrusted"</c>).</summary>
    ClockUntrusted = 4,
}

/// <summary>The rule of contract §4.3: a device timestamp is judged against the aggregator's receive time.</summary>
public sealed class TimestampPolicy(TimestampOptions options)
{
    /// <summary>The defaults of <see cref="TimestampOptions"/>.</summary>
    public static TimestampPolicy Default { get; } = new(new TimestampOptions());

    /// <summary>Classifies <paramref name="timestamp"/> (device clock) against <paramref name="receivedAt"/> (aggregator clock).</summary>
    public TimestampStatus Classify(DateTimeOffset timestamp, DateTimeOffset receivedAt)
    {
        if (timestamp < options.Floor)
        {
            return TimestampStatus.BeforeEpoch;
        }

        if (timestamp > receivedAt + options.MaxFuture)
        {
            return TimestampStatus.Future;
        }

        return timestamp < receivedAt - options.MaxAge ? TimestampStatus.TooOld : TimestampStatus.Ok;
    }

    /// <summary>The wire and API name: <c>ok</c>, <c>future</c>, <c>too_old</c>, <c>before_epoch</c>, <c>clock_untrusted</c>.</summary>
    public static string ToWire(TimestampStatus status) => status switch
    {
        TimestampStatus.Ok => "ok",
        TimestampStatus.Future => "future",
        TimestampStatus.TooOld => "too_old",
        TimestampStatus.BeforeEpoch => "before_epoch",
        TimestampStatus.ClockUntrusted => "clock_untrusted",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Not a timestamp status."),
    };
}
