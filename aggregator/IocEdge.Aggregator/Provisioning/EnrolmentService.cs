using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>A refusal the HTTP API turns into a problem response: the HTTP status and a detail naming the fix.</summary>
public sealed class ProvisioningException(int status, string reason, string message) : Exception(message)
{
    /// <summary>400 (bad input), 403 (token refused), 404 (unknown gateway), 409 (conflict), 503 (broker not available).</summary>
    public int Status { get; } = status;

    /// <summary>A stable label (<c>unknown</c>, <c>used</c>, <c>expired</c>, <c>wrong_gateway</c>, <c>bad_request</c>...).</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// What a gateway receives when it enrols (or what an offline bundle holds): its MQTT account, where the broker is, a
/// client certificate when it sent a CSR and a CA is configured, and its initial configuration (version and document).
/// </summary>
public sealed record EnrolmentGrant(string Gateway, string BrokerHost, int BrokerPort, int BrokerTlsPort, string Username, string Password,
    string? CertificatePem, string? CaCertificatePem, long? ConfigVersion, JsonObject? Config)
{
    /// <summary>The JSON document of contract §9.3 (the enrol response; with <paramref name="bundle"/> the offline bundle file).</summary>
    public JsonObject ToJson(bool bundle = false, DateTimeOffset? createdAt = null)
    {
        var o = new JsonObject();
        if (bundle)
        {
            o["kind"] = "iocedge-enrolment-bundle";
            o["created_at"] = createdAt is { } c ? EnrolmentTokens.Stamp(c) : null;
        }

        o["gateway"] = Gateway;
        o["mqtt"] = new JsonObject
        {
            ["host"] = BrokerHost,
            ["port"] = BrokerPort,
            ["tls_port"] = BrokerTlsPort == 0 ? null : BrokerTlsPort,
            ["username"] = Username,
            ["password"] = Password,
        };
        o["certificate"] = CertificatePem;
        o["ca_certificate"] = CaCertificatePem;
        o["config"] = Config is null ? null : new JsonObject { ["version"] = ConfigVersion, ["config"] = Config.DeepClone() };
        return o;
    }
}

/// <summary>
/// Enrolment, the gateway registry's actions and the configuration push (issue 16). The library API the HTTP routes,
/// the <c>iocedge-aggregator token-add|bundle-export</c> verbs and (later) <c>iocedge provision</c> all call.
/// Refused tokens are counted in <c>iocedge.enrolment.refusals{reason}</c>, grants in <c>iocedge.enrolment.grants</c>.
/// </summary>
public sealed class EnrolmentService
{
    private readonly AggregatorOptions _options;
    private readonly CredentialStore _credentials;
    private readonly TimeProvider _time;
    private readonly IGatewayBrokerControl? _broker;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _grants;
    private long _refused;

    public EnrolmentService(IOptions<AggregatorOptions> options, CredentialStore credentials, GatewayRegistry registry, TimeProvider time,
        IMeterFactory meters, IGatewayBrokerControl? broker = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _options = options.Value;
        _credentials = credentials;
        Registry = registry;
        _time = time;
        _broker = broker;
        Tokens = new EnrolmentTokens(Path.Combine(_options.DataDirectory, "enrolment-tokens.json"), time);
        var meter = meters.Create(SecurityMetrics.MeterName);
        _refusals = meter.CreateCounter<long>("iocedge.enrolment.refusals", "{request}", "Enrolment tokens refused, by reason (unknown, used, expired, wrong_gateway)");
        _grants = meter.CreateCounter<long>("iocedge.enrolment.grants", "{request}", "Gateways enrolled with a token");
    }

    public EnrolmentTokens Tokens { get; }

    public GatewayRegistry Registry { get; }

    /// <summary>Enrolment requests refused since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Creates a one-time token (lifetime default <c>Enrolment:TokenLifetime</c>), optionally bound to a gateway id and carrying its initial configuration.</summary>
    /// <exception cref="ProvisioningException">400: bad gateway id, lifetime or configuration document.</exception>
    public (string Token, DateTimeOffset ExpiresAt) CreateToken(string? gatewayId, TimeSpan? lifetime, JsonObject? config)
    {
        CheckConfig(config);
        try
        {
            return Tokens.Create(gatewayId, lifetime ?? _options.Enrolment.TokenLifetime, config);
        }
        catch (ArgumentException ex)
        {
            throw new ProvisioningException(400, "bad_request", ex.Message);
        }
    }

