using System.Diagnostics.Metrics;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Live;
using IocEdge.Aggregator.Storage;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// The API's instruments, on the meter <c>IocEdge.Aggregator.Api</c> (exported on /metrics with the ingest ones).
/// Prometheus names:
/// <list type="bullet">
/// <item><c>iocedge_gateway_health{gateway, field}</c> (gauge): each number of each gateway's latest health (contract §5).</item>
/// <item><c>iocedge_gateway_health_info{gateway, field, value}</c> (gauge, always 1): each string of it.</item>
/// <item><c>iocedge_api_stream_clients</c> (gauge): connected /api/v1/stream clients.</item>
/// <item><c>iocedge_api_stream_dropped_total</c>: events dropped for slow stream clients (each told with a <c>dropped</c> event).</item>
/// <item><c>iocedge_api_latest_channels</c> (gauge): channels in the last-value cache.</item>
/// <item><c>iocedge_store_unfolded_readings</c> (gauge) and <c>iocedge_store_backstop_folds_total</c> (SQLite store only, meter <c>IocEdge.Aggregator.Store</c>):
/// readings in the journal waiting for the fold, and commits that had to fold a backlog of 1,000,000 first.</item>
/// </list>
/// </summary>
public sealed class ApiMetrics
{
    /// <summary>The meter's name (under <see cref="IngestMetrics.MeterName"/>, so /metrics exports it).</summary>
    public const string MeterName = IngestMetrics.MeterName + ".Api";

    /// <summary>The SQLite store's meter (its journal and fold), made here with the API's: the store itself is built without DI.</summary>
    public const string StoreMeterName = IngestMetrics.MeterName + ".Store";

    public ApiMetrics(IMeterFactory meterFactory, IReadingStore store, LiveFeed live)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(live);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("iocedge_gateway_health", () => Healths(store).Numbers,
            description: "Latest health numbers each gateway reported in its status (contract §5).");
        meter.CreateObservableGauge("iocedge_gateway_health_info", () => Healths(store).Strings,
            description: "Latest health strings each gateway reported (value label), always 1.");
        meter.CreateObservableGauge("iocedge_api_stream_clients", () => live.Subscribers, description: "Connected /api/v1/stream clients.");
        meter.CreateObservableCounter("iocedge_api_stream_dropped", () => live.Dropped,
            description: "Events dropped for slow /api/v1/stream clients (each told with a 'dropped' event).");
        meter.CreateObservableGauge("iocedge_api_latest_channels", () => live.Cache.Count, description: "Channels in the last-value cache.");
        if (store is ReadingStore sqlite)
        {
            // The store's own meter, so that /metrics names it (otel_scope_name="IocEdge.Aggregator.Store").
            var storeMeter = meterFactory.Create(StoreMeterName);
            storeMeter.CreateObservableGauge("iocedge_store_unfolded_readings", () => sqlite.UnfoldedReadings,
                description: "Readings in the SQLite store's journal not yet folded into chunks (a fold runs every 10 s or at 250,000).");
            storeMeter.CreateObservableCounter("iocedge_store_backstop_folds", () => sqlite.BackstopFolds,
                description: "Commits that found 1,000,000 readings unfolded and folded them first (the fold fell behind; ingest paused).");
        }
    }

    private static (List<Measurement<double>> Numbers, List<Measurement<long>> Strings) Healths(IReadingStore store) =>
        StatusHealth.Measurements(store.Gateways().Where(g => g.Health is not null).Select(g => (g.Gateway, g.Health!)));
}
