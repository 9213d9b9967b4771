using System.Net;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator;

/// <summary>Configuration section "Aggregator" (appsettings.json, environment IOCEDGE_Aggregator__…, or command line).</summary>
public sealed class AggregatorOptions
{
    public const string Section = "Aggregator";

    /// <summary>Where the SQLite store lives. Created at start-up if missing.</summary>
    public string DataDirectory { get; set; } = "/var/lib/iocedge-aggregator";

    /// <summary>The HTTP API's listen URL(s), separated by ';'.</summary>
    public string HttpUrls { get; set; } = "http://0.0.0.0:8080";

    public MqttBrokerOptions Mqtt { get; set; } = new();

    public IngestOptions Ingest { get; set; } = new();

    public string DatabasePath => Path.Combine(DataDirectory, "aggregator.db");
}

public sealed class MqttBrokerOptions
{
    /// <summary>The embedded broker's TCP port (1883 is MQTT's registered port).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>The address the embedded broker binds to ("0.0.0.0" for every interface, "127.0.0.1" for this host only).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>
    /// Messages the broker may queue for one slow subscriber before it drops the oldest (MQTTnet's default is 250, which
    /// loses data under load: see ../shared/PEERS.md). Drops are counted in iocedge_broker_dropped_total.
    /// </summary>
    public int MaxPendingMessagesPerClient { get; set; } = 100_000;
}

public sealed class IngestOptions
{
    /// <summary>Most readings written in one transaction (group commit across gateways).</summary>
    public int MaxReadingsPerCommit { get; set; } = 20_000;

    /// <summary>Messages waiting for the store before publishers are held back (their PUBACK waits).</summary>
    public int QueueCapacity { get; set; } = 4_096;
}

/// <summary>Start-up validation: a bad value stops the service with the key and the fix.</summary>
internal sealed class AggregatorOptionsValidator : IValidateOptions<AggregatorOptions>
{
    public ValidateOptionsResult Validate(string? name, AggregatorOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            errors.Add("Aggregator:DataDirectory is empty: give a writable folder such as /var/lib/iocedge-aggregator.");
        }

        if (options.Mqtt.Port is < 0 or > 65535)
        {
            errors.Add($"Aggregator:Mqtt:Port is {options.Mqtt.Port}: use 1-65535 (1883 is MQTT's port; 0 picks a free one).");
        }

        if (!IPAddress.TryParse(options.Mqtt.BindAddress, out _))
        {
            errors.Add($"Aggregator:Mqtt:BindAddress '{options.Mqtt.BindAddress}' is not an IP address: use 0.0.0.0 or 127.0.0.1.");
        }

        if (options.Mqtt.MaxPendingMessagesPerClient < 1)
        {
            errors.Add("Aggregator:Mqtt:MaxPendingMessagesPerClient must be at least 1 (default 100000).");
        }

        if (options.Ingest.MaxReadingsPerCommit is < 1 or > 1_000_000)
        {
            errors.Add("Aggregator:Ingest:MaxReadingsPerCommit must be 1-1000000 (default 20000).");
        }

        if (options.Ingest.QueueCapacity < 1)
        {
            errors.Add("Aggregator:Ingest:QueueCapacity must be at least 1 (default 4096).");
        }

        foreach (var url in options.HttpUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("*", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri) ||
                uri.Scheme is not ("http" or "https"))
            {
                errors.Add($"Aggregator:HttpUrls contains '{url}': give URLs such as http://0.0.0.0:8080.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
