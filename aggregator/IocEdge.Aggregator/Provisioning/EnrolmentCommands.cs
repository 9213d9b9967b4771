using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;
using Microsoft.Extensions.Configuration;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>
/// Enrolment verbs of the executable (the same <see cref="EnrolmentService"/> the HTTP API calls):
/// <code>
/// iocedge-aggregator token-add [GATEWAY] [--expires=1.00:00:00] [--config=FILE]    # prints a one-time token once
/// iocedge-aggregator bundle-export GATEWAY OUTFILE [--config=FILE] [--broker-host=HOST]  # an offline bundle (a secret, mode 0600)
/// </code>
/// Exit 0 done, 64 (EX_USAGE) bad arguments, 66 (EX_NOINPUT) a --config file that cannot be read.
/// </summary>
public static class EnrolmentCommands
{
    public static readonly string[] Verbs = ["token-add", "bundle-export"];

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
        string? Flag(string name) => args.FirstOrDefault(a => a.StartsWith("--" + name + "=", StringComparison.Ordinal))?[(name.Length + 3)..];
        var options = new AggregatorOptions();
        configuration.GetSection(AggregatorOptions.Section).Bind(options);
        try
        {
            JsonObject? config = null;
            if (Flag("config") is { } configPath)
            {
                try
                {
                    config = JsonFile.Read(configPath);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    error.WriteLine($"iocedge-aggregator {args[0]}: --config {configPath}: {ex.Message}");
                    return 66;
                }
            }

            using var credentials = new CredentialStore(options.CredentialsPath);
            using var meters = new CommandMeterFactory();
            var registry = new GatewayRegistry(options.DataDirectory, credentials, TimeProvider.System);
            var enrolment = new EnrolmentService(Microsoft.Extensions.Options.Options.Create(options), credentials, registry, TimeProvider.System, meters);
            switch (args[0], words)
            {
                case ("token-add", [] or [_]):
                    TimeSpan? lifetime = Flag("expires") is { } e ? TimeSpan.Parse(e, CultureInfo.InvariantCulture) : null;
                    var (token, expires) = enrolment.CreateToken(words.FirstOrDefault(), lifetime, config);
                    output.WriteLine($"enrolment token {token} (one-time, expires {EnrolmentTokens.Stamp(expires)}; shown once, stored hashed)");
                    output.WriteLine($"on the gateway: iocedge provision --aggregator http://THIS-HOST:8080 --token {token} --gateway-id {words.FirstOrDefault() ?? "ID"}");
                    return 0;
                case ("bundle-export", [var id, var outFile]):
                    var grant = enrolment.ExportBundleAsync(id, config, Flag("broker-host") ?? Environment.MachineName).GetAwaiter().GetResult();
                    JsonFile.Write(outFile, grant.ToJson(bundle: true, TimeProvider.System.GetUtcNow()));
                    output.WriteLine($"wrote {outFile}: gateway {id}'s credentials (a secret: carry it to the pole, then delete it); apply it there with iocedge provision --bundle {Path.GetFileName(outFile)}");
                    return 0;
                default:
                    error.WriteLine($"iocedge-aggregator {args[0]}: wrong arguments; usage: token-add [GATEWAY] [--expires=D.HH:MM:SS] [--config=FILE] | bundle-export GATEWAY OUTFILE [--config=FILE] [--broker-host=HOST]");
                    return 64;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            error.WriteLine($"iocedge-aggregator {args[0]}: {ex.Message}");
            return 64;
        }
        catch (ProvisioningException ex)
        {
            error.WriteLine($"iocedge-aggregator {args[0]}: {ex.Message}");
            return 64;
        }
    }

    private sealed class CommandMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var m = new Meter(options);
            _meters.Add(m);
            return m;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }
}
