namespace IocEdge.Aggregator.Provisioning;

/// <summary>Section <c>Aggregator:Enrolment</c>: one-time enrolment tokens and the answer a gateway gets (issue 16).</summary>
public sealed class EnrolmentOptions
{
    /// <summary>
    /// The broker host name or address a gateway is told to connect to. Empty (default): the host name the gateway (or
    /// the CLI) used to reach this aggregator's HTTP API, which is right whenever both run on the same machine.
    /// </summary>
    public string BrokerHost { get; set; } = string.Empty;

    /// <summary>How long a new token stays valid when its creator does not say (default 1 day; 1 minute to 30 days).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The CA certificate (PEM) that signs gateways' CSRs when mutual TLS is on; empty: no certificates issued.</summary>
    public string CaCertificatePath { get; set; } = string.Empty;

    /// <summary>The CA's private key (PEM, RSA or EC), readable by the service only.</summary>
    public string CaKeyPath { get; set; } = string.Empty;

    /// <summary>Validity of an issued client certificate (default 825 days, the CA/Browser Forum's former ceiling for leaf certificates).</summary>
    public TimeSpan CertificateLifetime { get; set; } = TimeSpan.FromDays(825);

    /// <summary>The one-line problems of this section (empty when valid).</summary>
    internal static IEnumerable<string> Problems(EnrolmentOptions o)
    {
        if (o.TokenLifetime < TimeSpan.FromMinutes(1) || o.TokenLifetime > TimeSpan.FromDays(30))
        {
            yield return $"Aggregator:Enrolment:TokenLifetime is {o.TokenLifetime}: use 00:01:00 to 30.00:00:00 (default 1.00:00:00).";
        }

        if (string.IsNullOrEmpty(o.CaCertificatePath) != string.IsNullOrEmpty(o.CaKeyPath))
        {
            yield return "Aggregator:Enrolment:CaCertificatePath and CaKeyPath go together: set both (PEM files) to sign gateways' CSRs, or neither.";
        }
        else if (!string.IsNullOrEmpty(o.CaCertificatePath))
        {
            foreach (var (key, path) in new[] { ("CaCertificatePath", o.CaCertificatePath), ("CaKeyPath", o.CaKeyPath) })
            {
                if (!File.Exists(path))
                {
                    yield return $"Aggregator:Enrolment:{key} '{path}' does not exist: give the CA's PEM file.";
                }
            }
        }

        if (o.CertificateLifetime < TimeSpan.FromDays(1) || o.CertificateLifetime > TimeSpan.FromDays(3650))
        {
            yield return $"Aggregator:Enrolment:CertificateLifetime is {o.CertificateLifetime}: use 1.00:00:00 to 3650.00:00:00 (default 825.00:00:00).";
        }

        if (o.BrokerHost.Any(char.IsWhiteSpace))
        {
            yield return $"Aggregator:Enrolment:BrokerHost '{o.BrokerHost}' contains a space: give a host name or address, such as ioc.example.vn.";
        }
    }
}