    /// <summary>
    /// Exchanges a token for the gateway's credentials (a new random password: any earlier one stops working), a client
    /// certificate if <paramref name="csrPem"/> is given and a CA is configured, and the attached configuration, which
    /// also becomes the gateway's desired configuration (published retained on its config topic).
    /// </summary>
    /// <param name="token">The one-time token (<c>iet_…</c>).</param>
    /// <param name="gatewayId">The id the gateway will use (contract §2).</param>
    /// <param name="csrPem">A PEM PKCS#10 request whose subject CN is <paramref name="gatewayId"/>, or null.</param>
    /// <param name="requestHost">The host name the caller used to reach the API (the broker host when <c>Enrolment:BrokerHost</c> is empty).</param>
    /// <exception cref="ProvisioningException">400 bad id or CSR; 403 token unknown, used, expired or for another gateway (counted).</exception>
    public async Task<EnrolmentGrant> EnrolAsync(string token, string gatewayId, string? csrPem, string requestHost)
    {
        if (!Identifiers.IsValidGatewayId(gatewayId))
        {
            throw new ProvisioningException(400, "bad_request", $"gateway_id '{Bounded.Text(gatewayId ?? string.Empty, 64)}' is not a gateway id (contract §2: lower-case letters, digits and '-', 1-64, such as gw-01).");
        }

        // A CSR is checked before the token is spent, so a bad CSR does not burn a one-time token.
        var signer = csrPem is null ? null : CheckCsr(csrPem, gatewayId);
        var redeemed = Tokens.TryRedeem(token ?? string.Empty, gatewayId, out var refusal);
        if (redeemed is null)
        {
            var reason = refusal switch
            {
                TokenRefusal.Used => "used",
                TokenRefusal.Expired => "expired",
                TokenRefusal.WrongGateway => "wrong_gateway",
                _ => "unknown",
            };
            Interlocked.Increment(ref _refused);
            _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
            throw new ProvisioningException(403, reason, reason switch
            {
                "used" => "this enrolment token was already used (tokens are one-time): ask the administrator for a new one (iocedge-aggregator token-add).",
                "expired" => "this enrolment token has expired: ask the administrator for a new one (iocedge-aggregator token-add).",
                "wrong_gateway" => $"this enrolment token was made for another gateway id than {gatewayId}: use the id it was made for, or ask for a new token.",
                _ => "unknown enrolment token: check it was copied whole (it starts with iet_), or ask the administrator for a new one.",
            });
        }

        _grants.Add(1);
        return await GrantAsync(gatewayId, redeemed.Config, signer, requestHost).ConfigureAwait(false);
    }

    /// <summary>
    /// The offline bundle: the token exchange done in advance by the admin, for a pole with no signal. The returned
    /// grant holds the gateway's new password (written to a file by the caller; treat it as a secret).
    /// </summary>
    public Task<EnrolmentGrant> ExportBundleAsync(string gatewayId, JsonObject? config, string brokerHost)
    {
        if (!Identifiers.IsValidGatewayId(gatewayId))
        {
            throw new ProvisioningException(400, "bad_request", $"'{Bounded.Text(gatewayId ?? string.Empty, 64)}' is not a gateway id (contract §2).");
        }

        CheckConfig(config);
        return GrantAsync(gatewayId, config, null, brokerHost);
    }

    /// <summary>Revokes a gateway: removes its account, refuses its id at CONNECT from now on, disconnects it if connected.</summary>
    /// <exception cref="ProvisioningException">404 when the gateway is unknown.</exception>
    public async Task RevokeAsync(string gatewayId)
    {
        if (Registry.Find(gatewayId) is null)
        {
            throw new ProvisioningException(404, "unknown_gateway", $"no gateway {Bounded.Text(gatewayId, 64)} in the registry: GET /api/v1/admin/gateways lists them.");
        }

        _credentials.Remove(gatewayId);
        Registry.Revoked(gatewayId);
        if (_broker is not null)
        {
            await _broker.DisconnectAsync(gatewayId).ConfigureAwait(false);
        }
    }

