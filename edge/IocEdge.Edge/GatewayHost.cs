using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using IocEdge.Edge.Sources;
using IocEdge.Systemd;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Edge;

/// <summary>Builds the gateway service; its Main, the demo and the tests all run this same host.</summary>
public static class GatewayHost
{
    /// <summary>The configuration file used when no --config is given.</summary>
    public const string DefaultConfigPath = "/etc/iocedge/gateway.json";

    /// <param name="args">
    /// Command line: <c>--config FILE</c> (default /etc/iocedge/gateway.json) and any configuration key
    /// (<c>--Gateway:Mqtt:Host=10.0.0.5</c>). Environment variables IOCEDGE_Gateway__… override the file.
    /// </param>
    /// <param name="configure">Last-word changes (tests replace TimeProvider; the demo adds simulated sources).</param>
    public static IHost Build(string[] args, Action<HostApplicationBuilder>? configure = null)
    {
        // The content root is the executable's folder, not the current directory, and the host's default
        if (CommandLineProblem(args) is { } argument)
        {
            throw new GatewayConfigurationException([argument]);
        }

        // appsettings*.json are removed: under systemd, or started from another folder, no file is read silently.
        // The only file is --config FILE or /etc/iocedge/gateway.json (logged at start-up: ConfigurationRead).
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args, DisableDefaults = false, ContentRootPath = AppContext.BaseDirectory,
        });
        foreach (var stray in builder.Configuration.Sources.OfType<Microsoft.Extensions.Configuration.Json.JsonConfigurationSource>().ToArray())
        {
            builder.Configuration.Sources.Remove(stray);
        }

        var given = builder.Configuration["config"];
        var configPath = given ?? DefaultConfigPath;
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException(given is null
                    ? $"the default configuration file {DefaultConfigPath} does not exist. Install it (the iocedge-gateway package's skeleton, or edge/IocEdge.Gateway/gateway.example.json) or pass --config FILE."
                    : $"--config: the configuration file '{given}' does not exist (current directory {Environment.CurrentDirectory}). Write one with `iocedge init --config FILE`, or copy edge/IocEdge.Gateway/gateway.example.json.",
                configPath);
        }

        // Malformed JSON is reported with its line and column before the loader turns it into a stack trace.
        var fullPath = Path.GetFullPath(configPath);
        if (ConfigurationCheck.JsonSyntaxError(fullPath) is { } syntax)
        {
            throw new GatewayConfigurationException([syntax]);
        }

        // Issue 16: a remote configuration in force (contract §9) is laid over the local file into an effective file.
        var localPath = fullPath;
        var dataDirectory = new ConfigurationBuilder().AddJsonFile(fullPath, optional: false, reloadOnChange: false)
            .AddEnvironmentVariables("IOCEDGE_").AddCommandLine(args).Build()[$"{GatewayOptions.Section}:{nameof(GatewayOptions.DataDirectory)}"]
            ?? new GatewayOptions().DataDirectory;
        var remoteEnabled = !string.Equals(new ConfigurationBuilder().AddJsonFile(fullPath, optional: false, reloadOnChange: false)
            .AddEnvironmentVariables("IOCEDGE_").AddCommandLine(args).Build()["Gateway:RemoteConfig:Enabled"], "false", StringComparison.OrdinalIgnoreCase);
        if (remoteEnabled)
        {
            fullPath = Remote.RemoteConfigFile.EffectivePath(fullPath, dataDirectory);
        }

        // The file, then environment and command line again, so an operator can override one key without editing it.
        builder.Configuration.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables("IOCEDGE_");
        builder.Configuration.AddCommandLine(args);
        var problems = FindProblems(builder.Configuration, fullPath);
        if (problems.Count > 0)
        {
            if (remoteEnabled && Remote.RemoteConfigFile.RefusePending(dataDirectory, builder.Configuration["Gateway:Id"], problems, TimeProvider.System))
            {
                // A pending remote configuration that does not start (contract §9.2): refused, and the gateway starts on
                // the one before rather than not at all.
                return Build(args, configure);
            }

            throw new GatewayConfigurationException(problems);
        }

        // The data directory must be this service's to write before anything is opened: a permission problem (a folder
        // the unit's ReadWritePaths does not cover, another user's folder) is an administrator's to fix, and no restart
        // cures it. A full card is not checked here: the outbox survives that by itself (issue 14).
        EnsureDataDirectoryWritable(builder.Configuration[$"{GatewayOptions.Section}:{nameof(GatewayOptions.DataDirectory)}"]
            ?? new GatewayOptions().DataDirectory);

        // sd_notify: READY=1 after the outbox is open and the first poll cycle is done, WATCHDOG=1 while sampling and
        // forwarding make progress, STOPPING=1 on SIGTERM (units: edge/IocEdge.Gateway/packaging).
        builder.Services.AddSystemdNotify<GatewayLiveness>();
        // Every loop supervises itself; an exception that still escapes one is a defect: stop the whole host, and
        // Main turns it into a non-zero exit code (ExitCodeOf) so systemd restarts the service.
        builder.Services.Configure<HostOptions>(h => h.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<IClockSync>(sp => new SystemClockSync(sp.GetRequiredService<TimeProvider>()));

        builder.Services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.Section), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        builder.Services.AddSingleton<ProfileSource>();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();

        builder.Services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            var time = sp.GetRequiredService<TimeProvider>();
            var outbox = new SqliteOutbox(o.OutboxPath, o.Outbox, time, sp.GetRequiredService<IClockSync>(), sp.GetRequiredService<ILogger<SqliteOutbox>>());
            sp.GetRequiredService<ILogger<SqliteOutbox>>().OutboxOpened(outbox.Path, outbox.StreamId, outbox.Count);
            return outbox;
        });
        builder.Services.TryAddSingleton<IGpioControllerProvider, SystemGpioControllerProvider>();
        builder.Services.TryAddSingleton<IBusProvider, SystemBusProvider>();
        builder.Services.AddSingleton<IEnumerable<IReadingSource>>(sp => CreateSources(sp).ToArray());
        builder.Services.AddSingleton<SamplingService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SamplingService>());
        if (remoteEnabled)
        {
            builder.Services.AddSingleton(sp => new Remote.RemoteConfigAgent(sp.GetRequiredService<IOptions<GatewayOptions>>(), localPath,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<Remote.RemoteConfigAgent>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<Remote.RemoteConfigAgent>());
            builder.Services.AddSingleton<Forwarding.IMqttLinkParticipant>(sp => sp.GetRequiredService<Remote.RemoteConfigAgent>());
        }

        // Relay outputs commandable over contract §10 (nothing opened when Gateway:Gpio:Outputs is empty).
        builder.Services.AddSingleton<Remote.OutputService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Remote.OutputService>());
        builder.Services.AddSingleton<Forwarding.IMqttLinkParticipant>(sp => sp.GetRequiredService<Remote.OutputService>());

        builder.Services.AddSingleton<MqttForwarder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttForwarder>());
        configure?.Invoke(builder);
        var host = builder.Build();
        host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("IocEdge.Gateway").ConfigurationRead(fullPath,
            given is null ? "the default" : "--config", EnvironmentKeys(), CommandLineKeys(args));
        return host;
    }

    private static int EnvironmentKeys() => Environment.GetEnvironmentVariables().Keys.OfType<string>()
        .Count(k => k.StartsWith("IOCEDGE_", StringComparison.OrdinalIgnoreCase));

    private static int CommandLineKeys(string[] args) =>
        new ConfigurationBuilder().AddCommandLine(args).Build().AsEnumerable().Count(kv => kv.Value is not null && kv.Key != "config");

    /// <summary>
    /// The process exit code after <paramref name="host"/> has stopped (call it before disposing the host): 0 for an orderly stop, 70 (EX_SOFTWARE,
    /// sysexits.h) when a background service ended with an exception, so systemd's Restart=on-failure brings it back.
    /// </summary>
    public static int ExitCodeOf(IHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.Services.GetServices<IHostedService>().OfType<BackgroundService>()
            .Any(s => s.ExecuteTask is { IsFaulted: true }) ? ExitSoftware : 0;
    }

    /// <summary>sysexits.h EX_SOFTWARE: an internal error stopped the service.</summary>
    public const int ExitSoftware = 70;

    /// <summary>sysexits.h EX_CONFIG: the configuration is wrong; restarting cannot help (RestartPreventExitStatus=78).</summary>
    public const int ExitConfig = 78;

    /// <summary>
    /// Exit code when the data directory cannot be created or written for lack of permission (sysexits.h EX_CANTCREAT, 73,
    /// as the aggregator uses for its store).
    /// </summary>
    public const int ExitCantCreate = 73;

    /// <summary>
    /// The first argument the gateway does not take, as one line with the fix, or null. Taken: <c>--config FILE</c> (or
    /// <c>--config=FILE</c>) and configuration keys under <c>Gateway:</c> or <c>Logging:</c> as <c>--KEY=VALUE</c> or
    /// <c>--KEY VALUE</c>; anything else (a misspelt <c>--confg</c>, a stray word, <c>--config</c> without a file) is
    /// refused rather than ignored, so the gateway never starts on a file or a value the operator did not mean.
    /// </summary>
    internal static string? CommandLineProblem(IReadOnlyList<string> args)
    {
        const string Fix = "use --config FILE and --Gateway:KEY=VALUE (iocedge-gateway --help)";
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                return $"command line: '{a}' is not an option: {Fix}.";
            }

            var eq = a.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? a[2..] : a[2..eq];
            var hasValue = eq >= 0 || (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal));
            var value = eq >= 0 ? a[(eq + 1)..] : hasValue ? args[i + 1] : null;
            if (string.Equals(key, "config", StringComparison.OrdinalIgnoreCase))
            {
                if (string.IsNullOrWhiteSpace(value))
                {
                    return "command line: --config needs a file: --config /etc/iocedge/gateway.json.";
                }
            }
            else if (!key.StartsWith("Gateway:", StringComparison.OrdinalIgnoreCase) && !key.StartsWith("Logging:", StringComparison.OrdinalIgnoreCase))
            {
                return $"command line: '--{key}' is not an option: {Fix}.";
            }
            else if (value is null)
            {
                return $"command line: --{key} has no value: give --{key}=VALUE.";
            }

            if (eq < 0)
            {
                i++; // the value
            }
        }

        return null;
    }

    /// <summary>
    /// Creates <paramref name="directory"/> if needed and writes and removes a probe file in it.
    /// </summary>
    /// <exception cref="DataDirectoryException">Permission denied (EACCES, EPERM) or a read-only file system.</exception>
    private static void EnsureDataDirectoryWritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw DataDirectoryException.For(directory, ex);
        }
        catch (IOException ex) when (ex.Message.Contains("Read-only file system", StringComparison.Ordinal))
        {
            throw DataDirectoryException.For(directory, ex);
        }
        catch (IOException)
        {
            // No space (ENOSPC) and the like: the outbox handles a full card by itself and keeps sampling.
        }
    }

    /// <summary>What <c>iocedge-gateway --help</c> prints.</summary>
    public const string Usage = """
        Usage: iocedge-gateway [--config FILE] [--Gateway:KEY=VALUE ...]

        Reads field instruments (Modbus, GPIO, I2C/UART/1-Wire sensors), stores every reading in an outbox on the card
        and forwards it over MQTT to the IOC aggregator.

        Options:
          --config FILE          the configuration file (default /etc/iocedge/gateway.json)
          --Gateway:KEY=VALUE    override one configuration key (also: environment IOCEDGE_Gateway__KEY=VALUE)
          -h, --help             print this help and exit

        Configuration keys (all under "Gateway"; the full table is in edge/README.md, "Configuration"):
          Id, DataDirectory, ProfilesDirectory, Mqtt:{Host,Port,Username,Password,KeepAlive,Timeout,BatchSize,
          BatchMaxBytes,BatchMaxAge,MaxInFlight,BackfillReadingsPerSecond,HealthPeriod,Payload (Json|Compact),
          ReconnectDelayMin,ReconnectDelayMax,Tls:{Enabled,CaFile,CertificateFile,KeyFile,ServerName}}, Outbox:{MaxBytes,MaxAge,MinFreeBytes,Eviction (Oldest|Thin),
          RamBufferReadings,WalMaxBytes,CheckpointInterval}, Modbus:Links[], Modbus:Devices[], Gpio, Sensors[]
        A complete example: edge/IocEdge.Gateway/gateway.example.json (installed as /etc/iocedge/gateway.json).

        Example:
          iocedge-gateway --config /etc/iocedge/gateway.json --Gateway:Mqtt:Host=10.0.0.5

        Exit codes: 0 stopped, 70 stopped by an internal error, 78 the configuration is not valid (nothing was opened).
        """;

    /// <summary>
    /// Every problem of the Gateway section at once: unknown keys, values of the wrong type, then what the
    /// <see cref="GatewayOptionsValidator"/> finds in the settings that could be read. Each line starts with the origin
    /// of the key (the file, an environment variable, the command line).
    /// </summary>
    internal static List<string> FindProblems(ConfigurationManager configuration, string configPath)
    {
        var root = configuration;
        var shape = ConfigurationCheck.Shape(root.GetSection(GatewayOptions.Section), ConfigurationShapes.Gateway);
        bool Bad(string key) => shape.Any(p => key.Equals(p.Key, StringComparison.OrdinalIgnoreCase)
                                               || key.StartsWith(p.Key + ":", StringComparison.OrdinalIgnoreCase));

        // Validate what can be read, so a misspelt key and a wrong profile name are reported in one go.
        var readable = new ConfigurationBuilder().AddInMemoryCollection(root.AsEnumerable()
            .Where(kv => kv.Key.StartsWith(GatewayOptions.Section + ":", StringComparison.OrdinalIgnoreCase) && kv.Value is not null && !Bad(kv.Key)))
            .Build();
        var options = new GatewayOptions();
        readable.GetSection(GatewayOptions.Section).Bind(options);
        var result = new GatewayOptionsValidator(new ProfileSource()).Validate(null, options);

        var lines = shape.Select(p => $"{ConfigurationCheck.Origin(root, p.Key, configPath)}: {p.Message}").ToList();
        if (result.Failed)
        {
            foreach (var failure in result.Failures ?? [])
            {
                var key = failure.Split(' ', 2)[0].TrimEnd(':');
                lines.Add($"{ConfigurationCheck.Origin(root, key, configPath)}: {failure}");
            }
        }

        return lines;
    }

    /// <summary>Extra sources (the demo's simulated GPIO, for instance) registered with this are run as well.</summary>
    public static IServiceCollection AddReadingSource(this IServiceCollection services, Func<IServiceProvider, IReadingSource> factory) =>
        services.AddSingleton(new ExtraSource(factory));

    private static IEnumerable<IReadingSource> CreateSources(IServiceProvider sp)
    {
        var o = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var time = sp.GetRequiredService<TimeProvider>();
        var loggers = sp.GetRequiredService<ILoggerFactory>();
        var profiles = sp.GetRequiredService<ProfileSource>();
        foreach (var link in o.Modbus.Links)
        {
            var devices = o.Modbus.Devices.Where(d => d.Link == link.Id).ToArray();
            if (devices.Length > 0)
            {
                yield return new ModbusLinkSource(link, devices, profiles.Required(o.ProfilesDirectory), time, loggers);
            }
        }

        if (!o.Gpio.IsEmpty)
        {
            yield return new GpioSource(o.Gpio, o.DataDirectory, sp.GetRequiredService<IGpioControllerProvider>(), time, loggers);
        }

        foreach (var sensor in o.Sensors)
        {
            yield return new SensorSource(sensor, sp.GetRequiredService<IBusProvider>(), time, loggers);
        }

        foreach (var extra in sp.GetServices<ExtraSource>())
        {
            yield return extra.Factory(sp);
        }
    }

    internal sealed record ExtraSource(Func<IServiceProvider, IReadingSource> Factory);
}

