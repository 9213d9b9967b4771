using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace IocEdge.Aggregator;

/// <summary>
/// Checks the whole "Aggregator" configuration section before anything is opened or bound: unknown keys, values of the
/// wrong type and values out of range, each as one line naming the full key path, where it came from (file,
/// environment variable or command line), what is wrong and the fix. All problems are returned at once.
/// </summary>
public static class ConfigCheck
{
    // Every key the aggregator reads, with its type (the binder's view of AggregatorOptions).
    private static readonly Dictionary<string, Type> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        ["DataDirectory"] = typeof(string),
        ["HttpUrls"] = typeof(string),
        ["Mqtt:Port"] = typeof(int),
        ["Mqtt:BindAddress"] = typeof(string),
        ["Mqtt:MaxPendingMessagesPerClient"] = typeof(int),
        ["Mqtt:Authentication"] = typeof(string),
        ["Mqtt:ConnectTimeout"] = typeof(TimeSpan),
        ["Mqtt:MaxPacketSize"] = typeof(int),
        ["Mqtt:Tls:Port"] = typeof(int),
        ["Mqtt:Tls:CertificatePath"] = typeof(string),
        ["Mqtt:Tls:KeyPath"] = typeof(string),
        ["Mqtt:Tls:CertificatePassword"] = typeof(string),
        ["Mqtt:Tls:ClientCaPath"] = typeof(string),
        ["Bounds:MaxReadingsPerMessage"] = typeof(int),
        ["Bounds:MaxNewSeriesPerMessage"] = typeof(int),
        ["Bounds:MaxSeriesPerGateway"] = typeof(int),
        ["Api:Authentication"] = typeof(string),
        ["Api:ReadKeyHashes"] = typeof(string),
        ["Api:AdminKeyHashes"] = typeof(string),
        ["Api:MaxItemsPerResponse"] = typeof(int),
        ["Api:DefaultPageSize"] = typeof(int),
        ["Api:MaxHistoryRange"] = typeof(TimeSpan),
        ["Api:StreamReplayEvents"] = typeof(int),
        ["Api:StreamClientQueue"] = typeof(int),
        ["Ingest:MaxReadingsPerCommit"] = typeof(int),
        ["Ingest:QueueCapacity"] = typeof(int),
        ["Timestamps:MaxFuture"] = typeof(TimeSpan),
        ["Timestamps:MaxAge"] = typeof(TimeSpan),
        ["Timestamps:Floor"] = typeof(DateTimeOffset),
        ["ExternalBroker:Host"] = typeof(string),
        ["ExternalBroker:Port"] = typeof(int),
        ["ExternalBroker:ClientId"] = typeof(string),
        ["ExternalBroker:SharedGroup"] = typeof(string),
        ["ExternalBroker:Username"] = typeof(string),
        ["ExternalBroker:Password"] = typeof(string),
        ["ExternalBroker:Tls"] = typeof(string),
        ["ExternalBroker:ReceiveMaximum"] = typeof(int),
        ["ExternalBroker:SessionExpiry"] = typeof(TimeSpan),
        ["ExternalBroker:ReconnectMaxDelay"] = typeof(TimeSpan),
        ["Store:Engine"] = typeof(string),
        ["Store:ConnectionString"] = typeof(string),
        ["Store:WriteConnections"] = typeof(int),
        ["Store:RetainRawDays"] = typeof(int),
        ["Store:RetainMinuteRollupDays"] = typeof(int),
        ["Store:RetainHourRollupDays"] = typeof(int),
        ["Enrolment:BrokerHost"] = typeof(string),
        ["Enrolment:TokenLifetime"] = typeof(TimeSpan),
        ["Enrolment:CaCertificatePath"] = typeof(string),
        ["Enrolment:CaKeyPath"] = typeof(string),
        ["Enrolment:CertificateLifetime"] = typeof(TimeSpan),
    };

    /// <summary>Every configuration key, for --help.</summary>
    public static IEnumerable<string> KnownKeys => Known.Keys.Select(k => AggregatorOptions.Section + ":" + k);

    /// <summary>Command-line words that are not options ("iocedge-aggregator 1883"): the configuration reader ignores them.</summary>
    public static IReadOnlyList<string> CheckArguments(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var errors = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith('-'))
            {
                errors.Add($"argument '{args[i]}' (command line) is not an option: write --Aggregator:Key=value, such as --Aggregator:Mqtt:Port=1883.");
            }
            else if (!args[i].Contains('=', StringComparison.Ordinal))
            {
                i++; // "--key value": the next word is the value
            }
        }

        return errors;
    }

    /// <summary>Returns one line per problem; empty when the configuration can be used.</summary>
    public static IReadOnlyList<string> Check(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        var section = configuration.GetSection(AggregatorOptions.Section);
        foreach (var (path, value) in section.AsEnumerable(makePathsRelative: true).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var full = AggregatorOptions.Section + ":" + path;
            if (value is null)
            {
                // A section (Mqtt, Ingest, Timestamps) or an unknown one: its leaves are checked one by one.
                if (!Known.Keys.Any(k => k.StartsWith(path + ":", StringComparison.OrdinalIgnoreCase)) &&
                    !section.GetSection(path).GetChildren().Any())
                {
                    errors.Add($"{full}{Source(configuration, full)} is not a known key: {Suggest(path)}");
                }

                continue;
            }

            if (!Known.TryGetValue(path, out var type))
            {
                if (!Known.Keys.Any(k => k.StartsWith(path + ":", StringComparison.OrdinalIgnoreCase)))
                {
                    errors.Add($"{full}{Source(configuration, full)} is not a known key: {Suggest(path)}");
                }
                else
                {
                    errors.Add($"{full}{Source(configuration, full)} is a section, not a value: set its keys, such as {AggregatorOptions.Section}:{Known.Keys.First(k => k.StartsWith(path + ":", StringComparison.OrdinalIgnoreCase))}.");
                }

                continue;
            }

            if (!Parses(type, value))
            {
                errors.Add($"{full}{Source(configuration, full)} is '{value}', not {Describe(type)}.");
            }
        }

        if (configuration is IConfigurationRoot root)
        {
            // The command line is read twice (by the host, and again over the configuration file: ConfigurationFiles):
            // each unknown top-level key once. "config" is --config FILE.
            foreach (var top in root.Providers.OfType<CommandLineConfigurationProvider>().SelectMany(p => p.GetChildKeys([], null))
                         .Distinct(StringComparer.OrdinalIgnoreCase))
            {
                if (!top.Equals(AggregatorOptions.Section, StringComparison.OrdinalIgnoreCase) &&
                    !top.Equals("Logging", StringComparison.OrdinalIgnoreCase) &&
                    !top.Equals("config", StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"--{top} (command line) is not an option: settings are --Aggregator:Key=value " +
                        $"(such as --Aggregator:Mqtt:Port=1883) or --Logging:LogLevel:Default=Debug; see --help.");
                }
            }
        }

        // Range checks on every value that parsed (one of the wrong type is already reported and cannot be bound).
        var usable = section.AsEnumerable(makePathsRelative: true)
            .Where(p => p.Value is not null && Known.TryGetValue(p.Key, out var t) && Parses(t, p.Value))
            .Select(p => new KeyValuePair<string, string?>(p.Key, p.Value));
        var options = new AggregatorOptions();
        new ConfigurationBuilder().AddInMemoryCollection(usable).Build().Bind(options);
        var retention = new Storage.StoreRetentionOptions();
        new ConfigurationBuilder().AddInMemoryCollection(usable).Build().GetSection("Store").Bind(retention);
        var result = new AggregatorOptionsValidator().Validate(null, options);
        foreach (var failure in (result.Failed ? result.Failures ?? [] : []).Concat(retention.Validate()))
        {
            var key = failure.Split(' ', 2)[0];
            errors.Add(failure.Insert(key.Length, Source(configuration, key)));
        }

        return errors;
    }

    private static bool Parses(Type type, string value) =>
        type == typeof(int) ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
        : type == typeof(TimeSpan) ? TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out _)
        : type != typeof(DateTimeOffset) || DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    private static string Describe(Type type) =>
        type == typeof(int) ? "a whole number: write digits only, such as 1883"
        : type == typeof(TimeSpan) ? "a duration: write [d.]hh:mm:ss, such as 00:05:00 for five minutes or 366.00:00:00 for 366 days"
        : "a UTC instant: write it as 2020-01-01T00:00:00Z";

    private static string Suggest(string path)
    {
        var best = Known.Keys.MinBy(k => IocEdge.Protocols.Mqtt.Identifiers.EditDistance(k.ToUpperInvariant(), path.ToUpperInvariant()))!;
        return IocEdge.Protocols.Mqtt.Identifiers.EditDistance(best.ToUpperInvariant(), path.ToUpperInvariant()) <= 3
            ? $"did you mean {AggregatorOptions.Section}:{best}? (the keys are listed by iocedge-aggregator --help)"
            : "remove it; the keys are listed by iocedge-aggregator --help and in aggregator/README.md.";
    }

    /// <summary>" (in FILE)", " (environment variable NAME)" or " (command line)": the provider that set the key last.</summary>
    private static string Source(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return string.Empty;
        }

        foreach (var provider in root.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _))
            {
                continue;
            }

            return provider switch
            {
                JsonConfigurationProvider json => $" (in {Path.Combine(json.Source.FileProvider is Microsoft.Extensions.FileProviders.PhysicalFileProvider p ? p.Root : string.Empty, json.Source.Path ?? string.Empty)})",
                EnvironmentVariablesConfigurationProvider => $" (environment variable IOCEDGE_{key.Replace(":", "__", StringComparison.Ordinal)})",
                CommandLineConfigurationProvider => " (command line)",
                _ => string.Empty,
            };
        }

        return string.Empty;
    }
}
