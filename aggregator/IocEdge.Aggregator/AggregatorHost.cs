using IocEdge.Aggregator.Api;
using IocEdge.Aggregator.Broker;
using IocEdge.Aggregator.Ingest;
using IocEdge.Aggregator.Security;
using IocEdge.Aggregator.Storage;
using IocEdge.Aggregator.Storage.Postgres;
using IocEdge.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator;

/// <summary>Builds the aggregator: used by its own Main, by the demo and by the tests, so all three run the same thing.</summary>
public static class AggregatorHost
{
    /// <param name="args">Command-line arguments (configuration keys, e.g. --Aggregator:DataDirectory=/tmp/x).</param>
    /// <param name="configure">Last-word changes: extra in-memory settings or services (tests replace TimeProvider).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null) =>
        Finish(CreateBuilder(args, configure));

    /// <summary>The configuration file the service reads when no --config is given (when it exists).</summary>
    public const string DefaultConfigPath = "/etc/iocedge/aggregator.json";

    /// <summary>
    /// Reads the configuration and registers the services; opens, binds and creates nothing, so
    /// <see cref="ConfigCheck"/> can look first. Layers, later ones win: appsettings.json next to the executable (the
    /// built-in defaults; never the current directory's), then <c>--config FILE</c> or else
    /// <paramref name="defaultConfigPath"/> when that file exists, then IOCEDGE_ environment variables
    /// (IOCEDGE_Aggregator__Mqtt__Port), then the command line. Which files were read is logged at start-up.
    /// </summary>
    /// <param name="args">Command line: <c>--config FILE</c> and configuration keys (--Aggregator:DataDirectory=/tmp/x).</param>
    /// <param name="configure">Last-word changes: extra in-memory settings or services (tests replace TimeProvider).</param>
    /// <param name="defaultConfigPath">The service's default file (<see cref="DefaultConfigPath"/>); null for the demo
    /// and tests, which read no file outside their own folder.</param>
    /// <exception cref="FileNotFoundException">--config names a file that does not exist (exit 78 in Main).</exception>
    /// <exception cref="InvalidDataException">A configuration file is not valid JSON (the message names it).</exception>
    public static WebApplicationBuilder CreateBuilder(string[] args, Action<WebApplicationBuilder>? configure = null,
        string? defaultConfigPath = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var files = ConfigurationFiles.Load(builder.Configuration, args, defaultConfigPath);
        builder.Services.AddSingleton(files);
        // sd_notify: READY=1 once the store is open and the listeners are bound, WATCHDOG=1 while the ingest loop
        // lives, STOPPING=1 on SIGTERM (unit: aggregator/IocEdge.Aggregator/packaging/iocedge-aggregator.service).
        builder.Services.AddSystemdNotify<AggregatorLiveness>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<AggregatorOptions>()
            .Bind(builder.Configuration.GetSection(AggregatorOptions.Section))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AggregatorOptions>, AggregatorOptionsValidator>();
        builder.Services.AddSingleton<IngestMetrics>();
        builder.Services.AddSingleton<IReadingStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AggregatorOptions>>().Value;
            return IsPostgres(options.Store)
                ? new PostgresReadingStore(options.Store.ConnectionString!, sp.GetRequiredService<ILogger<PostgresReadingStore>>(),
                    new TimestampPolicy(options.Timestamps), options.Store.WriteConnections)
                : OpenSqliteStore(options, sp.GetRequiredService<ILogger<ReadingStore>>());
        });
        builder.Services.AddHostedService(sp => new PostgresRetention(sp.GetRequiredService<IReadingStore>() as PostgresReadingStore,
            TimeSpan.FromDays(sp.GetRequiredService<IOptions<StoreRetentionOptions>>().Value.RetainRawDays), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<PostgresRetention>>()));
        // Security and bounds (issue 15): MQTT accounts, their metrics, API keys and the policies "read" and "admin".
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<SecurityMetrics>();
        builder.Services.AddSingleton(sp => new CredentialStore(sp.GetRequiredService<IOptions<AggregatorOptions>>().Value.CredentialsPath));
        builder.Services.AddApiKeys();
        // Issue 16: enrolment tokens, the gateway registry and the configuration push (Provisioning/).
        builder.Services.AddSingleton(sp => new Provisioning.GatewayRegistry(sp.GetRequiredService<IOptions<AggregatorOptions>>().Value.DataDirectory,
            sp.GetRequiredService<CredentialStore>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<Provisioning.EnrolmentService>();
        builder.Services.AddSingleton<IngestPipeline>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestPipeline>());
        builder.Services.AddIocApi();
        // Retention of the SQLite store (Aggregator:Store:Retain*Days); off unless configured.
        builder.Services.AddOptions<StoreRetentionOptions>().Bind(builder.Configuration.GetSection(StoreRetentionOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<StoreRetentionOptions>, StoreRetentionOptionsValidator>();
        builder.Services.AddSingleton(sp => new StoreRetention(sp.GetRequiredService<IReadingStore>() as IStoreRetention,
            sp.GetRequiredService<IOptions<StoreRetentionOptions>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<StoreRetention>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StoreRetention>());
        configure?.Invoke(builder);
        // After configure, so that a test's in-memory settings choose the broker too.
        builder.Services.AddSingleton<EmbeddedBroker>();
        if (string.IsNullOrEmpty(builder.Configuration[$"{AggregatorOptions.Section}:ExternalBroker:Host"]))
        {
            builder.Services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
            builder.Services.AddSingleton<Provisioning.IGatewayBrokerControl>(sp => sp.GetRequiredService<EmbeddedBroker>());
            builder.Services.AddHostedService<Provisioning.ConfigRepublisher>();
        }
        else
        {
            // Scale-out: ingest from an external broker's shared subscription; no embedded broker is started.
            builder.Services.AddSingleton<ExternalBrokerIngest>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ExternalBrokerIngest>());
        }

        return builder;
    }

    /// <summary>Builds the application from <see cref="CreateBuilder"/>'s builder and maps the HTTP API.</summary>
    public static WebApplication Finish(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var urls = builder.Configuration.GetSection(AggregatorOptions.Section)[nameof(AggregatorOptions.HttpUrls)]
                   ?? new AggregatorOptions().HttpUrls;
        builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        // A query value that cannot be bound throws, so that BindingProblems answers with a problem body naming it.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        var app = builder.Build();
        app.Services.GetService<ConfigurationFiles>()?.Log(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("IocEdge.Aggregator"));
        app.UseProvisioningProblems();
        app.UseBindingProblems();
        app.UseAuthentication();
        app.UseAuthorization();
        // After authorization: a request without a valid key never reaches the cache. Compression inside the cache, so
        // that a cached latest page is kept compressed (Api/LatestOutputCache.cs).
        app.UseLatestOutputCache();
        app.UseApiResponseCompression();
        // One call per route group protects every route (read scope; admin under /api/v1/admin; /healthz and / open):
        // see Security/ApiKeys.cs.
        var groups = app.MapIocApi();
        groups.Read.RequireApiKeys();
        groups.Admin.RequireApiKeys();
        groups.Operations.RequireApiKeys();
        app.MapGroup(string.Empty).RequireApiKeys().RejectUnknownQueryParameters().MapAdminApi();
        app.MapGroup("/api/v1/admin").RequireApiKeys().RejectUnknownQueryParameters().MapProvisioningAdmin();
        app.MapEnrol();
        return app;
    }

    /// <summary>
    /// Opens the SQLite store. Under systemd (NOTIFY_SOCKET set), while a store of the row-per-reading layout is moved
    /// into chunks, each 50,000 readings send EXTEND_TIMEOUT_USEC (sd_notify(3): the manager waits that much longer for
    /// READY) and a STATUS line, so that a large store outlasts the unit's TimeoutStartSec without being killed.
    /// </summary>
    private static ReadingStore OpenSqliteStore(AggregatorOptions options, ILogger<ReadingStore> logger)
    {
        using var notify = Environment.GetEnvironmentVariable(NotifySocket.SocketVariable) is { Length: > 0 } path
            ? new NotifySocket(path)
            : null;
        // 60 s for each step of 50,000 readings, which takes well under a second here (docs/BENCHMARKS.md).
        const long StepTimeoutUsec = 60_000_000;
        return new ReadingStore(options.DatabasePath, logger, new TimestampPolicy(options.Timestamps),
            notify is null ? null : moved => notify.TrySend(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"EXTEND_TIMEOUT_USEC={StepTimeoutUsec}\nSTATUS=Moving the store to the chunked layout: {moved} readings moved")));
    }

    private static bool IsPostgres(StoreOptions store) =>
        string.Equals(store.Engine.Trim(), StoreOptions.Postgresql, StringComparison.OrdinalIgnoreCase);
}
