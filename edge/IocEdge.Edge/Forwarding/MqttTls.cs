using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IocEdge.Edge.Configuration;
using MQTTnet;

namespace IocEdge.Edge.Forwarding;

/// <summary>What went wrong in a TLS connection to the broker, for the log, the forwarder's state and <c>iocedge doctor</c>.</summary>
public enum TlsFailureKind
{
    /// <summary>The broker's certificate does not chain to the configured CA (or, without CaFile, to the system store).</summary>
    UnknownCa,
    /// <summary>The broker's certificate does not carry the expected name (<c>Tls:ServerName</c>, else <c>Host</c>).</summary>
    NameMismatch,
    /// <summary>The broker's certificate (or its CA) is outside its validity period.</summary>
    Expired,
    /// <summary>The handshake worked, then the broker closed the connection: it refused (or wanted) our client certificate.</summary>
    ClientCertificateRefused,
    /// <summary>No TLS handshake at all (a clear-text port, a TLS version or cipher the peer does not offer).</summary>
    Handshake,
}

/// <summary>One TLS failure: its kind, what was found, and the fix (one line each).</summary>
public sealed record TlsFailure(TlsFailureKind Kind, string Detail, string Fix)
{
    public override string ToString() => $"{Detail}; fix: {Fix}";
}

/// <summary>A connection attempt failed for a TLS reason (<see cref="Failure"/>); the original error is the inner exception.</summary>
public sealed class MqttTlsException : Exception
{
    public MqttTlsException(TlsFailure failure, Exception inner)
        : base(failure?.ToString(), inner)
    {
        ArgumentNullException.ThrowIfNull(failure);
        Failure = failure;
    }

    public MqttTlsException()
    {
        Failure = new(TlsFailureKind.Handshake, "unknown", "see the log");
    }

    public MqttTlsException(string message)
        : base(message)
    {
        Failure = new(TlsFailureKind.Handshake, message, "see the log");
    }

    public MqttTlsException(string message, Exception inner)
        : base(message, inner)
    {
        Failure = new(TlsFailureKind.Handshake, message, "see the log");
    }

    public TlsFailure Failure { get; }
}

/// <summary>
/// TLS for the gateway's MQTT connections (<c>Gateway:Mqtt:Tls</c>): the start-up check of the PEM files
/// (<see cref="Problems"/>), and the MQTTnet TLS options (<see cref="CreateSession"/>) with a verifier that says why a
/// broker was not trusted. The broker's chain is built without revocation checking (a private CA publishes no CRL,
/// and a cellular link should not wait on one); its validity period is checked on the <see cref="TimeProvider"/>.
/// </summary>
public static class MqttTls
{
    /// <summary>MQTT's clear-text port (IANA); TLS on it is allowed (a broker may listen so) but warned about.</summary>
    public const int ClearTextPort = 1883;

