using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Security": the TLS listener and mutual TLS (client certificate CN = gateway id). A throwaway CA, server and
/// client certificates are made here with CertificateRequest and written as PEM files, as an operator's would be.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator-tls");
    private readonly int _tlsPort = FreePort.Next();
    private X509Certificate2 _ca = null!;
    private ECDsa _caKey = null!;
    private TestAggregator _aggregator = null!;

    public async Task InitializeAsync()
    {
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=IocEdge test CA", _caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        var (server, serverKey) = Issue(_ca, _caKey, "localhost", server: true);
        await File.WriteAllTextAsync(_dir.File("server.pem"), server.ExportCertificatePem());
        await File.WriteAllTextAsync(_dir.File("server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(_dir.File("ca.pem"), _ca.ExportCertificatePem());
        await File.WriteAllTextAsync(_dir.File("ca.key"), _caKey.ExportPkcs8PrivateKeyPem());
        server.Dispose();
        serverKey.Dispose();

        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:Tls:Port"] = _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:Mqtt:Tls:CertificatePath"] = _dir.File("server.pem"),
            ["Aggregator:Mqtt:Tls:KeyPath"] = _dir.File("server.key"),
            ["Aggregator:Mqtt:Tls:ClientCaPath"] = _dir.File("ca.pem"),
            // The same CA signs the CSRs of enrolling gateways (issue 16, iocedge provision --csr).
            ["Aggregator:Enrolment:CaCertificatePath"] = _dir.File("ca.pem"),
            ["Aggregator:Enrolment:CaKeyPath"] = _dir.File("ca.key"),
        }));
    }

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _ca.Dispose();
        _caKey.Dispose();
        _dir.Dispose();
    }

    internal static (X509Certificate2 Cert, ECDsa Key) Issue(X509Certificate2 ca, ECDsa caKey, string cn, bool server)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(8);
        var signer = X509SignatureGenerator.CreateForECDsa(caKey);
        using var cert = request.Create(ca.SubjectName, signer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), serial);
        using var withKey = cert.CopyWithPrivateKey(key);
        // Through PKCS#12 so SslStream on Linux can use the key.
        return (X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null), key);
    }

    private async Task<IMqttClient> ConnectTlsAsync(string clientId, X509Certificate2? clientCertificate)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var ca = _ca;
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _tlsPort).WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10))
            .WithTlsOptions(o =>
            {
                o.UseTls().WithTargetHost("localhost")
                 .WithCertificateValidationHandler(e => e.Certificate is not null &&
                     X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData()).Issuer == ca.Subject);
                if (clientCertificate is not null)
                {
                    o.WithClientCertificates([clientCertificate]);
                }
            })
            .Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            // MQTTnet 5 returns some CONNACK refusals instead of throwing: the same exception either way.
            client.Dispose();
            throw new MQTTnet.Adapter.MqttConnectingFailedException($"refused ({result.ResultCode}).", null!);
        }

        return client;
    }

    private static byte[] Readings(string gateway) => ReadingBatchJson.Encode(new ReadingBatch(gateway, "s1",
        [new SequencedReading(1, new Reading("env1/pm2_5", DateTimeOffset.UtcNow.AddSeconds(-1), 12.5, "ug/m3", Quality.Good))]));

    [Fact]
    public async Task A_gateway_with_a_certificate_from_the_CA_connects_as_its_CN_and_its_readings_are_stored()
    {
        var (cert, key) = Issue(_ca, _caKey, "gw-tls", server: false);
        using (cert)
        using (key)
        {
            Assert.True(IocEdge.Aggregator.Security.TlsCertificates.ChainsTo(cert, IocEdge.Aggregator.Security.TlsCertificates.LoadCaBundle(_dir.File("ca.pem"))), "chain");
            Assert.True(cert.HasPrivateKey, "key");
            using var client = await ConnectTlsAsync("gw-tls", cert);
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-tls/readings")
                .WithPayload(Readings("gw-tls")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.True((int)result.ReasonCode < 0x80, result.ReasonCode.ToString());
            Assert.Single(_aggregator.Store.Latest("gw-tls"));

            // Its certificate makes it gw-tls and nothing else: another gateway's topic is refused.
            var other = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-x/readings")
                .WithPayload(Readings("gw-x")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, other.ReasonCode);
        }
    }

    [Fact]
    [Trait("Acceptance", "technician")]
    public async Task A_gateway_enrolled_with_a_csr_gets_a_certificate_from_the_ca_that_the_mutual_tls_listener_accepts_as_it()
    {
        // Issue 16: enrol with a one-time token and a CSR (the key never leaves the gateway); the aggregator's CA signs it.
        using var http = new HttpClient { BaseAddress = new Uri(_aggregator.Url) };
        // With mutual TLS configured the API requires keys (Authentication=auto): the admin's key, the enrolling gateway none.
        var adminKey = _aggregator.Services.GetRequiredService<IocEdge.Aggregator.Security.ApiKeyStore>()
            .Create(IocEdge.Aggregator.Security.ApiScopes.Admin, "test-admin");
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/admin/enrolment-tokens", UriKind.Relative))
        {
            Content = new StringContent("""{ "gateway_id": "gw-csr" }""", System.Text.Encoding.UTF8, "application/json"),
        };
        tokenRequest.Headers.Add("X-Api-Key", adminKey);
        using var tokenResponse = await http.SendAsync(tokenRequest);
        Assert.Equal(System.Net.HttpStatusCode.Created, tokenResponse.StatusCode);
        var token = (string)System.Text.Json.Nodes.JsonNode.Parse(await tokenResponse.Content.ReadAsStringAsync())!["token"]!;

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=gw-csr", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var body = new System.Text.Json.Nodes.JsonObject { ["token"] = token, ["gateway_id"] = "gw-csr", ["csr"] = csr };
        using var enrol = await http.PostAsync(new Uri("/api/v1/enrol", UriKind.Relative),
            new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        var grantText = await enrol.Content.ReadAsStringAsync();
        Assert.True(enrol.StatusCode == System.Net.HttpStatusCode.OK, grantText);
        var grant = System.Text.Json.Nodes.JsonNode.Parse(grantText)!;
        Assert.Equal(_tlsPort, (int)grant["mqtt"]!["tls_port"]!);

        using var issued = X509Certificate2.CreateFromPem((string)grant["certificate"]!);
        Assert.Equal("gw-csr", issued.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.True(IocEdge.Aggregator.Security.TlsCertificates.ChainsTo(issued,
            IocEdge.Aggregator.Security.TlsCertificates.LoadCaBundle(_dir.File("ca.pem"))), "the certificate chains to the aggregator's CA");
        using var withKey = issued.CopyWithPrivateKey(key);
        using var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);

        // The certificate alone (no password) makes the connection gw-csr on the mutual-TLS listener, and its readings land.
        using var client = await ConnectTlsAsync("gw-csr", usable);
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-csr/readings")
            .WithPayload(Readings("gw-csr")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True((int)result.ReasonCode < 0x80, result.ReasonCode.ToString());
        Assert.Single(_aggregator.Store.Latest("gw-csr"));
    }

    [Fact]
    public async Task A_certificate_cannot_claim_another_client_id_and_no_or_a_foreign_certificate_is_refused()
    {
        var (cert, key) = Issue(_ca, _caKey, "gw-tls", server: false);
        using var foreignKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var foreignRequest = new CertificateRequest("CN=rogue CA", foreignKey, HashAlgorithmName.SHA256);
        foreignRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var foreignCa = foreignRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var (rogue, rogueKey) = Issue(foreignCa, foreignKey, "gw-tls", server: false);
        using (cert)
        using (key)
        using (rogue)
        using (rogueKey)
        {
            // CN gw-tls claiming client id gw-other: CONNACK 0x85 (client identifier not valid).
            Assert.Equal("ClientIdentifierNotValid", await RefusedAsync(() => ConnectTlsAsync("gw-other", cert)));
            // No certificate, or one from another CA: the broker ends the TLS handshake (with TLS 1.3 the client learns it
            // only when it sends CONNECT), counted as iocedge.mqtt.refusals{stage=tls,reason=certificate}.
            using var metrics = new MetricRecorder(_aggregator.Services.GetRequiredService<IocEdge.Aggregator.Security.SecurityMetrics>().Meter);
            Assert.Equal("closed", await RefusedAsync(() => ConnectTlsAsync("gw-tls", null)));
            Assert.Equal("closed", await RefusedAsync(() => ConnectTlsAsync("gw-tls", rogue)));
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (metrics.Sum("iocedge.mqtt.refusals", "reason=certificate,stage=tls") < 2 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.Equal(2, metrics.Sum("iocedge.mqtt.refusals", "reason=certificate,stage=tls"));
        }

        // With mutual TLS configured, the plain listener is closed to anonymous clients too (CONNACK 0x87).
        Assert.Equal("NotAuthorized", await RefusedAsync(async () =>
        {
            var plain = new MqttClientFactory().CreateMqttClient();
            var result = await plain.ConnectAsync(new MqttClientOptionsBuilder().WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId("gw-tls").Build());
            return result.ResultCode == MqttClientConnectResultCode.Success ? plain
                : throw new MQTTnet.Adapter.MqttConnectingFailedException($"refused ({result.ResultCode}).", null!);
        }));
        Assert.Empty(_aggregator.Store.Gateways());
    }

    /// <summary>How a connect attempt was refused: the CONNACK's reason name, or "closed" when the connection ended before any CONNACK.</summary>
    private static async Task<string> RefusedAsync(Func<Task<IMqttClient>> connect)
    {
        try
        {
            using var client = await connect();
            return client.IsConnected ? "connected" : "not connected";
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException ex)
        {
            return Enum.GetValues<MqttClientConnectResultCode>().Select(c => c.ToString())
                .SingleOrDefault(c => ex.Message.Contains("(" + c + ")", StringComparison.Ordinal)) ?? "closed";
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or System.Security.Authentication.AuthenticationException or IOException)
        {
            return "closed";
        }
    }
}

/// <summary>
/// Issue 15, "Security": server-side TLS alone (no Tls:ClientCaPath): the gateway checks the broker's certificate and
/// authenticates with its password inside the encrypted connection; plain MQTT on the TLS port gets nowhere.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class ServerTlsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("aggregator-tls1");
    private readonly int _tlsPort = FreePort.Next();
    private X509Certificate2 _ca = null!;
    private ECDsa _caKey = null!;
    private TestAggregator _aggregator = null!;
    private string _password = null!;

    public async Task InitializeAsync()
    {
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=IocEdge test CA", _caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        _ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var (server, serverKey) = TlsTests.Issue(_ca, _caKey, "localhost", server: true);
        await File.WriteAllTextAsync(_dir.File("server.pem"), server.ExportCertificatePem());
        await File.WriteAllTextAsync(_dir.File("server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        server.Dispose();
        serverKey.Dispose();
        using (var store = new IocEdge.Aggregator.Security.CredentialStore(Path.Combine(_dir.Path, "credentials.json"), iterations: 1000))
        {
            _password = store.AddGateway("gw-tls");
        }

        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:Tls:Port"] = _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:Mqtt:Tls:CertificatePath"] = _dir.File("server.pem"),
            ["Aggregator:Mqtt:Tls:KeyPath"] = _dir.File("server.key"),
        }));
    }

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _ca.Dispose();
        _caKey.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_gateway_connects_over_TLS_with_its_password_and_plain_MQTT_on_the_TLS_port_is_not_served()
    {
        var ca = _ca;
        string? serverIssuer = null;
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _tlsPort).WithClientId("gw-tls")
            .WithCredentials("gw-tls", _password).WithTimeout(TimeSpan.FromSeconds(10))
            .WithTlsOptions(o => o.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e =>
            {
                serverIssuer = e.Certificate?.Issuer;
                return e.Certificate is not null && e.Certificate.Issuer == ca.Subject;
            }))
            .Build());
        Assert.Equal(ca.Subject, serverIssuer);
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-tls/readings")
            .WithPayload(ReadingBatchJson.Encode(new ReadingBatch("gw-tls", "s1",
                [new SequencedReading(1, new Reading("env1/pm2_5", DateTimeOffset.UtcNow.AddSeconds(-1), 12.5, "ug/m3", Quality.Good))])))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True((int)result.ReasonCode < 0x80, result.ReasonCode.ToString());
        Assert.Single(_aggregator.Store.Latest("gw-tls"));

        using var plain = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => plain.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _tlsPort).WithClientId("gw-tls").WithCredentials("gw-tls", _password)
            .WithTimeout(TimeSpan.FromSeconds(5)).Build()));
    }
}
