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

    public TimestampOptions Timestamps { get; set; } = new();

    /// <summary>Ingest from an external MQTT broker (mosquitto, EMQX, HiveMQ) instead of the embedded one; off unless Host is set.</summary>
    public ExternalBrokerOptions ExternalBroker { get; set; } = new();
    /// <summary>Which engine holds the readings (section "Aggregator:Store").</summary>
    public StoreOptions Store { get; set; } = new();
    /// <summary>Bounds on what one message and one gateway may create (issue 15, "Bounds").</summary>
    public BoundsOptions Bounds { get; set; } = new();

    /// <summary>HTTP API keys (issue 15, "Security").</summary>
    public ApiOptions Api { get; set; } = new();

    /// <summary>Enrolment tokens, the broker address told to gateways, and the CA for CSRs (issue 16, "Enrolment").</summary>
    public Provisioning.EnrolmentOptions Enrolment { get; set; } = new();

    /// <summary>The gateway and consumer MQTT accounts (hashed passwords), managed by <c>Security.CredentialStore</c>.</summary>
    public string CredentialsPath => Path.Combine(DataDirectory, "credentials.json");

    /// <summary>API keys created by the admin method (hashes only), managed by <c>Security.ApiKeyStore</c>.</summary>
    public string ApiKeysPath => Path.Combine(DataDirectory, "api-keys.json");

    public string DatabasePath => Path.Combine(DataDirectory, "aggregator.db");
}

public sealed class MqttBrokerOptions
{
    /// <summary>The embedded broker's TCP port (1883 is MQTT's registered port).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>The address the embedded broker binds to ("0.0.0.0" for every interface, "127.0.0.1" for this host only).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>
    /// Messages the broker may queue for one slow subscriber before it drops the oldest (default 1000, mosquitto's
    /// max_queued_messages default). Ingest never waits on a subscriber (it happens in the publish interceptor), so
    /// only observers lose messages, each counted (iocedge_broker_dropped_total, iocedge.mqtt.dropped). With at most
    /// <see cref="MaxPacketSize"/> per message this bounds one subscriber's queue (README, memory budget); a subscriber that has
    /// lost a whole queue (this many drops) is disconnected, which frees its session. 1 to 1000000.
    /// </summary>
    public int MaxPendingMessagesPerClient { get; set; } = 1_000;

    /// <summary>
    /// <c>auto</c> (default): a user name and password are required as soon as the credentials file
    /// (<see cref="AggregatorOptions.CredentialsPath"/>) holds an account, and anonymous clients are served (with a
    /// warning at start-up) while it holds none; <c>password</c>: always required (no account: nobody connects);
    /// <c>none</c>: anonymous, no topic rules (a closed test network only).
    /// </summary>
    public string Authentication { get; set; } = "auto";

    /// <summary>
    /// How long a new connection may take to send CONNECT before it is closed (default 10 s; MQTTnet's own default is
    /// 100 s, which lets idle sockets pile up). Also the broker's timeout for any other single packet exchange.
    /// 1 second to 5 minutes.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The largest MQTT packet accepted, in bytes (default 262144 = 256 KiB: a 1,000-reading JSON batch is about
    /// 120 KiB). Advertised to MQTT 5 clients in the CONNACK (Maximum Packet Size, MQTT 5 §3.2.2.3.6); a larger packet
    /// ends the connection at its fixed header, unread (DISCONNECT 0x95 packet too large to MQTT 5 clients). 1024 bytes to 256 MiB (MQTT's own limit).
    /// </summary>
    public int MaxPacketSize { get; set; } = 256 * 1024;

    /// <summary>The TLS listener (off unless <see cref="MqttTlsOptions.CertificatePath"/> is set).</summary>
    public MqttTlsOptions Tls { get; set; } = new();
}

/// <summary>The embedded broker's TLS listener (MQTT over TLS, port 8883 by IANA registration).</summary>
public sealed class MqttTlsOptions
{
    /// <summary>TLS port (8883 is MQTT-over-TLS's registered port; 0 picks a free one). Used only with a certificate.</summary>
    public int Port { get; set; } = 8883;

    /// <summary>The server certificate: a PFX/PKCS#12 file, or a PEM file (with <see cref="KeyPath"/> for its key if separate). Empty: no TLS listener.</summary>
    public string CertificatePath { get; set; } = string.Empty;

    /// <summary>The PEM private key of <see cref="CertificatePath"/> when it is not in the same file.</summary>
    public string KeyPath { get; set; } = string.Empty;

