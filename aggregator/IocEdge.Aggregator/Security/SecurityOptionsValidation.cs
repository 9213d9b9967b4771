namespace IocEdge.Aggregator.Security;

/// <summary>Start-up checks of the security and bounds options; each line starts with the full key (ConfigCheck adds the source).</summary>
internal static class SecurityOptionsValidation
{
    public static void Validate(AggregatorOptions options, List<string> errors)
    {
        var m = options.Mqtt;
        if (!MqttAuthModes.TryParse(m.Authentication, out _))
        {
            errors.Add($"Aggregator:Mqtt:Authentication is '{Bounded.Text(m.Authentication, 32)}': use auto (the default), password or none.");
        }

        if (m.ConnectTimeout < TimeSpan.FromSeconds(1) || m.ConnectTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Aggregator:Mqtt:ConnectTimeout is {m.ConnectTimeout}: use 00:00:01 to 00:05:00 (default 00:00:10).");
        }

        if (m.MaxPacketSize is < 1024 or > 268_435_455)
        {
            errors.Add($"Aggregator:Mqtt:MaxPacketSize is {m.MaxPacketSize}: use 1024-268435455 bytes (default 262144).");
        }

        if (!string.IsNullOrEmpty(m.Tls.CertificatePath))
        {
            if (m.Tls.Port is < 0 or > 65535)
            {
                errors.Add($"Aggregator:Mqtt:Tls:Port is {m.Tls.Port}: use 1-65535 (8883 is MQTT over TLS; 0 picks a free one).");
            }

            if (!File.Exists(m.Tls.CertificatePath))
            {
                errors.Add($"Aggregator:Mqtt:Tls:CertificatePath '{Bounded.Text(m.Tls.CertificatePath, 200)}' does not exist: give a PEM or PFX file readable by the service.");
            }

            if (!string.IsNullOrEmpty(m.Tls.KeyPath) && !File.Exists(m.Tls.KeyPath))
            {
                errors.Add($"Aggregator:Mqtt:Tls:KeyPath '{Bounded.Text(m.Tls.KeyPath, 200)}' does not exist: give the certificate's PEM key, or leave it empty if the key is in the certificate file.");
            }

            if (!string.IsNullOrEmpty(m.Tls.ClientCaPath) && !File.Exists(m.Tls.ClientCaPath))
            {
                errors.Add($"Aggregator:Mqtt:Tls:ClientCaPath '{Bounded.Text(m.Tls.ClientCaPath, 200)}' does not exist: give the PEM CA certificate that signs gateway certificates, or leave it empty.");
            }
        }
        else if (!string.IsNullOrEmpty(m.Tls.ClientCaPath))
        {
            errors.Add("Aggregator:Mqtt:Tls:ClientCaPath is set without Aggregator:Mqtt:Tls:CertificatePath: mutual TLS needs the TLS listener; set its certificate.");
        }

        var b = options.Bounds;
        if (b.MaxReadingsPerMessage is < 1 or > 1_000_000)
        {
            errors.Add($"Aggregator:Bounds:MaxReadingsPerMessage is {b.MaxReadingsPerMessage}: use 1-1000000 (default 10000).");
        }

        if (b.MaxNewSeriesPerMessage is < 1 or > 1_000_000)
        {
            errors.Add($"Aggregator:Bounds:MaxNewSeriesPerMessage is {b.MaxNewSeriesPerMessage}: use 1-1000000 (default 1000).");
        }

        if (b.MaxSeriesPerGateway is < 1 or > 10_000_000)
        {
            errors.Add($"Aggregator:Bounds:MaxSeriesPerGateway is {b.MaxSeriesPerGateway}: use 1-10000000 (default 5000).");
        }

        var a = options.Api;
        if (a.Authentication is not ("auto" or "key" or "none"))
        {
            errors.Add($"Aggregator:Api:Authentication is '{Bounded.Text(a.Authentication, 32)}': use auto (the default), key or none.");
        }

        foreach (var (key, value) in new[] { ("Aggregator:Api:ReadKeyHashes", a.ReadKeyHashes), ("Aggregator:Api:AdminKeyHashes", a.AdminKeyHashes) })
        {
            foreach (var h in ApiKeyStore.SplitHashes(value))
            {
                if (!ApiKeyStore.IsHash(h))
                {
                    errors.Add($"{key} contains '{Bounded.Text(h, 16)}', not a SHA-256 hash: give 64 hex digits per key (iocedge-aggregator prints them when it creates a key), ';'-separated.");
                }
            }
        }
    }
}

/// <summary>How the embedded broker identifies clients (<see cref="MqttBrokerOptions.Authentication"/>).</summary>
public enum MqttAuthMode
{
    /// <summary>Passwords once the credentials file holds an account; anonymous until then.</summary>
    Auto,

    /// <summary>Always a user name and password (or a client certificate on the mutual-TLS listener).</summary>
    Password,

    /// <summary>Anonymous, no topic rules.</summary>
    None,
}

internal static class MqttAuthModes
{
    public static bool TryParse(string? text, out MqttAuthMode mode)
    {
        mode = text switch { "auto" => MqttAuthMode.Auto, "password" => MqttAuthMode.Password, "none" => MqttAuthMode.None, _ => (MqttAuthMode)(-1) };
        return (int)mode >= 0;
    }
}
