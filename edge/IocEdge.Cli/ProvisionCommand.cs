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
            configuration is checked as the gateway checks it and stored in the data directory. Restart the gateway
            afterwards. A token is one-time: a used, expired or unknown token is refused (exit 1) and nothing is written.

            Exit codes: 0 enrolled, 1 token refused or initial configuration not valid (credentials written),
            2 usage, 69 aggregator unreachable, 78 configuration file not valid JSON.

            Examples:
              iocedge provision --token iet_AbC... --aggregator http://10.0.0.5:8080 --gateway-id gw-hn-012
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
            Description = "a PEM certificate signing request (CN = gateway id) for a client certificate, where the aggregator has a CA",
            HelpName = "FILE",
        };
        var config = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        foreach (var o in new Option[] { token, aggregator, gatewayId, bundle, csr, config, json })
        {
            command.Add(o);
        }

        command.SetAction((p, ct) => RunAsync(console, new Request(p.GetValue(token), p.GetValue(aggregator), p.GetValue(gatewayId), p.GetValue(bundle),
            p.GetValue(csr), p.GetValue(config)!, p.GetValue(json)), ct));
        return command;
    }

    internal sealed record Request(string? Token, string? Aggregator, string? GatewayId, string? Bundle, string? Csr, string ConfigPath, bool Json);

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

            return Write(console, r, () => Provisioning.ApplyBundle(r.Bundle, r.ConfigPath), "bundle " + r.Bundle, null);
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

        var csrPem = r.Csr is null ? null : await File.ReadAllTextAsync(r.Csr, ct).ConfigureAwait(false);
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

        return Write(console, r, () => Provisioning.Apply(grant, r.ConfigPath), baseUri.ToString(), grant);
    }

    private static int Write(CliConsole console, Request r, Func<ProvisionResult> apply, string source, JsonObject? grant)
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

        var certificates = grant is null ? [] : WriteCertificates(r.ConfigPath, result.Gateway, grant);
        if (r.Json)
        {
            Json.Write(console, new JsonObject
            {
                ["enrolled"] = true,
                ["gateway_id"] = result.Gateway,
                ["source"] = source,
                ["config_file"] = Path.GetFullPath(r.ConfigPath),
                ["mqtt"] = new JsonObject { ["host"] = result.BrokerHost, ["port"] = result.BrokerPort },
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

    /// <summary>Writes a returned client certificate and its CA beside the configuration file; returns the paths written.</summary>
    private static List<string> WriteCertificates(string configPath, string gatewayId, JsonObject grant)
    {
        var written = new List<string>();
        var dir = Path.GetDirectoryName(Path.GetFullPath(configPath))!;
        foreach (var (field, name) in new[] { ("certificate", gatewayId + ".crt"), ("ca_certificate", "iocedge-ca.crt") })
        {
            if ((string?)grant[field] is { Length: > 0 } pem)
            {
                var path = Path.Combine(dir, name);
                File.WriteAllText(path, pem);
                written.Add(path);
            }
        }

        return written;
    }

    /// <summary>Gateway:Id of the configuration file, or null when the file or the key is missing.</summary>
    /// <exception cref="System.Text.Json.JsonException">The file is not JSON.</exception>
    private static string? LocalGatewayId(string configPath) =>
        File.Exists(configPath) ? (JsonNode.Parse(File.ReadAllText(configPath))?["Gateway"] as JsonObject)?["Id"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null : null;
}
