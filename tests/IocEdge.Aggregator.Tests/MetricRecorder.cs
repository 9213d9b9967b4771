using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace IocEdge.Aggregator.Tests;

/// <summary>Listens to one <see cref="Meter"/> instance (the host's own, so parallel tests do not mix) and sums each counter by its tags.</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new(StringComparer.Ordinal);

    public MetricRecorder(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name + "{" + string.Join(",", tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}")) + "}";
            _sums.AddOrUpdate(key, value, (_, old) => old + value);
        });
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="name"/> with exactly these tags, such as ("iocedge.mqtt.refusals", "reason=anonymous,stage=connect").</summary>
    public long Sum(string name, string tags = "") => _sums.GetValueOrDefault(name + "{" + tags + "}");

    public void Dispose() => _listener.Dispose();
}