    /// <summary>
    /// Every problem of <paramref name="mqtt"/>'s <c>Tls</c> section, one line each starting with the key path, the
    /// problem and the fix; empty when TLS is off or all is well. Reads the files (nothing else is touched).
    /// </summary>
    /// <param name="mqtt">The Mqtt section.</param>
    /// <param name="now">The time the client certificate must be valid at.</param>
    public static IReadOnlyList<string> Problems(GatewayMqttOptions mqtt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(mqtt);
        var tls = mqtt.Tls;
        var problems = new List<string>();
        if (!tls.Enabled)
        {
            return problems;
        }

        const string Key = "Gateway:Mqtt:Tls";
        if (!string.IsNullOrEmpty(tls.CaFile) && Read(tls.CaFile, $"{Key}:CaFile", "the CA certificate that signed the broker's (iocedge-ca.crt from `iocedge provision --csr`)", problems) is { } caText)
        {
            var cas = new X509Certificate2Collection();
            try
            {
                cas.ImportFromPem(caText);
            }
            catch (CryptographicException)
            {
                cas.Clear();
            }

            if (cas.Count == 0)
            {
                problems.Add($"{Key}:CaFile '{tls.CaFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA certificate that signed the broker's, such as the aggregator's iocedge-ca.crt.");
            }
            else if (cas.All(c => now > c.NotAfter.ToUniversalTime()))
            {
                problems.Add(Invariant($"{Key}:CaFile '{tls.CaFile}': the CA certificate expired on {cas[0].NotAfter.ToUniversalTime():yyyy-MM-dd}: get the CA's current certificate from the aggregator's administrator."));
            }

            foreach (var c in cas)
            {
                c.Dispose();
            }
        }

        var hasCert = !string.IsNullOrEmpty(tls.CertificateFile);
        var hasKey = !string.IsNullOrEmpty(tls.KeyFile);
        if (hasCert != hasKey)
        {
            problems.Add(hasCert
                ? $"{Key}:KeyFile is empty but CertificateFile is set: give the client certificate's private key (PEM), or remove CertificateFile to connect without one."
                : $"{Key}:CertificateFile is empty but KeyFile is set: give the client certificate (PEM) that goes with the key, or remove KeyFile.");
            return problems;
        }

        if (!hasCert)
        {
            return problems;
        }

        var certText = Read(tls.CertificateFile!, $"{Key}:CertificateFile", "this gateway's client certificate (written by `iocedge provision --csr`)", problems);
        var keyText = Read(tls.KeyFile!, $"{Key}:KeyFile", "the client certificate's private key", problems);
        X509Certificate2? cert = null;
        AsymmetricAlgorithm? key = null;
        try
        {
            if (certText is not null)
            {
                cert = LoadCertificate(certText);
                if (cert is null)
                {
                    problems.Add(certText.Contains("PRIVATE KEY-----", StringComparison.Ordinal)
                        ? $"{Key}:CertificateFile '{tls.CertificateFile}' holds a private key, not a certificate: swap CertificateFile and KeyFile, or give the PEM certificate (-----BEGIN CERTIFICATE-----)."
                        : $"{Key}:CertificateFile '{tls.CertificateFile}' is not a PEM certificate (-----BEGIN CERTIFICATE-----): give the client certificate the aggregator's CA issued.");
                }
                else if (now < cert.NotBefore.ToUniversalTime())
                {
                    problems.Add(Invariant($"{Key}:CertificateFile '{tls.CertificateFile}' is not valid before {cert.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (now {now.UtcDateTime:yyyy-MM-dd HH:mm}): set the clock (timedatectl, NTP) or use a certificate valid now."));
                }
                else if (now > cert.NotAfter.ToUniversalTime())
                {
                    problems.Add(Invariant($"{Key}:CertificateFile '{tls.CertificateFile}' expired on {cert.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC: renew it (a new token and `iocedge provision --csr`), or check the clock."));
                }
            }

            if (keyText is not null)
            {
                key = LoadKey(keyText, out var keyProblem);
                if (key is null)
                {
                    problems.Add($"{Key}:KeyFile '{tls.KeyFile}' {keyProblem}");
                }
            }

            if (cert is not null && key is not null && !Matches(cert, key))
            {
                problems.Add($"{Key}:KeyFile '{tls.KeyFile}' is not the key of CertificateFile '{tls.CertificateFile}' (their public keys differ): give the key the certificate request was made with.");
            }
        }
        finally
        {
            cert?.Dispose();
            key?.Dispose();
        }

        return problems;
    }

    /// <summary>A warning for the log, or null: TLS towards MQTT's clear-text port 1883 is unusual (TLS listeners use 8883).</summary>
    public static string? PortWarning(GatewayMqttOptions mqtt) =>
        mqtt is { Tls.Enabled: true, Port: ClearTextPort }
            ? "Gateway:Mqtt:Tls:Enabled is true with Gateway:Mqtt:Port 1883, MQTT's clear-text port: the broker's TLS listener is usually 8883 (the aggregator's Aggregator:Mqtt:Tls:Port)"
            : null;

    /// <summary>
    /// The TLS options for one connection attempt, and the verifier that records why the broker was refused. Reads the
    /// files again (a renewed certificate is taken at the next connection).
    /// </summary>
    /// <exception cref="CryptographicException">A file is no longer what the start-up check found (replaced since).</exception>
    /// <exception cref="IOException">A file cannot be read any more.</exception>
    public static TlsSession CreateSession(GatewayMqttOptions mqtt, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(mqtt);
        var tls = mqtt.Tls;
        X509Certificate2Collection? roots = null;
        if (!string.IsNullOrEmpty(tls.CaFile))
        {
            roots = [];
            roots.ImportFromPem(File.ReadAllText(tls.CaFile));
        }

        X509Certificate2? client = null;
        if (!string.IsNullOrEmpty(tls.CertificateFile) && !string.IsNullOrEmpty(tls.KeyFile))
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
            // Through PKCS#12: SslStream wants a key it can hand to OpenSSL, not the ephemeral one of a PEM import.
            client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }

