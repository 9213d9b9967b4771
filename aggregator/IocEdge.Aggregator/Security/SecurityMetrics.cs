using System.Diagnostics.Metrics;

namespace IocEdge.Aggregator.Security;

/// <summary>
/// The security and bounds counters, as <see cref="System.Diagnostics.Metrics"/> instruments on the meter
/// <see cref="MeterName"/> (created through <see cref="IMeterFactory"/>, so each host has its own and an OpenTelemetry or
/// Prometheus exporter that listens to that name collects them):
/// <list type="bullet">
/// <item><c>iocedge.mqtt.refusals{stage, reason}</c>: CONNECTs, SUBSCRIBEs and PUBLISHes the embedded broker refused for
/// security or bounds (stage <c>connect</c>/<c>subscribe</c>/<c>publish</c>; reasons in <see cref="Reasons"/>).</item>
/// <item><c>iocedge.mqtt.dropped</c>: messages dropped from a slow subscriber's full queue (the oldest goes).</item>
/// <item><c>iocedge.http.refusals{reason}</c>: API calls refused: <c>no_key</c>, <c>bad_key</c> (401), <c>scope</c> (403).</item>
/// </list>
/// </summary>
public sealed class SecurityMetrics
{
    /// <summary>The meter name exporters subscribe to.</summary>
    public const string MeterName = "IocEdge.Aggregator";

    private readonly Counter<long> _mqtt;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _http;

    public SecurityMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(MeterName);
        _mqtt = Meter.CreateCounter<long>("iocedge.mqtt.refusals", "{refusal}", "MQTT CONNECT/SUBSCRIBE/PUBLISH refused for security or bounds, by stage and reason");
        _dropped = Meter.CreateCounter<long>("iocedge.mqtt.dropped", "{message}", "Messages dropped from a slow subscriber's full queue (oldest first)");
        _http = Meter.CreateCounter<long>("iocedge.http.refusals", "{request}", "HTTP API calls refused: no_key/bad_key (401), scope (403)");
    }

    /// <summary>The meter (tests listen to this exact instance).</summary>
    public Meter Meter { get; }

    public void MqttRefused(string stage, string reason) =>
        _mqtt.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("reason", reason));

    public void Dropped() => _dropped.Add(1);

    public void HttpRefused(string reason) => _http.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>The reason labels (a closed set: client input never becomes a label).</summary>
    public static class Reasons
    {
        public const string Anonymous = "anonymous";
        public const string BadCredentials = "bad_credentials";
        public const string ClientId = "client_id";
        public const string Certificate = "certificate";
        public const string NotAuthorized = "not_authorized";
        public const string TooLarge = "too_large";
        public const string TooManyReadings = "too_many_readings";
        public const string TooManyNewSeries = "too_many_new_series";
        public const string SeriesCap = "series_cap";
        public const string Retained = "retained";
        public const string Will = "will";
        public const string SlowSubscriber = "slow_subscriber";

        /// <summary>A gateway revoked in the registry (issue 16) tried to connect.</summary>
        public const string Revoked = "revoked";
    }
}
