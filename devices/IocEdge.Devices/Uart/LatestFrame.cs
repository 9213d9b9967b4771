using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;

namespace IocEdge.Devices;

/// <summary>
/// The newest value a self-reporting UART sensor sent, with the time it arrived. <see cref="RunAsync"/> reads
/// continuously (active mode) so that a channel polling every minute gets the current value rather than the oldest
/// frame waiting in the serial buffer; read failures are logged and reading goes on until cancelled or the port closes.
/// A frame's age is measured on the monotonic clock (<see cref="TimeProvider.GetTimestamp"/>): a wall-clock step (NTP
/// on a gateway without a real-time clock) neither makes a fresh frame look stale nor a stale one look fresh.
/// </summary>
internal sealed class LatestFrame<T>(string device, TimeProvider time, ILogger logger)
{
    private readonly Lock _gate = new();
    private (T Value, long ArrivedTimestamp)? _latest;

    public async Task RunAsync(Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var value = await read(cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _latest = (value, time.GetTimestamp());
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SensorException ex)
            {
                Log.ReadFailed(logger, device, ex.Message);
                if (ex.InnerException is EndOfStreamException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The newest value, if one arrived within <paramref name="maxAge"/>.</summary>
    public bool TryGet(TimeSpan maxAge, [MaybeNullWhen(false)] out T value)
    {
        (T Value, long ArrivedTimestamp)? latest;
        lock (_gate)
        {
            latest = _latest;
        }

        if (latest is { } l && time.GetElapsedTime(l.ArrivedTimestamp) <= maxAge)
        {
            value = l.Value;
            return true;
        }

        value = default;
        return false;
    }
}