    /// <summary>Gives a gateway a new password (returned once) and disconnects its current session, which used the old one.</summary>
    /// <exception cref="ProvisioningException">404 unknown gateway; 409 when it is revoked (enrol it again instead).</exception>
    public async Task<string> RotateAsync(string gatewayId)
    {
        var entry = Registry.Find(gatewayId) ?? throw new ProvisioningException(404, "unknown_gateway",
            $"no gateway {Bounded.Text(gatewayId, 64)} in the registry: GET /api/v1/admin/gateways lists them.");
        if (entry.Credential == CredentialStates.Revoked)
        {
            throw new ProvisioningException(409, "revoked", $"{gatewayId} is revoked: enrol it again with a new token instead of rotating.");
        }

        var password = _credentials.AddGateway(gatewayId);
        Registry.Rotated(gatewayId);
        if (_broker is not null)
        {
            await _broker.DisconnectAsync(gatewayId).ConfigureAwait(false);
        }

        return password;
    }

    /// <summary>
    /// Stores <paramref name="config"/> as the gateway's next configuration version and publishes it retained, QoS 1, on
    /// <c>iocedge/v1/{id}/config</c> (contract §9.1). Returns the version.
    /// </summary>
    /// <exception cref="ProvisioningException">400 bad id or document; 503 when no embedded broker runs (external-broker mode).</exception>
    public async Task<long> PushConfigAsync(string gatewayId, JsonObject config)
    {
        if (!Identifiers.IsValidGatewayId(gatewayId))
        {
            throw new ProvisioningException(400, "bad_request", $"'{Bounded.Text(gatewayId ?? string.Empty, 64)}' is not a gateway id (contract §2).");
        }

        CheckConfig(config);
        if (_broker is null)
        {
            throw new ProvisioningException(503, "no_broker", "configuration push needs the embedded broker (Aggregator:ExternalBroker:Host is set): not supported yet in external-broker mode.");
        }

        var version = Registry.StoreDesiredConfig(gatewayId, config);
        await PublishConfigAsync(gatewayId, version, config).ConfigureAwait(false);
        return version;
    }

    /// <summary>
    /// Sends an output command (contract §10.1) to a connected gateway: <paramref name="active"/> to hold a state, or
    /// <paramref name="pulse"/> to drive the opposite of the output's safe state for that long. Not retained: a gateway
    /// that is not connected now is refused (409) rather than surprised later. The gateway's report arrives on
    /// <c>…/command/ack</c> and is kept in the registry (<see cref="GatewayRegistry.Outputs"/>). Returns the command id.
    /// </summary>
    /// <exception cref="ProvisioningException">400 bad id, output or action; 409 gateway not connected; 503 no embedded broker.</exception>
    public async Task<string> CommandOutputAsync(string gatewayId, string output, bool? active, TimeSpan? pulse)
    {
        if (!Identifiers.IsValidGatewayId(gatewayId) || !OutputCommandTopics.IsId(output))
        {
            throw new ProvisioningException(400, "bad_request", $"'{Bounded.Text(gatewayId ?? string.Empty, 64)}/{Bounded.Text(output ?? string.Empty, 64)}' is not a gateway id and an output id (contract §2, §10.1).");
        }

        if ((active is null) == (pulse is null) || pulse is { } p && (p <= TimeSpan.Zero || p > TimeSpan.FromHours(1)))
        {
            throw new ProvisioningException(400, "bad_request", "give either \"active\": true|false (hold a state) or \"pulse_s\": seconds, more than 0 and at most 3600 (contract §10.1).");
        }

        if (_broker is null)
        {
            throw new ProvisioningException(503, "no_broker", "output commands need the embedded broker (Aggregator:ExternalBroker:Host is set): not supported yet in external-broker mode.");
        }

        if (!(await _broker.ConnectedClientsAsync().ConfigureAwait(false)).Contains(gatewayId))
        {
            throw new ProvisioningException(409, "not_connected", $"{gatewayId} is not connected now: commands are not kept for later (contract §10.1); try again when it is online (GET /api/v1/gateways).");
        }

        var id = "c-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var command = new OutputCommand(gatewayId, id, output, active is null ? OutputCommandTopics.Pulse : OutputCommandTopics.Set, active ?? false, pulse ?? TimeSpan.Zero);
        await _broker.PublishAsync(OutputCommandTopics.Command(gatewayId), Encoding.UTF8.GetBytes(OutputCommandTopics.Message(command).ToJsonString()), retain: false)
            .ConfigureAwait(false);
        return id;
    }

    /// <summary>Publishes every stored desired configuration again (the embedded broker keeps retained messages in memory only).</summary>
    public async Task RepublishAllAsync()
    {
        foreach (var id in Registry.GatewaysWithConfig().Where(i => Identifiers.IsValidGatewayId(i)))
        {
            if (Registry.DesiredConfig(id) is { } desired)
            {
                await PublishConfigAsync(id, desired.Version, desired.Config).ConfigureAwait(false);
            }
        }
    }