    /// <summary>The PFX password, if any.</summary>
    public string CertificatePassword { get; set; } = string.Empty;

    /// <summary>
    /// A PEM file of the CA certificate(s) that sign gateway certificates. Set: mutual TLS, every TLS client must show a
    /// certificate chaining to this CA, and its subject CN is its gateway id (no password needed). Empty: server-side TLS only.
    /// </summary>
    public string ClientCaPath { get; set; } = string.Empty;
}

/// <summary>Bounds on what one message and one gateway may create (refused with 0x97 quota exceeded beyond them, counted).</summary>
public sealed class BoundsOptions
{
    /// <summary>Most readings in one message (default 10000: ten times a gateway's default batch). 1 to 1000000.</summary>
    public int MaxReadingsPerMessage { get; set; } = 10_000;

    /// <summary>Most channels one message may create (default 1000: a station has tens). 1 to 1000000.</summary>
    public int MaxNewSeriesPerMessage { get; set; } = 1_000;

    /// <summary>Most channels one gateway may have (default 5000; Bình Dương's IOC averages 29 per connection). 1 to 10000000.</summary>
    public int MaxSeriesPerGateway { get; set; } = 5_000;
}

/// <summary>HTTP API authentication: X-Api-Key (or Authorization: Bearer) with scope read or admin.</summary>
public sealed class ApiOptions
{
    /// <summary>
    /// <c>auto</c> (default): keys are required as soon as one exists (configured below or created with
    /// <c>ApiKeyStore.Create</c>), the API is open while none does (a first start, the demo); <c>key</c>: always
    /// required; <c>none</c>: open.
    /// </summary>
    public string Authentication { get; set; } = "auto";

    /// <summary>SHA-256 hashes (64 hex digits, ';'-separated) of keys with the read scope.</summary>
    public string ReadKeyHashes { get; set; } = string.Empty;

    /// <summary>SHA-256 hashes (64 hex digits, ';'-separated) of keys with the admin scope (admin includes read).</summary>
    public string AdminKeyHashes { get; set; } = string.Empty;

    /// <summary>
    /// Most items one response carries: latest values and raw history readings per page (<c>limit</c> at most this),
    /// readings of <c>/api/v1/readings</c>, and history buckets per request. Default 10000 (a page of latest values is
    /// then about 1.7 MB of JSON); 1 to 1000000. It bounds the memory and time one request may take.
    /// </summary>
    public int MaxItemsPerResponse { get; set; } = DefaultMaxItemsPerResponse;

    /// <summary>
    /// Items of a page of latest values or raw history readings when the request gives no <c>limit</c>. Default 1000;
    /// 1 to <see cref="MaxItemsPerResponse"/>.
    /// </summary>
    public int DefaultPageSize { get; set; } = DefaultDefaultPageSize;

    /// <summary>
    /// The widest <c>to - from</c> one history request may span, as [d.]hh:mm:ss. Default 400.00:00:00 (about 13 months:
    /// this year compared with the last); 1 hour to 36500 days. Longer ranges are asked for in several requests.
    /// </summary>
    public TimeSpan MaxHistoryRange { get; set; } = TimeSpan.FromDays(400);

    /// <summary>
    /// Live-stream events (<c>/api/v1/stream</c>) kept in memory so that a client reconnecting with Last-Event-ID gets
    /// what it missed; an older id gets a <c>resync</c> event. Default 65536 (about 16 s at 4,000 readings/s; each event
    /// holds one reading or status, a few hundred bytes once serialised); 1024 to 16777216.
    /// </summary>
    public int StreamReplayEvents { get; set; } = Live.LiveFeed.RingCapacity;

    /// <summary>
    /// Events queued for one stream client before its overflow is dropped (counted, and announced to it with a
    /// <c>dropped</c> event): ingest never waits for a slow client. Default 4096; 16 to 1048576.
    /// </summary>
    public int StreamClientQueue { get; set; } = Live.LiveFeed.ClientQueueCapacity;

    /// <summary>The default of <see cref="MaxItemsPerResponse"/>.</summary>
    public const int DefaultMaxItemsPerResponse = 10_000;

    /// <summary>The default of <see cref="DefaultPageSize"/>.</summary>
    public const int DefaultDefaultPageSize = 1_000;

