using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using IocEdge.Edge.Remote;

namespace IocEdge.Cli;

/// <summary>
/// <c>iocedge provision</c> (issue 16): enrols this gateway with the aggregator using a one-time enrolment token
/// (<c>POST /api/v1/enrol</c>, contract §9.3), or applies an offline bundle the admin exported for a pole with no
/// signal, and writes the result where the gateway reads it: <c>Gateway:Id</c> and <c>Gateway:Mqtt</c> (host, port,
/// user name, password) in the configuration file (mode 0600), the initial configuration in the data directory
/// (<see cref="Provisioning.Apply"/>). Every other key of the file is kept.
/// </summary>
internal static class ProvisionCommand
{
    /// <summary>How long the enrolment request may take (a weak mobile link: generous; the aggregator answers at once).</summary>
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public static Command Build(CliConsole console)
    {
        var command = new Command("provision", """
            Enrol this gateway with the aggregator. Online: give the one-time enrolment token the administrator made
            (iocedge-aggregator token-add, or POST /api/v1/admin/enrolment-tokens) and the aggregator's URL; the
            aggregator answers with this gateway's own MQTT credentials, the broker's address and its initial
            configuration. Offline (a pole with no signal): give the bundle file the administrator exported
            (iocedge-aggregator bundle-export) instead. Both write Gateway:Id and Gateway:Mqtt into the configuration
            file (created if missing, mode 0600: it holds the password) and keep every other key; the initial
            configuration is checked as the gateway checks it and stored in the data directory. With --csr the
            aggregator's CA issues a client certificate: ID.key (0600, made here unless --csr FILE --key FILE),
            ID.crt and iocedge-ca.crt (0644) are written beside the configuration file, and Gateway:Mqtt:Tls and the
            aggregator's TLS port are set so the gateway uses mutual TLS. Restart the gateway
            afterwards. A token is one-time: a used, expired or unknown token is refused (exit 1) and nothing is written.

            Exit codes: 0 enrolled, 1 token refused or initial configuration not valid (credentials written),
            2 usage, 69 aggregator unreachable, 78 configuration file not valid JSON.

            Examples:
              iocedge provision --token iet_AbC... --aggregator http://10.0.0.5:8080 --gateway-id gw-hn-012
              iocedge provision --token iet_AbC... --aggregator http://10.0.0.5:8080 --gateway-id gw-hn-012 --csr
              iocedge provision --bundle /media/usb/gw-hn-012.bundle.json
              iocedge provision --token iet_AbC... --aggregator http://agg.example:8080 --config ./gateway.json --json
            """);
        var token = new Option<string?>("--token") { Description = "the one-time enrolment token (starts with iet_)", HelpName = "TOKEN" };
        var aggregator = new Option<string?>("--aggregator") { Description = "the aggregator's HTTP address, such as http://10.0.0.5:8080", HelpName = "URL" };
        var gatewayId = new Option<string?>("--gateway-id")
        {
            Description = "this gateway's id (contract §2: a-z, 0-9, '-'); default: Gateway:Id of the configuration file",
            HelpName = "ID",
        };
        var bundle = new Option<string?>("--bundle") { Description = "an offline enrolment bundle file (no network needed)", HelpName = "FILE" };
        var csr = new Option<string?>("--csr")
        {
            Description = "ask for a client certificate (mutual TLS) from the aggregator's CA: alone, a new EC P-256 key is made here " +
                          "(it never leaves the gateway); with FILE, that PEM certificate signing request (CN = gateway id) is sent",
            HelpName = "FILE",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var keyFile = new Option<string?>("--key")
        {
            Description = "with --csr FILE: the request's PEM private key (default: FILE with the extension .key)",
            HelpName = "FILE",
        };
        var config = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        foreach (var o in new Option[] { token, aggregator, gatewayId, bundle, csr, keyFile, config, json })
        {
            command.Add(o);
        }

        command.SetAction((p, ct) => RunAsync(console, new Request(p.GetValue(token), p.GetValue(aggregator), p.GetValue(gatewayId), p.GetValue(bundle),
            p.GetValue(csr), p.GetValue(config)!, p.GetValue(json)) { CsrGiven = p.GetResult(csr) is not null, Key = p.GetValue(keyFile) }, ct));
        return command;
    }

    internal sealed record Request(string? Token, string? Aggregator, string? GatewayId, string? Bundle, string? Csr, string ConfigPath, bool Json)
    {
        /// <summary>--csr was given (with or without a FILE): a client certificate is asked for.</summary>
        public bool CsrGiven { get; init; }

        /// <summary>--key FILE: the private key of the --csr FILE.</summary>
        public string? Key { get; init; }

        public bool WantsCertificate => CsrGiven || Csr is not null;
    }

    internal static async Task<int> RunAsync(CliConsole console, Request r, CancellationToken ct)
    {
        if (r.Bundle is not null)
        {
            if (r.Token is not null || r.Aggregator is not null)
            {
                throw new UsageException("give either --bundle FILE (offline) or --token and --aggregator (online), not both.");
            }

            if (!File.Exists(r.Bundle))
            {
                throw new UsageException($"the bundle file {r.Bundle} does not exist.");
            }

            return Write(console, r, () => Provisioning.ApplyBundle(r.Bundle, r.ConfigPath), "bundle " + r.Bundle, []);
        }

        if (r.Token is null || r.Aggregator is null)
        {
            throw new UsageException("give --token TOKEN and --aggregator URL (online), or --bundle FILE (offline).");
        }

        if (!Uri.TryCreate(r.Aggregator, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--aggregator '{r.Aggregator}' is not an http:// or https:// address, such as http://10.0.0.5:8080.");
        }

        // The file is read before the token is spent: a one-time token must not be burnt on a file that cannot be written.
        string? localId;
        try
        {
            localId = LocalGatewayId(r.ConfigPath);
        }
        catch (System.Text.Json.JsonException ex)
        {
            console.Fail($"{r.ConfigPath} is not valid JSON ({ex.Message}): fix it (`iocedge config validate`) or remove it, then run provision again; the token was not used.");
            return ExitCodes.Config;
        }

        var id = r.GatewayId ?? localId
                 ?? throw new UsageException($"give --gateway-id ID: {r.ConfigPath} names no Gateway:Id.");
        if (!IocEdge.Protocols.Mqtt.Identifiers.IsValidGatewayId(id))
        {
            throw new UsageException($"--gateway-id '{id}' is not a gateway id (contract §2: lower-case letters, digits and '-', 1-64, such as gw-01).");
        }

        var key = r.WantsCertificate ? ClientKey.For(r, id) : null;
        var csrPem = key?.CsrPem;
        JsonObject grant;
        using (var http = new HttpClient { BaseAddress = baseUri, Timeout = RequestTimeout })
        {
            HttpResponseMessage response;
            try
            {
                response = await http.PostAsync(new Uri("api/v1/enrol", UriKind.Relative),
                    new StringContent(Provisioning.EnrolRequest(r.Token, id, csrPem), Encoding.UTF8, "application/json"), ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or SocketException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
            {
                throw new PeerUnavailableException($"the aggregator at {baseUri} cannot be reached ({ex.Message}): check the address and the link " +
                    "(`iocedge doctor`), or ask the administrator for an offline bundle (iocedge provision --bundle FILE).", ex);
            }

            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                JsonObject? body = null;
                try
                {
                    body = JsonNode.Parse(text) as JsonObject;
                }
                catch (System.Text.Json.JsonException)
                {
                }

                if (response.StatusCode != HttpStatusCode.OK || body is null)
                {
                    return Refused(console, r, id, response.StatusCode, body, text);
                }

                grant = body;
            }
        }

        // The certificate files first (checked against the key), then the configuration that points at them.
        List<string> certificates;
        ProvisionTlsFiles? tls;
        try
        {
            (certificates, tls) = WriteCertificates(r.ConfigPath, id, grant, key);
        }
        catch (InvalidDataException ex)
        {
            console.Fail(ex.Message);
            return ExitCodes.CheckFailed;
        }

        return Write(console, r, () => Provisioning.Apply(grant, r.ConfigPath, null, tls), baseUri.ToString(), certificates);
    }

    private static int Write(CliConsole console, Request r, Func<ProvisionResult> apply, string source, List<string> certificates)
    {
        ProvisionResult result;
        try
        {
            result = apply();
        }
        catch (InvalidDataException ex)
        {
            console.Fail(ex.Message);
            return ExitCodes.Config;
        }
        catch (System.Text.Json.JsonException ex)
        {
            console.Fail($"{r.ConfigPath} is not valid JSON ({ex.Message}): fix it (`iocedge config validate`) and run provision again.");
            return ExitCodes.Config;
        }

        if (r.Json)
        {
            Json.Write(console, new JsonObject
            {
                ["enrolled"] = true,
                ["gateway_id"] = result.Gateway,
                ["source"] = source,
                ["config_file"] = Path.GetFullPath(r.ConfigPath),
                ["mqtt"] = new JsonObject { ["host"] = result.BrokerHost, ["port"] = result.BrokerPort, ["tls"] = result.TlsEnabled },
                ["config_version"] = result.ConfigVersion,
                ["config_problems"] = new JsonArray([.. result.ConfigProblems.Select(p => (JsonNode)JsonValue.Create(p)!)]),
                ["certificates"] = new JsonArray([.. certificates.Select(p => (JsonNode)JsonValue.Create(p)!)]),
            });
        }
        else
        {
            console.Out.WriteLine($"Enrolled {result.Gateway} from {source}: broker {result.BrokerHost}:{result.BrokerPort}, credentials written to {r.ConfigPath}");
            if (result.ConfigVersion is { } v)
            {
                console.Out.WriteLine(result.ConfigProblems.Count == 0
                    ? $"Initial configuration version {v} stored; it runs at the gateway's next start."
                    : $"Initial configuration version {v} NOT applied (it is reported refused to the aggregator):");
            }

            foreach (var problem in result.ConfigProblems)
            {
                console.Error.WriteLine(problem);
            }

            foreach (var file in certificates)
            {
                console.Out.WriteLine($"Wrote {file}");
            }

            if (result.TlsEnabled)
            {
                console.Out.WriteLine($"Gateway:Mqtt:Tls enabled: mutual TLS to {result.BrokerHost}:{result.BrokerPort} with the client certificate (no password needed there).");
            }
            else if (certificates.Count > 0)
            {
                console.Out.WriteLine("The aggregator reported no TLS port: the certificate is stored but TLS is not enabled; set Gateway:Mqtt:Tls:Enabled and Port once it has a TLS listener.");
            }

            console.Out.WriteLine("Next: restart the gateway (systemctl restart iocedge-gateway), then `iocedge doctor`.");
        }

        return result.ConfigProblems.Count == 0 ? ExitCodes.Ok : ExitCodes.CheckFailed;
    }

    private static int Refused(CliConsole console, Request r, string id, HttpStatusCode status, JsonObject? problem, string text)
    {
        var reason = (string?)problem?["title"] ?? "error";
        var detail = (string?)problem?["detail"] ?? (text.Length > 200 ? text[..200] : text);
        if (r.Json)
        {
            Json.Write(console, new JsonObject
            {
                ["enrolled"] = false,
                ["gateway_id"] = id,
                ["status"] = (int)status,
                ["reason"] = reason,
                ["detail"] = detail,
            });
        }
        else
        {
            console.Fail($"the aggregator refused the enrolment of {id} ({(int)status} {reason}): {detail}");
        }

        // A refused token or a bad request is the technician's to fix (exit 1); the aggregator failing is a peer problem.
        return (int)status >= 500 ? ExitCodes.Unavailable : ExitCodes.CheckFailed;
    }

    /// <summary>
    /// Writes a returned client certificate (<c>ID.crt</c>, 0644), the CA (<c>iocedge-ca.crt</c>, 0644) and a key made here
    /// (<c>ID.key</c>, 0600) beside the configuration file; a key given with <c>--key</c> stays where it is (narrowed to 0600).
    /// Returns the paths written and, when a certificate came back, the files for <c>Gateway:Mqtt:Tls</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">The certificate returned is not for this key (nothing is written).</exception>
    private static (List<string> Written, ProvisionTlsFiles? Tls) WriteCertificates(string configPath, string gatewayId, JsonObject grant, ClientKey? key)
    {
        var written = new List<string>();
        var dir = Path.GetDirectoryName(Path.GetFullPath(configPath))!;
        var certificate = (string?)grant["certificate"];
        var ca = (string?)grant["ca_certificate"];
        if (key is not null && certificate is { Length: > 0 })
        {
            try
            {
                using var pair = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(certificate, key.PrivateKeyPem);
            }
            catch (System.Security.Cryptography.CryptographicException ex)
            {
                throw new InvalidDataException($"the certificate the aggregator returned is not for this gateway's key ({ex.Message}): nothing was written; ask the administrator for a new token.", ex);
            }
        }

        const UnixFileMode Public = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        string? certPath = null, caPath = null, keyPath = null;
        if (key is not null && certificate is { Length: > 0 })
        {
            // The key first: a certificate on disk without its key would be of no use.
            if (key.Path is { } given)
            {
                keyPath = Path.GetFullPath(given);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(keyPath, Private);
                }
            }
            else
            {
                keyPath = WriteFile(Path.Combine(dir, gatewayId + ".key"), key.PrivateKeyPem, Private);
                written.Add(keyPath);
            }
        }

        if (certificate is { Length: > 0 })
        {
            certPath = WriteFile(Path.Combine(dir, gatewayId + ".crt"), certificate, Public);
            written.Add(certPath);
        }

        if (ca is { Length: > 0 })
        {
            caPath = WriteFile(Path.Combine(dir, "iocedge-ca.crt"), ca, Public);
            written.Add(caPath);
        }

        return (written, certPath is not null && caPath is not null && keyPath is not null ? new ProvisionTlsFiles(caPath, certPath, keyPath) : null);
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> through a temporary file and a rename, with <paramref name="mode"/>.</summary>
    private static string WriteFile(string path, string text, UnixFileMode mode)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using (var stream = new FileStream(temp, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, mode); // an old .tmp left by a crash keeps its mode otherwise
        }

        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>The key a client certificate is asked for with: made here (it never leaves the gateway) or the technician's own.</summary>
    private sealed class ClientKey
    {
        private ClientKey(string csrPem, string privateKeyPem, string? path)
        {
            CsrPem = csrPem;
            PrivateKeyPem = privateKeyPem;
            Path = path;
        }

        public string CsrPem { get; }

        public string PrivateKeyPem { get; }

        /// <summary>The technician's key file (--key, or beside --csr FILE); null for a key made here.</summary>
        public string? Path { get; }

        /// <exception cref="UsageException">The CSR or its key file is missing.</exception>
        public static ClientKey For(Request r, string gatewayId)
        {
            if (r.Csr is null)
            {
                // EC P-256 (NIST SP 800-186): small, fast on a Pi, accepted by OpenSSL and the aggregator's CA.
                using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
                var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=" + gatewayId, key,
                    System.Security.Cryptography.HashAlgorithmName.SHA256);
                return new ClientKey(request.CreateSigningRequestPem(), key.ExportPkcs8PrivateKeyPem(), null);
            }

            if (!File.Exists(r.Csr))
            {
                throw new UsageException($"--csr: the request file {r.Csr} does not exist (or give --csr alone to make a key and request here).");
            }

            var keyPath = r.Key ?? System.IO.Path.ChangeExtension(r.Csr, ".key");
            if (!File.Exists(keyPath))
            {
                throw new UsageException($"--key: the private key of {r.Csr} ({keyPath}) does not exist: give --key FILE, the key the request was made with.");
            }

            return new ClientKey(File.ReadAllText(r.Csr), File.ReadAllText(keyPath), keyPath);
        }
    }

    /// <summary>Gateway:Id of the configuration file, or null when the file or the key is missing.</summary>
    /// <exception cref="System.Text.Json.JsonException">The file is not JSON.</exception>
    private static string? LocalGatewayId(string configPath) =>
        File.Exists(configPath) ? (JsonNode.Parse(File.ReadAllText(configPath))?["Gateway"] as JsonObject)?["Id"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null : null;
}
