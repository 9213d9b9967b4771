using System.Security.Cryptography.X509Certificates;

namespace IocEdge.Aggregator.Security;

/// <summary>Loads the TLS listener's certificate and the client CA, and checks a client certificate against that CA.</summary>
internal static class TlsCertificates
{
    /// <summary>
    /// A PFX/PKCS#12 file (by content, whatever its extension), or a PEM certificate with its key in the same file or
    /// in <paramref name="keyPath"/>. The result has its private key.
    /// </summary>
    /// <exception cref="InvalidDataException">Neither form could be read, or there is no private key.</exception>
    public static X509Certificate2 LoadServerCertificate(string certificatePath, string keyPath, string password)
    {
        try
        {
            var text = File.ReadAllText(certificatePath);
            X509Certificate2 cert;
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                cert = X509Certificate2.CreateFromPemFile(certificatePath, string.IsNullOrEmpty(keyPath) ? null : keyPath);
            }
            else
            {
                cert = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, string.IsNullOrEmpty(password) ? null : password);
            }

            if (!cert.HasPrivateKey)
            {
                throw new InvalidDataException($"{certificatePath} has no private key: give Aggregator:Mqtt:Tls:KeyPath or a PFX with its key.");
            }

            return cert;
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidDataException($"Aggregator:Mqtt:Tls:CertificatePath {certificatePath}: {ex.Message} (give a PEM certificate and key, or a PFX and its password).", ex);
        }
    }

    /// <summary>Every certificate of a PEM bundle.</summary>
    public static X509Certificate2Collection LoadCaBundle(string path)
    {
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(path);
        if (bundle.Count == 0)
        {
            throw new InvalidDataException($"Aggregator:Mqtt:Tls:ClientCaPath {path} holds no PEM certificate.");
        }

        return bundle;
    }

    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="roots"/> (and only those) and is valid now.</summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2Collection roots)
    {
        if (certificate is null)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // a throwaway field CA publishes no CRL
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        return chain.Build(leaf);
    }
}
