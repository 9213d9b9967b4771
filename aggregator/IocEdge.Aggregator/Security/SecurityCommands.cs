using Microsoft.Extensions.Configuration;

namespace IocEdge.Aggregator.Security;

/// <summary>
/// Admin verbs of the executable, until the CLI of issue 16 takes them over (they use the same methods):
/// <code>
/// iocedge-aggregator gateway-add ID [--Aggregator:DataDirectory=DIR]   # prints the new MQTT password once
/// iocedge-aggregator reader-add NAME [...]                             # a read-only MQTT account
/// iocedge-aggregator api-key-add read|admin [NAME] [...]               # prints the new API key once
/// iocedge-aggregator mosquitto-config OUTDIR [...]                     # passwd, acl, iocedge.conf for mosquitto
/// </code>
/// Exit 0 done, 64 (EX_USAGE) bad arguments.
/// </summary>
public static class SecurityCommands
{
    public static readonly string[] Verbs = ["gateway-add", "reader-add", "api-key-add", "mosquitto-config"];

    /// <summary>Runs a verb if <paramref name="args"/> starts with one; null otherwise.</summary>
    public static int? TryRun(string[] args, IConfiguration configuration, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Length == 0 || !Verbs.Contains(args[0]))
        {
            return null;
        }

        var words = args.Skip(1).Where(a => !a.StartsWith('-')).ToArray();
        var options = new AggregatorOptions();
        configuration.GetSection(AggregatorOptions.Section).Bind(options);
        try
        {
            using var credentials = new CredentialStore(options.CredentialsPath);
            switch (args[0], words)
            {
                case ("gateway-add", [var id]):
                    output.WriteLine($"gateway {id}: password {credentials.AddGateway(id)} (shown once; stored hashed in {options.CredentialsPath})");
                    return 0;
                case ("reader-add", [var name]):
                    output.WriteLine($"reader {name}: password {credentials.AddReader(name)} (shown once; stored hashed in {options.CredentialsPath})");
                    return 0;
                case ("api-key-add", [var scope, ..]):
                    var key = new ApiKeyStore(Microsoft.Extensions.Options.Options.Create(options)).Create(scope, words.Length > 1 ? words[1] : "cli");
                    output.WriteLine($"{scope} key: {key} (shown once; stored hashed in {options.ApiKeysPath})");
                    return 0;
                case ("mosquitto-config", [var dir]):
                    foreach (var path in MosquittoConfig.Write(credentials, dir, options))
                    {
                        output.WriteLine($"wrote {path}");
                    }

                    return 0;
                default:
                    error.WriteLine($"iocedge-aggregator {args[0]}: wrong arguments; usage: gateway-add ID | reader-add NAME | api-key-add read|admin [NAME] | mosquitto-config OUTDIR");
                    return 64;
            }
        }
        catch (ArgumentException ex)
        {
            error.WriteLine($"iocedge-aggregator {args[0]}: {ex.Message}");
            return 64;
        }
    }
}