    private Task PublishConfigAsync(string gatewayId, long version, JsonObject config) =>
        _broker!.PublishAsync(ConfigTopics.Config(gatewayId), Encoding.UTF8.GetBytes(IocEdge.Protocols.Mqtt.ConfigTopics.Message(gatewayId, version, config).ToJsonString()), retain: true);

    private async Task<EnrolmentGrant> GrantAsync(string gatewayId, JsonObject? config, CertificateRequest? csr, string brokerHost)
    {
        var password = _credentials.AddGateway(gatewayId);
        Registry.Enrolled(gatewayId);
        string? certificate = null, ca = null;
        if (csr is not null)
        {
            (certificate, ca) = Sign(csr);
        }

        long? version = null;
        if (config is not null)
        {
            version = Registry.StoreDesiredConfig(gatewayId, config);
            if (_broker is not null)
            {
                await PublishConfigAsync(gatewayId, version.Value, config).ConfigureAwait(false);
            }
        }

        var host = string.IsNullOrEmpty(_options.Enrolment.BrokerHost) ? brokerHost : _options.Enrolment.BrokerHost;
        var tlsPort = string.IsNullOrEmpty(_options.Mqtt.Tls.CertificatePath) ? 0 : _options.Mqtt.Tls.Port;
        var port = _broker is IBrokerPorts ports ? ports.Port : _options.Mqtt.Port;
        if (_broker is IBrokerPorts p2 && p2.TlsPort != 0)
        {
            tlsPort = p2.TlsPort;
        }

        return new EnrolmentGrant(gatewayId, host, port, tlsPort, gatewayId, password, certificate, ca, version, config);
    }

    private CertificateRequest CheckCsr(string csrPem, string gatewayId)
    {
        if (string.IsNullOrEmpty(_options.Enrolment.CaCertificatePath))
        {
            throw new ProvisioningException(400, "no_ca", "a CSR was sent but this aggregator has no CA (Aggregator:Enrolment:CaCertificatePath/CaKeyPath): enrol without a CSR and use the password.");
        }

        CertificateRequest request;
        try
        {
            // Verifies the CSR's self-signature (proof of possession of its private key).
            request = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (CryptographicException ex)
        {
            throw new ProvisioningException(400, "bad_csr", $"csr is not a valid PEM certificate signing request ({ex.Message}): make one with openssl req -new -key gw.key -subj /CN={gatewayId}.");
        }

        var cn = request.SubjectName.Name.Split(',').Select(s => s.Trim()).FirstOrDefault(s => s.StartsWith("CN=", StringComparison.Ordinal))?[3..];
        if (cn != gatewayId)
        {
            throw new ProvisioningException(400, "bad_csr", $"the CSR's subject CN is '{Bounded.Text(cn ?? string.Empty, 64)}', not the gateway id {gatewayId} (the broker reads the gateway id from the CN).");
        }

        return request;
    }

    private (string Certificate, string Ca) Sign(CertificateRequest request)
    {
        var e = _options.Enrolment;
        using var ca = X509Certificate2.CreateFromPemFile(e.CaCertificatePath, e.CaKeyPath);
        request.CertificateExtensions.Clear();
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false)); // id-kp-clientAuth, RFC 5280 §4.2.1.12
        var now = _time.GetUtcNow();
        var notAfter = now + e.CertificateLifetime < ca.NotAfter ? now + e.CertificateLifetime : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        using var issued = request.Create(ca, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        return (issued.ExportCertificatePem(), ca.ExportCertificatePem());
    }

    private static void CheckConfig(JsonObject? config)
    {
        if (config is null)
        {
            return;
        }

        var unknown = config.Select(p => p.Key).Where(k => !ConfigTopics.Sections.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
        {
            throw new ProvisioningException(400, "bad_config",
                $"config has {string.Join(", ", unknown.Select(k => $"'{Bounded.Text(k, 64)}'"))}: a remote configuration holds only the sections {string.Join(", ", ConfigTopics.Sections)} (contract §9.1).");
        }

        if (config["Mqtt"] is JsonObject mqtt && mqtt.Any(p => p.Key is "Username" or "Password"))
        {
            throw new ProvisioningException(400, "bad_config", "config.Mqtt may not set Username or Password: credentials come from enrolment or rotation only.");
        }
    }
}

/// <summary>The embedded broker's bound ports, for the enrolment answer.</summary>
public interface IBrokerPorts
{
    int Port { get; }

    int TlsPort { get; }
}
