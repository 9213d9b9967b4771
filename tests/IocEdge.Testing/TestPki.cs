using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IocEdge.Testing;

/// <summary>
/// A throwaway certificate authority for TLS tests, written as the PEM files an operator would have (RFC 7468): the CA
/// (<see cref="CaFile"/>, <see cref="CaKeyFile"/>), a broker certificate for localhost and 127.0.0.1, and client
/// certificates (CN = gateway id) on demand. Files are mode 0644 in a folder others may enter, so a broker that drops
/// to its own user (mosquitto) can read them.
/// </summary>
public sealed class TestPki : IDisposable
{
    private readonly ECDsa _caKey;
    private readonly X509Certificate2 _ca;

    /// <param name="directory">Where the files go (created 0755).</param>
    /// <param name="name">The CA's CN, and the prefix of its files.</param>
    public TestPki(string directory, string name = "IocEdge test CA")
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        Open(directory, 0x1ED);
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(365));
        var prefix = name.Replace(' ', '-').ToLowerInvariant();
        CaFile = Write(prefix + ".crt", _ca.ExportCertificatePem());
        CaKeyFile = Write(prefix + ".key", _caKey.ExportPkcs8PrivateKeyPem());
        (ServerCertificateFile, ServerKeyFile) = Issue("localhost", server: true, "server");
    }

    public string Directory { get; }

    public string CaFile { get; }

    public string CaKeyFile { get; }

    /// <summary>A broker certificate for DNS localhost and IP 127.0.0.1 (what a gateway on loopback verifies).</summary>
    public string ServerCertificateFile { get; }

    public string ServerKeyFile { get; }

    /// <summary>
    /// Issues a certificate signed by this CA and writes it and its key as <c>{file}.crt</c> and <c>{file}.key</c>.
    /// </summary>
    /// <param name="cn">The subject CN (a gateway id for a client certificate).</param>
    /// <param name="server">Server authentication with SANs localhost and 127.0.0.1; otherwise client authentication.</param>
    /// <param name="file">The file name without extension (default: the CN).</param>
    /// <param name="notBefore">Start of validity (default an hour ago).</param>
    /// <param name="notAfter">End of validity (default in 10 days).</param>
    public (string Certificate, string Key) Issue(string cn, bool server = false, string? file = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false)); // RFC 5280 §4.2.1.12
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var start = notBefore ?? DateTimeOffset.UtcNow.AddHours(-1);
        var end = notAfter ?? DateTimeOffset.UtcNow.AddDays(10);
        if (end > _ca.NotAfter)
        {
            end = _ca.NotAfter;
        }

        using var cert = request.Create(_ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), start, end, RandomNumberGenerator.GetBytes(8));
        var name = file ?? cn;
        return (Write(name + ".crt", cert.ExportCertificatePem()), Write(name + ".key", key.ExportPkcs8PrivateKeyPem()));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, pem);
        Open(path, 0x1A4);
        return path;
    }

    private static void Open(string path, int mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)mode);
        }
    }
}
