using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator;

/// <summary>
/// The executable's entry: --help, the configuration check (exit 78, EX_CONFIG, before any port, file or folder is
/// touched), then the service. Start-up failures a technician can fix are one line on stderr, never a stack trace.
/// </summary>
public static class AggregatorMain
{
    /// <summary>sysexits.h EX_CONFIG: a configuration error.</summary>
    public const int ExitConfig = 78;

    /// <summary>sysexits.h EX_UNAVAILABLE: a port the service needs is taken.</summary>
    public const int ExitUnavailable = 69;

    /// <summary>sysexits.h EX_CANTCREAT: the data directory or the store cannot be created or written.</summary>
    public const int ExitCantCreate = 73;

    /// <summary>sysexits.h EX_DATAERR: the store was written by a newer aggregator.</summary>
    public const int ExitDataError = 65;

    /// <summary>sysexits.h EX_SOFTWARE: an unexpected internal error.</summary>
    public const int ExitSoftware = 70;

    private const string Name = "iocedge-aggregator";

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Any(a => a is "--help" or "-h" or "-?" or "help"))
        {
            await Console.Out.WriteAsync(Usage()).ConfigureAwait(false);
            return 0;
        }

        if (args.Length > 0 && Security.SecurityCommands.Verbs.Contains(args[0]))
        {
            // Admin verbs (gateway-add, api-key-add, mosquitto-config...): Security/SecurityCommands.cs.
            // The verbs read the same configuration as the service (/etc/iocedge/aggregator.json or --config FILE).
            IConfiguration configuration;
            try
            {
                configuration = AggregatorHost.CreateBuilder(OptionsOf(args.Skip(1).ToArray()), defaultConfigPath: AggregatorHost.DefaultConfigPath).Configuration;
            }
            catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
            {
                await Console.Error.WriteLineAsync($"{Name}: configuration: {ex.Message}").ConfigureAwait(false);
                return ExitConfig;
            }

            return Security.SecurityCommands.TryRun(WithoutConfigFile(args), configuration, Console.Out, Console.Error) ?? 64;
        }

        if (args.Length > 0 && Provisioning.EnrolmentCommands.Verbs.Contains(args[0]))
        {
            // Enrolment verbs (token-add, bundle-export): Provisioning/EnrolmentCommands.cs.
            IConfiguration configuration;
            try
            {
                // The same layers as the service: /etc/iocedge/aggregator.json or --config FILE, then --Aggregator:KEY=VALUE.
                var layers = ConfigFileArguments(args.Skip(1).ToArray())
                    .Concat(args.Skip(1).Where(a => a.StartsWith("--Aggregator", StringComparison.Ordinal))).ToArray();
                configuration = AggregatorHost.CreateBuilder(layers, defaultConfigPath: AggregatorHost.DefaultConfigPath).Configuration;
            }
            catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
            {
                await Console.Error.WriteLineAsync($"{Name}: configuration: {ex.Message}").ConfigureAwait(false);
                return ExitConfig;
            }

            return Provisioning.EnrolmentCommands.TryRun(WithoutConfigFile(args), configuration, Console.Out, Console.Error) ?? 64;
        }

        var errors = ConfigCheck.CheckArguments(args).ToList();
        WebApplicationBuilder builder;
        try
        {
            builder = AggregatorHost.CreateBuilder(args, defaultConfigPath: AggregatorHost.DefaultConfigPath);
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            // A missing --config file, a malformed configuration file or command line (the reader's own message names
            // the file and line): one line, exit 78.
            await Console.Error.WriteLineAsync($"{Name}: configuration: {ex.Message}").ConfigureAwait(false);
            return ExitConfig;
        }

        errors.AddRange(ConfigCheck.Check(builder.Configuration));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
            {
                await Console.Error.WriteLineAsync($"{Name}: configuration: {e}").ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync($"{Name}: {errors.Count} configuration problem(s); nothing was started. See {Name} --help.")
                .ConfigureAwait(false);
            return ExitConfig;
        }

        // The host would log a start-up failure with its stack trace; the failures below are one line each instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        WebApplication? app = null;
        try
        {
            // Building resolves some services (the store, through the API's metrics): its failures are start-up
            // failures like the ones RunAsync reports, and get the same one line.
            app = AggregatorHost.Finish(builder);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (Find<PortInUseException>(ex) is { } busy)
        {
            await Console.Error.WriteLineAsync($"{Name}: {busy.Message}").ConfigureAwait(false);
            return ExitUnavailable;
        }
        catch (Exception ex) when (IsHttpPortInUse(ex))
        {
            await Console.Error.WriteLineAsync($"{Name}: HTTP: {ex.Message.TrimEnd('.')}: another program holds that port; " +
                "stop it or set Aggregator:HttpUrls to a free port (such as --Aggregator:HttpUrls=http://0.0.0.0:8081).").ConfigureAwait(false);
            return ExitUnavailable;
        }
        catch (Exception ex) when (Find<Storage.Postgres.StoreUnavailableException>(ex) is { } db)
        {
            // Its message names host:port/database and user, never the password.
            await Console.Error.WriteLineAsync($"{Name}: cannot reach the store: {FirstLine(db.Message)}. Start the server or fix " +
                "Aggregator:Store:ConnectionString (host, port, database, user, password).").ConfigureAwait(false);
            return ExitUnavailable;
        }
        catch (Exception ex) when (Find<Storage.StoreSchemaTooNewException>(ex) is { } newer)
        {
            await Console.Error.WriteLineAsync($"{Name}: {newer.Message}. Run that version (or a later one) on this store, or give this " +
                "one another store (Aggregator:DataDirectory or Aggregator:Store:ConnectionString); the store was left as it is.").ConfigureAwait(false);
            return ExitDataError;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or SqliteException or IOException)
        {
            // The folder is named: SQLite's own message ("unable to open database file") does not say which, nor why.
            var folder = builder.Configuration[$"{AggregatorOptions.Section}:{nameof(AggregatorOptions.DataDirectory)}"]
                         ?? new AggregatorOptions().DataDirectory;
            var why = ex is SqliteException { SqliteErrorCode: 14 } ? " (a read-only folder, a file in its place, or no permission)" : string.Empty;
            await Console.Error.WriteLineAsync($"{Name}: cannot open the store in {folder}: {ex.Message}{why} Give Aggregator:DataDirectory a folder " +
                "the service user can create and write (default /var/lib/iocedge-aggregator).").ConfigureAwait(false);
            return ExitCantCreate;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not a problem a technician can fix from here: the whole exception, for the bug report.
            await Console.Error.WriteLineAsync($"{Name}: stopped by an unexpected error: {ex}").ConfigureAwait(false);
            return ExitSoftware;
        }
        finally
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The options of an admin verb's arguments: every --key=value or --key, and the word after --config.</summary>
    /// <summary>The admin verbs' own arguments: <paramref name="args"/> without <c>--config FILE</c> (or <c>--config=FILE</c>).</summary>
    private static string[] WithoutConfigFile(string[] args)
    {
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config")
            {
                i++; // and its file
            }
            else if (!args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                rest.Add(args[i]);
            }
        }

        return [.. rest];
    }

    /// <summary>Only the <c>--config FILE</c> (or <c>--config=FILE</c>) of <paramref name="args"/>.</summary>
    private static IEnumerable<string> ConfigFileArguments(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length)
            {
                yield return args[i];
                yield return args[i + 1];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                yield return args[i];
            }
        }
    }

    private static string[] OptionsOf(string[] args)
    {
        var options = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length)
            {
                options.Add(args[i]);
                options.Add(args[++i]);
            }
            else if (args[i].StartsWith('-'))
            {
                options.Add(args[i]);
            }
        }

        return options.ToArray();
    }

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T t)
            {
                return t;
            }
        }

        return null;
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim().TrimEnd('.');

    private static bool IsHttpPortInUse(Exception ex) =>
        ex is IOException && (ex.InnerException?.GetType().Name == "AddressInUseException" ||
                              Find<SocketException>(ex)?.SocketErrorCode == SocketError.AddressAlreadyInUse);

    private static string Usage() => $"""
        Usage: {Name} [--config FILE] [--Aggregator:Key=value ...] [--Logging:LogLevel:Default=Debug]

        The IocEdge aggregator: an embedded MQTT broker that stores each gateway reading exactly once (SQLite) and
        serves the IOC's HTTP API. It runs until stopped (SIGTERM/Ctrl+C); under systemd it reports READY and WATCHDOG.

        Options:
          --config FILE    the configuration file (default {AggregatorHost.DefaultConfigPath}, read when it exists)
          -h, --help       print this text and exit (nothing is started)

        Configuration, later layers win: appsettings.json next to the executable (built-in defaults), then --config FILE
        or {AggregatorHost.DefaultConfigPath}, then environment variables IOCEDGE_Aggregator__Key__Sub, then the command
        line --Aggregator:Key:Sub=value. The files read are logged at start-up. Keys (documented in aggregator/README.md):
        {string.Join(Environment.NewLine, ConfigCheck.KnownKeys.Select(k => "  " + k))}

        Examples:
          {Name} --Aggregator:DataDirectory=/var/lib/iocedge-aggregator --Aggregator:Mqtt:Port=1883
          {Name} --Aggregator:Mqtt:BindAddress=127.0.0.1 --Aggregator:HttpUrls=http://127.0.0.1:8080
          IOCEDGE_Aggregator__Timestamps__MaxFuture=00:10:00 {Name}

        Exit codes: 0 stopped cleanly or --help; 78 configuration error or a missing --config file (every problem listed, nothing touched);
        69 a port is already in use or the PostgreSQL store cannot be reached; 73 the data directory or store cannot be written.

        """;
}

/// <summary>A listening port is taken by another program: the message names the port and the fix.</summary>
public sealed class PortInUseException(string message, Exception inner) : IOException(message, inner);