/// <summary>
/// The gateway may not write its data directory (Gateway:DataDirectory): the message names the folder, the cause and
/// the fix; <c>iocedge-gateway</c> prints it as one line and exits <see cref="GatewayHost.ExitCantCreate"/>.
/// </summary>
public sealed class DataDirectoryException : Exception
{
    private DataDirectoryException(string directory, string message, Exception inner)
        : base(message, inner)
    {
        Directory = directory;
    }

    public DataDirectoryException()
    {
        Directory = string.Empty;
    }

    public DataDirectoryException(string message)
        : base(message)
    {
        Directory = string.Empty;
    }

    public DataDirectoryException(string message, Exception inner)
        : base(message, inner)
    {
        Directory = string.Empty;
    }

    /// <summary>The exception for <paramref name="directory"/>, with the cause from <paramref name="inner"/> and the fix.</summary>
    public static DataDirectoryException For(string directory, Exception inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new DataDirectoryException(directory,
            $"Gateway:DataDirectory {directory} cannot be written by this user ({inner.Message}): use /var/lib/iocedge-gateway " +
            "(the package makes it for the iocedge user and its systemd unit may write only there), or give this user write access to the folder.", inner);
    }

    /// <summary>The folder that could not be written.</summary>
    public string Directory { get; }
}