        var serverName = string.IsNullOrWhiteSpace(tls.ServerName) ? mqtt.Host : tls.ServerName.Trim();
        return new TlsSession(roots, client, serverName, time);
    }

    private static string? Read(string path, string key, string what, List<string> problems)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            problems.Add($"{key} '{path}' is a relative path: give an absolute one (such as /etc/iocedge/{Path.GetFileName(path)}), {what}.");
            return null;
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            problems.Add($"{key} '{path}' does not exist: give {what}.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{key} '{path}' cannot be read ({ex.Message}): make it a file the gateway's user (iocedge) may read (key 0600, certificates 0644).");
        }

        return null;
    }

    private static X509Certificate2? LoadCertificate(string text)
    {
        try
        {
            return X509Certificate2.CreateFromPem(text);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static AsymmetricAlgorithm? LoadKey(string text, out string problem)
    {
        problem = string.Empty;
        if (text.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal))
        {
            problem = "is an encrypted key, which an unattended gateway cannot unlock: decrypt it (openssl pkey -in KEY -out KEY.plain), mode 0600.";
            return null;
        }

        if (!text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            problem = text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? "holds a certificate, not a private key: swap CertificateFile and KeyFile, or give the PEM private key (-----BEGIN PRIVATE KEY-----)."
                : "is not a PEM private key (-----BEGIN PRIVATE KEY-----): give the key the certificate request was made with.";
            return null;
        }

        foreach (var create in new Func<AsymmetricAlgorithm>[] { ECDsa.Create, RSA.Create })
        {
            var key = create();
            try
            {
                key.ImportFromPem(text);
                return key;
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                key.Dispose();
            }
        }

        problem = "is not a readable EC or RSA private key: give the PEM key (PKCS#8 or SEC1/PKCS#1, not encrypted) the certificate request was made with.";
        return null;
    }

    private static bool Matches(X509Certificate2 cert, AsymmetricAlgorithm key)
    {
        byte[]? certificateKey = key switch
        {
            ECDsa => cert.GetECDsaPublicKey()?.ExportSubjectPublicKeyInfo(),
            RSA => cert.GetRSAPublicKey()?.ExportSubjectPublicKeyInfo(),
            _ => null,
        };
        return certificateKey is not null && certificateKey.AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo());
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The TLS material of one connection attempt and its verifier. <see cref="Apply"/> puts it into an
/// <see cref="MqttClientOptionsBuilder"/>; after a failed attempt, <see cref="Explain"/> says what went wrong.
/// </summary>
public sealed class TlsSession : IDisposable
{
    private readonly X509Certificate2Collection? _roots;
    private readonly TimeProvider _time;
    private TlsFailure? _refused;

    internal TlsSession(X509Certificate2Collection? roots, X509Certificate2? client, string serverName, TimeProvider time)
    {
        _roots = roots;
        ClientCertificate = client;
        ServerName = serverName;
        _time = time;
    }

    /// <summary>The name the broker's certificate must carry (SNI and verification).</summary>
    public string ServerName { get; }

    /// <summary>Our client certificate (mutual TLS), or null.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The broker's certificate once the verifier has seen it (null before the handshake or when none came).</summary>
    public X509Certificate2? BrokerCertificate { get; private set; }

    /// <summary>The verifier accepted the broker's certificate (the handshake got that far).</summary>
    public bool BrokerTrusted { get; private set; }

    /// <summary>Sets TLS on <paramref name="builder"/>: target host, client certificate, and this session's verifier.</summary>
    public MqttClientOptionsBuilder Apply(MqttClientOptionsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithTlsOptions(o =>
        {
            o.UseTls()
             .WithTargetHost(ServerName)
             .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
             .WithRevocationMode(X509RevocationMode.NoCheck)
             .WithCertificateValidationHandler(Verify);
            if (ClientCertificate is not null)
            {
                o.WithClientCertificates([ClientCertificate]);
            }
        });
    }

    /// <summary>
    /// Why a connection attempt that threw <paramref name="error"/> failed, in TLS terms; null when TLS is not the
    /// reason (the broker was unreachable, or refused CONNECT with a reason code).
    /// </summary>
    public TlsFailure? Explain(Exception error)
    {
        if (_refused is not null)
        {
            return _refused;
        }

        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is MQTTnet.Adapter.MqttConnectingFailedException && Enum.GetValues<MqttClientConnectResultCode>().Any(c =>
                    c is not (MqttClientConnectResultCode.Success or MqttClientConnectResultCode.UnspecifiedError)
                    && e.Message.Contains(c.ToString(), StringComparison.Ordinal)))
            {
                return null; // a CONNACK came back: the TLS session worked
            }
        }

        var chain = Messages(error);
        if (BrokerTrusted)
        {
            return ClientCertificate is null
                ? new(TlsFailureKind.ClientCertificateRefused, $"the TLS handshake with the broker worked, then it closed the connection ({chain}): it most likely requires a client certificate",
                    "set Gateway:Mqtt:Tls:CertificateFile and KeyFile (`iocedge provision --csr` makes them), or use the broker's password listener")
                : new(TlsFailureKind.ClientCertificateRefused,
                    $"the broker closed the connection after the TLS handshake ({chain}): it did not accept the client certificate '{ClientCertificate.Subject}' issued by '{ClientCertificate.Issuer}'",
                    "the broker trusts another CA, or the certificate was revoked or expired: enrol again (`iocedge provision --csr` with a new token), or ask the aggregator's administrator");
        }

        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException || (e is IOException && e.InnerException is null && BrokerCertificate is null
                                                 && e.Message.Contains("frame", StringComparison.OrdinalIgnoreCase)))
            {
                return new(TlsFailureKind.Handshake, $"no TLS handshake with the broker ({chain})",
                    "check that Gateway:Mqtt:Port is the broker's TLS port (8883, the aggregator's Aggregator:Mqtt:Tls:Port), not its clear-text one");
            }
        }

        return null;
    }

    public void Dispose()
    {
        ClientCertificate?.Dispose();
        BrokerCertificate?.Dispose();
        if (_roots is not null)
        {
            foreach (var r in _roots)
            {
                r.Dispose();
            }
        }
    }

    private bool Verify(MqttClientCertificateValidationEventArgs e)
    {
        if (e.Certificate is null || (e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            _refused = new(TlsFailureKind.Handshake, "the broker sent no certificate", "check that Gateway:Mqtt:Port is the broker's TLS port");
            return false;
        }

        var leaf = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
        BrokerCertificate?.Dispose();
        BrokerCertificate = leaf;
        if ((e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            _refused = new(TlsFailureKind.NameMismatch,
                $"the broker's certificate is for {Names(leaf)}, not '{ServerName}'",
                $"set Gateway:Mqtt:Tls:ServerName to one of the certificate's names (or Gateway:Mqtt:Host), or have the broker's certificate issued for '{ServerName}'");
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        if (_roots is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        }

        if (e.Chain is not null)
        {
            foreach (var element in e.Chain.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the broker sent
            }
        }

        if (!chain.Build(leaf))
        {
            var statuses = chain.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);
            _refused = (statuses & X509ChainStatusFlags.NotTimeValid) != 0
                ? new(TlsFailureKind.Expired,
                    string.Create(CultureInfo.InvariantCulture, $"the broker's certificate (or its CA) is not valid now: valid {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd} to {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd}, now {_time.GetUtcNow():yyyy-MM-dd}"),
                    "check this gateway's clock (timedatectl), or ask the aggregator's administrator to renew the broker's certificate")
                : new(TlsFailureKind.UnknownCa,
                    _roots is null
                        ? $"the broker's certificate (issued by '{leaf.Issuer}') does not chain to a CA of the system trust store"
                        : $"the broker's certificate (issued by '{leaf.Issuer}') was not signed by the CA in Gateway:Mqtt:Tls:CaFile ({string.Join(", ", _roots.Select(r => "'" + r.Subject + "'"))})",
                    "set Gateway:Mqtt:Tls:CaFile to the CA certificate that signed the broker's (the aggregator's iocedge-ca.crt from `iocedge provision --csr`)");
            return false;
        }

        _refused = null;
        BrokerTrusted = true;
        return true;
    }

    private static string Names(X509Certificate2 cert)
    {
        var names = new List<string>();
        foreach (var extension in cert.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
                names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
            }
        }

        return names.Count > 0 ? string.Join(", ", names.Select(n => "'" + n + "'")) : $"'{cert.GetNameInfo(X509NameType.SimpleName, false)}'";
    }

    private static string Messages(Exception error)
    {
        var parts = new List<string>();
        for (var e = error; e is not null && parts.Count < 3; e = e.InnerException)
        {
            parts.Add(e.Message);
        }

        return string.Join(": ", parts.Distinct());
    }
}