    /// <summary>The problems of these limits, one line each starting with the full key; empty when valid.</summary>
    internal IEnumerable<string> LimitProblems()
    {
        const string P = "Aggregator:Api:";
        if (MaxItemsPerResponse is < 1 or > 1_000_000)
        {
            yield return $"{P}MaxItemsPerResponse is {MaxItemsPerResponse}: use 1-1000000 items (default 10000).";
        }
        else if (DefaultPageSize < 1 || DefaultPageSize > MaxItemsPerResponse)
        {
            yield return $"{P}DefaultPageSize is {DefaultPageSize}: use 1 to Aggregator:Api:MaxItemsPerResponse ({MaxItemsPerResponse}) items (default 1000).";
        }

        if (MaxHistoryRange < TimeSpan.FromHours(1) || MaxHistoryRange > TimeSpan.FromDays(36_500))
        {
            yield return $"{P}MaxHistoryRange is {MaxHistoryRange}: use 01:00:00 to 36500.00:00:00 (default 400.00:00:00).";
        }

        if (StreamReplayEvents is < 1_024 or > 16_777_216)
        {
            yield return $"{P}StreamReplayEvents is {StreamReplayEvents}: use 1024-16777216 events (default 65536).";
        }

        if (StreamClientQueue is < 16 or > 1_048_576)
        {
            yield return $"{P}StreamClientQueue is {StreamClientQueue}: use 16-1048576 events (default 4096).";
        }
    }
}

/// <summary>
/// An external MQTT 5 broker the aggregator subscribes to instead of running its own (issue 15: scale-out). Several
/// aggregator instances share the load through one shared subscription group (MQTT 5 §4.8.2); each message is
/// acknowledged (PUBACK) only after its commit, so a message an instance took but did not store is redelivered.
/// </summary>
public sealed class ExternalBrokerOptions
{
    /// <summary>The broker's host name or address; empty (the default) runs the embedded broker instead.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>The broker's TCP port (1883, MQTT's registered port; 8883 for MQTT over TLS).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>
    /// This instance's client id; it must be stable across restarts (the broker keeps this instance's session and
    /// queued messages under it) and differ between instances. Empty: "iocedge-aggregator-{host name}".
    /// </summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>The shared subscription group (MQTT 5 §4.8.2 <c>$share/{group}/…</c>); empty subscribes without sharing (one instance only).</summary>
    public string SharedGroup { get; set; } = "iocedge";

    /// <summary>The user name on the broker (a read-only consumer account in the broker's ACL); empty: anonymous.</summary>
    public string Username { get; set; } = string.Empty;

    /// <summary>That user's password (never logged).</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>Connect with TLS (the broker's certificate must be trusted by this machine).</summary>
    public string Tls { get; set; } = "off";

    /// <summary>
    /// MQTT 5 Receive Maximum (§3.1.2.11.3): messages the broker may have in flight to this instance unacknowledged,
    /// i.e. how many messages can wait for one group commit. 1-65535, default 1000. mosquitto also caps it with its
    /// <c>max_inflight_messages</c> (default 20): raise that to match.
    /// </summary>
    public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>
    /// MQTT 5 Session Expiry Interval (§3.1.2.11.2): how long the broker keeps this instance's session and queues its
    /// messages while it is down. Default 7 days; 00:00:00 loses them at every disconnect.
    /// </summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Longest wait between reconnection attempts (exponential backoff with full jitter from 0.5 s). Default 30 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The client id actually used (<see cref="ClientId"/> or the host-name default).</summary>
    public string EffectiveClientId =>
        ClientId.Length > 0 ? ClientId : "iocedge-aggregator-" + Environment.MachineName.ToLowerInvariant();
}

public sealed class IngestOptions
{
    /// <summary>
    /// Most readings written in one transaction (group commit across gateways). Default 100,000: with many slow series
    /// (1,000 gateways x 29 channels at 1 Hz) a commit's cost is the pages of every series it touches, so a commit must be
    /// able to hold several seconds of them; at 20,000 it could not keep up (docs/BENCHMARKS.md, "Scale").
    /// </summary>
    public int MaxReadingsPerCommit { get; set; } = 100_000;

    /// <summary>Messages waiting for the store before publishers are held back (their PUBACK waits).</summary>
    public int QueueCapacity { get; set; } = 4_096;
}

/// <summary>Section "Aggregator:Store": the engine that holds the readings.</summary>
public sealed class StoreOptions
{
    /// <summary>The engine name for the embedded SQLite file under <see cref="AggregatorOptions.DataDirectory"/> (the default).</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The engine name for a PostgreSQL server (<see cref="ConnectionString"/>).</summary>
    public const string Postgresql = "postgresql";

