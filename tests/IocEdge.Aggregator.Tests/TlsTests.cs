using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
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
        server.Dispose();
        serverKey.Dispose();

        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:Tls:Port"] = _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:Mqtt:Tls:CertificatePath"] = _dir.File("server.pem"),
            ["Aggregator:Mqtt:Tls:KeyPath"] = _dir.File("server.key"),
            ["Aggregator:Mqtt:Tls:ClientCaPath"] = _dir.File("ca.pem"),
        }));
    }

    public async Task DisposeAsync()
    {
        await _aggregator.DisposeAsync();
        _ca.Dispose();
        _caKey.Dispose();
        _dir.Dispose();
    }

    private static (X509Certificate2 Cert, ECDsa Key) Issue(X509Certificate2 ca, ECDsa caKey, string cn, bool server)
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
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _tlsPort).WithClientId(clientId)
            .WithTimeout(TimeSpan.FromSeconds(10))
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
            await Assert.ThrowsAnyAsync<Exception>(() => ConnectTlsAsync("gw-other", cert));
            await Assert.ThrowsAnyAsync<Exception>(() => ConnectTlsAsync("gw-tls", null));
            await Assert.ThrowsAnyAsync<Exception>(() => ConnectTlsAsync("gw-tls", rogue));
        }

        // With mutual TLS configured, the plain listener is closed to anonymous clients too.
        using var plain = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => plain.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId("gw-tls").Build()));
        Assert.Empty(_aggregator.Store.Gateways());
    }
}
