using IocEdge.Protocols.Mqtt;

namespace IocEdge.Edge.Sampling;

/// <summary>
/// Anything that produces readings: a Modbus link with its devices, a set of GPIO inputs, a bus sensor. The sampling
/// service runs every source and appends what it yields to the outbox. A source owns its schedule (on the
/// TimeProvider) and its hardware, and never throws for a device failure: it yields readings with a bad quality.
/// </summary>
public interface IReadingSource : IAsyncDisposable
{
    /// <summary>A name for logs ("modbus:rs485-1", "gpio").</summary>
    string Name { get; }

    /// <summary>The channel ids this source produces (for start-up checks and the technician's doctor).</summary>
    IReadOnlyList<string> Channels { get; }

    /// <summary>
    /// The longest gap between two batches in normal running (the slowest configured poll or report period). The
    /// systemd watchdog counts a source as hung after three of these without a batch (at least two minutes:
    /// <see cref="SamplingService.FindStalledSource"/>). Zero: no period of its own.
    /// </summary>
    TimeSpan ExpectedInterval => TimeSpan.Zero;

    /// <summary>Yields readings as they are taken, until cancelled.</summary>
    IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync(CancellationToken cancellationToken);
}