    /// <summary><c>sqlite</c> (default: one file, nothing to install) or <c>postgresql</c> (a server, for scale).</summary>
    public string Engine { get; set; } = Sqlite;

    /// <summary>
    /// The PostgreSQL connection string when <see cref="Engine"/> is <c>postgresql</c>, in Npgsql's keywords, such as
    /// <c>Host=db;Port=5432;Database=iocedge;Username=iocedge;Password=…</c>. The database must exist; the tables are
    /// created on first start. Its password is never logged.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// PostgreSQL only: connections a commit is written through in parallel, 1 to 16 (default 2). Each gateway always
    /// goes through the same one; each connection commits its gateways in a transaction of its own, so one's COPY
    /// overlaps another's commit. Each is a server backend per aggregator instance: mind the server's max_connections.
    /// </summary>
    public int WriteConnections { get; set; } = Storage.Postgres.PostgresReadingStore.DefaultWriteConnections;
}

/// <summary>
/// How far a reading's device timestamp (contract §4 <c>ts</c>) may lie from the aggregator's receive time before the
/// reading is flagged (contract §4.3). Flagged readings are stored, never dropped, but never become a channel's latest.
/// </summary>
public sealed class TimestampOptions
{
    /// <summary>
    /// How far ahead of the receive time a timestamp may be (default 5 minutes): NTP keeps a gateway within well under a
    /// second, so more than this is a clock that is wrong (an RTC reset to 2099, a GPS week-number rollover).
    /// Flagged <c>future</c>. 1 second to 1 day.
    /// </summary>
    public TimeSpan MaxFuture { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The backlog horizon: how far behind the receive time a timestamp may be (default 366 days). The gateway's outbox
    /// keeps readings until they are acknowledged, however long the link is down, so a year covers a station that
    /// was cut off for a whole wet season; anything older is a clock that was wrong when it read. Flagged
    /// <c>too_old</c>. 1 hour to 10 years.
    /// </summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(366);

    /// <summary>
    /// No IocEdge software measured anything before this instant (default 2020-01-01T00:00:00Z, before the project
    /// existed): an earlier timestamp is an unset clock (1970-01-01 after a power cut without RTC, 0001-01-01 from a
    /// default date). Flagged <c>before_epoch</c>, which takes precedence over <c>too_old</c>. Must be in UTC.
    /// </summary>
    public DateTimeOffset Floor { get; set; } = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
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

        if (options.Mqtt.MaxPendingMessagesPerClient is < 1 or > 1_000_000)
        {
            errors.Add("Aggregator:Mqtt:MaxPendingMessagesPerClient must be 1-1000000 (default 1000).");
        }

        Security.SecurityOptionsValidation.Validate(options, errors);
        errors.AddRange(options.Api.LimitProblems());
        errors.AddRange(Provisioning.EnrolmentOptions.Problems(options.Enrolment));

        if (options.Ingest.MaxReadingsPerCommit is < 1 or > 1_000_000)
        {
            errors.Add("Aggregator:Ingest:MaxReadingsPerCommit must be 1-1000000 (default 100000).");
        }

        if (options.Ingest.QueueCapacity < 1)
        {
            errors.Add("Aggregator:Ingest:QueueCapacity must be at least 1 (default 4096).");
        }

        var t = options.Timestamps;
        if (t.MaxFuture < TimeSpan.FromSeconds(1) || t.MaxFuture > TimeSpan.FromDays(1))
        {
            errors.Add($"Aggregator:Timestamps:MaxFuture is {t.MaxFuture}: use 00:00:01 to 1.00:00:00 (default 00:05:00).");
        }

        if (t.MaxAge < TimeSpan.FromHours(1) || t.MaxAge > TimeSpan.FromDays(3653))
        {
            errors.Add($"Aggregator:Timestamps:MaxAge is {t.MaxAge}: use 01:00:00 to 3653.00:00:00 (default 366.00:00:00).");
        }

        if (t.Floor.Offset != TimeSpan.Zero || t.Floor.Year < 1990)
        {
            errors.Add($"Aggregator:Timestamps:Floor is {t.Floor:O}: give a UTC instant from 1990 on, such as 2020-01-01T00:00:00Z (the default).");
        }

        var x = options.ExternalBroker;
        if (x.Host.Length > 0)
        {
            if (Uri.CheckHostName(x.Host) == UriHostNameType.Unknown)
            {
                errors.Add($"Aggregator:ExternalBroker:Host '{x.Host}' is not a host name or address: give one such as 127.0.0.1 or mqtt.example.org, or leave it empty for the embedded broker.");
            }

            if (x.Port is < 1 or > 65535)
            {
                errors.Add($"Aggregator:ExternalBroker:Port is {x.Port}: use 1-65535 (1883 for MQTT, 8883 for MQTT over TLS).");
            }

            if (x.SharedGroup.AsSpan().IndexOfAny("/+#$ ") >= 0)
            {
                errors.Add($"Aggregator:ExternalBroker:SharedGroup '{x.SharedGroup}' may not contain '/', '+', '#', '$' or spaces (MQTT 5 §4.8.2): use a word such as iocedge.");
            }

            if (x.ClientId.Length > 0 && (x.ClientId.Length > 64 || x.ClientId.AsSpan().IndexOfAny("/+# ") >= 0))
            {
                errors.Add($"Aggregator:ExternalBroker:ClientId '{x.ClientId}' must be 1-64 characters without '/', '+', '#' or spaces: use one per instance, such as iocedge-aggregator-2.");
            }

            if (x.Tls is not ("off" or "on"))
            {
                errors.Add($"Aggregator:ExternalBroker:Tls is '{x.Tls}': write on or off.");
            }

            if (x.ReceiveMaximum is < 1 or > 65535)
            {
                errors.Add($"Aggregator:ExternalBroker:ReceiveMaximum is {x.ReceiveMaximum}: use 1-65535 (default 1000).");
            }

            if (x.SessionExpiry < TimeSpan.Zero || x.SessionExpiry.TotalSeconds > uint.MaxValue)
            {
                errors.Add($"Aggregator:ExternalBroker:SessionExpiry is {x.SessionExpiry}: use 00:00:00 to 49000.00:00:00 (default 7.00:00:00).");
            }

            if (x.ReconnectMaxDelay < TimeSpan.FromSeconds(1) || x.ReconnectMaxDelay > TimeSpan.FromHours(1))
            {
                errors.Add($"Aggregator:ExternalBroker:ReconnectMaxDelay is {x.ReconnectMaxDelay}: use 00:00:01 to 01:00:00 (default 00:00:30).");
            }
        }
        ValidateStore(options.Store, errors);

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

    private static void ValidateStore(StoreOptions store, List<string> errors)
    {
        var engine = store.Engine.Trim().ToLowerInvariant();
        if (engine is not (StoreOptions.Sqlite or StoreOptions.Postgresql))
        {
            errors.Add($"Aggregator:Store:Engine is '{store.Engine}': use sqlite (the default, one file under DataDirectory) or postgresql.");
            return;
        }

        if (store.WriteConnections is < 1 or > Storage.Postgres.PostgresReadingStore.MaxWriteConnections)
        {
            errors.Add($"Aggregator:Store:WriteConnections is {store.WriteConnections}: give 1 to {Storage.Postgres.PostgresReadingStore.MaxWriteConnections} " +
                $"(default {Storage.Postgres.PostgresReadingStore.DefaultWriteConnections}; PostgreSQL connections a commit is written through).");
        }

        if (engine != StoreOptions.Postgresql)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(store.ConnectionString))
        {
            errors.Add("Aggregator:Store:ConnectionString is empty but Aggregator:Store:Engine is postgresql: give one such as " +
                "Host=127.0.0.1;Port=5432;Database=iocedge;Username=iocedge;Password=... (the database must exist).");
            return;
        }

        try
        {
            var csb = new Npgsql.NpgsqlConnectionStringBuilder(store.ConnectionString);
            if (string.IsNullOrWhiteSpace(csb.Host))
            {
                errors.Add("Aggregator:Store:ConnectionString has no Host: add Host=<server> (such as Host=127.0.0.1).");
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // The value itself is not repeated: it may hold the password.
            errors.Add("Aggregator:Store:ConnectionString is not a PostgreSQL connection string (" + FirstLine(ex.Message) +
                "): write Key=value pairs separated by ';', such as Host=127.0.0.1;Port=5432;Database=iocedge;Username=iocedge;Password=...");
        }
    }

    private static string FirstLine(string message) =>
        message.Split('\n', 2)[0].Trim().TrimEnd('.');
}
