using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IocEdge.Aggregator.Security;
using IocEdge.Edge;
using IocEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16 with mutual TLS on (task w7-tls): `iocedge provision --csr` against the real aggregator (a TLS listener
/// that asks for client certificates, and a CA that signs CSRs) writes the key, the certificate and the CA beside the
/// configuration and points Gateway:Mqtt:Tls at them; the real gateway host started on that file gets its readings
/// (from a pymodbus sonde) stored; `iocedge doctor` reports the TLS handshake and each way it fails, with the fix.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class TlsProvisionTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("cli-tls");
    private readonly int _tlsPort = FreePort.Next();
    private TestPki _pki = null!;
    private TestAggregator _aggregator = null!;
    private PyModbusServer _slave = null!;

    public async Task InitializeAsync()
    {
        _pki = new TestPki(_dir.File("aggregator-pki"));
        _aggregator = await TestAggregator.StartAsync(_dir.File("aggregator"), b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:Tls:Port"] = _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:Mqtt:Tls:CertificatePath"] = _pki.ServerCertificateFile,
            ["Aggregator:Mqtt:Tls:KeyPath"] = _pki.ServerKeyFile,
            ["Aggregator:Mqtt:Tls:ClientCaPath"] = _pki.CaFile,
            ["Aggregator:Enrolment:CaCertificatePath"] = _pki.CaFile,
            ["Aggregator:Enrolment:CaKeyPath"] = _pki.CaKeyFile,
        }));
        var key = _aggregator.Services.GetRequiredService<ApiKeyStore>().Create(ApiScopes.Admin, "test");
        _aggregator.Http.DefaultRequestHeaders.Add("X-Api-Key", key);
        _slave = await PyModbusServer.StartTcpAsync(new() { Units = new Dictionary<byte, PyModbusUnit> { [1] = GatewayFixture.Sonde() } });
    }

    public async Task DisposeAsync()
    {
        await _slave.DisposeAsync();
        await _aggregator.DisposeAsync();
        _pki.Dispose();
        _dir.Dispose();
    }

    private async Task<string> TokenAsync(string gateway)
    {
        var body = new JsonObject
        {
            ["gateway_id"] = gateway,
            ["config"] = new JsonObject
            {
                ["Modbus"] = new JsonObject
                {
                    ["Links"] = new JsonArray(new JsonObject { ["Id"] = "tcp", ["Transport"] = "Tcp", ["Host"] = "127.0.0.1", ["Port"] = _slave.Port, ["Timeout"] = "00:00:02" }),
                    ["Devices"] = new JsonArray(new JsonObject
                    {
                        ["Id"] = "wq1", ["Link"] = "tcp", ["Profile"] = "water-sonde", ["UnitId"] = 1, ["PollPeriod"] = "00:00:00.5",
                        ["Points"] = new JsonArray(new JsonObject { ["Name"] = "ph" }),
                    }),
                },
            },
        };
        using var response = await _aggregator.Http.PostAsync(new Uri("/api/v1/admin/enrolment-tokens", UriKind.Relative),
            new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return (string)JsonNode.Parse(text)!["token"]!;
    }

    private string LocalConfig(string name)
    {
        var path = _dir.File(name + ".json");
        File.WriteAllText(path, $$"""
            { "Gateway": { "DataDirectory": "{{_dir.Path}}/{{name}}-data",
              "Mqtt": { "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:00.5", "Timeout": "00:00:05" } } }
            """);
        return path;
    }

    private static Dictionary<string, JsonElement> Checks(CliResult r)
    {
        var doc = JsonDocument.Parse(r.Out);
        return doc.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());
    }

    [Fact]
    public async Task Provision_with_csr_writes_the_key_certificate_and_ca_and_the_gateway_started_on_that_file_gets_its_readings_stored_over_tls()
    {
        const string Gateway = "gw-csr-01";
        var token = await TokenAsync(Gateway);
        var config = LocalConfig("gw-csr");

        var run = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", Gateway, "--csr", "--config", config);

        Assert.True(run.Exit == 0, run.ToString());
        var key = _dir.File(Gateway + ".key");
        var cert = _dir.File(Gateway + ".crt");
        var ca = _dir.File("iocedge-ca.crt");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            const UnixFileMode Public = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            Assert.Equal(Public, File.GetUnixFileMode(cert));
            Assert.Equal(Public, File.GetUnixFileMode(ca));
        }

        var mqtt = JsonNode.Parse(await File.ReadAllTextAsync(config))!["Gateway"]!["Mqtt"]!;
        Assert.Equal(_tlsPort, (int)mqtt["Port"]!);
        Assert.True((bool)mqtt["Tls"]!["Enabled"]!);
        Assert.Equal(ca, (string?)mqtt["Tls"]!["CaFile"]);
        Assert.Equal(cert, (string?)mqtt["Tls"]!["CertificateFile"]);
        Assert.Equal(key, (string?)mqtt["Tls"]!["KeyFile"]);
        Assert.Contains("mutual TLS", run.Out, StringComparison.Ordinal);

        // doctor: the handshake passes with both certificates' days left.
        var doctor = await Cli.RunAsync("doctor", "--config", config, "--json");
        var checks = Checks(doctor);
        Assert.True(checks["tls"].GetProperty("status").GetString() == "pass", doctor.ToString());
        Assert.Matches("client certificate 'CN=gw-csr-01' accepted, expires in [0-9]+ days", checks["tls"].GetProperty("detail").GetString());
        Assert.Equal("pass", checks["broker"].GetProperty("status").GetString());

        // The gateway on the written file, no edits: its readings arrive through the TLS listener.
        using var host = GatewayHost.Build(["--config", config, "--Logging:LogLevel:Default=Warning"]);
        await host.StartAsync();
        try
        {
            await Eventually.True(async () => (await _aggregator.LatestAsync(Gateway)).ContainsKey("wq1/ph"), TimeSpan.FromSeconds(40),
                "wq1/ph stored at the aggregator from the provisioned gateway");
            Assert.Null(host.Services.GetRequiredService<IocEdge.Edge.Forwarding.MqttForwarder>().TlsFailure);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Provision_with_the_technicians_own_csr_and_key_points_the_config_at_that_key_and_makes_it_private()
    {
        const string Gateway = "gw-own-01";
        var token = await TokenAsync(Gateway);
        var config = LocalConfig("gw-own");
        using (var ecdsa = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            // As `openssl req -new -newkey ec ... -keyout own.key -out own.csr` leaves them: the key readable by others.
            await File.WriteAllTextAsync(_dir.File("own.key"), ecdsa.ExportPkcs8PrivateKeyPem());
            await File.WriteAllTextAsync(_dir.File("own.csr"), new System.Security.Cryptography.X509Certificates.CertificateRequest(
                "CN=" + Gateway, ecdsa, System.Security.Cryptography.HashAlgorithmName.SHA256).CreateSigningRequestPem());
        }

        var run = await Cli.RunAsync("provision", "--token", token, "--aggregator", _aggregator.Url, "--gateway-id", Gateway,
            "--csr", _dir.File("own.csr"), "--config", config);

        Assert.True(run.Exit == 0, run.ToString());
        var tls = JsonNode.Parse(await File.ReadAllTextAsync(config))!["Gateway"]!["Mqtt"]!["Tls"]!;
        Assert.Equal(_dir.File("own.key"), (string?)tls["KeyFile"]); // the key beside the CSR (FILE.key), not a new one
        Assert.False(File.Exists(_dir.File(Gateway + ".key")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_dir.File("own.key")));
        }

        var doctor = await Cli.RunAsync("doctor", "--config", config, "--json");
        Assert.True(Checks(doctor)["tls"].GetProperty("status").GetString() == "pass", doctor.ToString());
        Assert.Equal("pass", Checks(doctor)["broker"].GetProperty("status").GetString());
    }

    [Fact]
    public async Task Doctor_names_an_unknown_ca_a_name_mismatch_and_a_refused_client_certificate_each_with_its_fix()
    {
        using var other = new TestPki(_dir.File("other-pki"), "Rogue CA");
        var (cert, key) = _pki.Issue("gw-doc", notAfter: DateTimeOffset.UtcNow.AddDays(90));
        var (soon, soonKey) = _pki.Issue("gw-doc", file: "soon", notAfter: DateTimeOffset.UtcNow.AddDays(10));
        var (rogueCert, rogueKey) = other.Issue("gw-doc", file: "rogue");
        string Config(string name, string caFile, string certFile, string keyFile, string? serverName = null)
        {
            var path = _dir.File(name + ".json");
            var sni = serverName is null ? string.Empty : $", \"ServerName\": \"{serverName}\"";
            File.WriteAllText(path, $$"""
                { "Gateway": { "Id": "gw-doc", "DataDirectory": "{{_dir.Path}}/doc-data",
                  "Mqtt": { "Host": "127.0.0.1", "Port": {{_tlsPort}}, "Timeout": "00:00:05",
                    "Tls": { "Enabled": true, "CaFile": "{{caFile}}", "CertificateFile": "{{certFile}}", "KeyFile": "{{keyFile}}"{{sni}} } } } }
                """);
            return path;
        }

        var cases = new (string Config, string Kind, string Fix)[]
        {
            (Config("wrong-ca", other.CaFile, cert, key), "UnknownCa", "Gateway:Mqtt:Tls:CaFile"),
            (Config("wrong-name", _pki.CaFile, cert, key, "aggregator.example.vn"), "NameMismatch", "Gateway:Mqtt:Tls:ServerName"),
            (Config("refused", _pki.CaFile, rogueCert, rogueKey), "ClientCertificateRefused", "iocedge provision --csr"),
        };
        foreach (var (config, kind, fix) in cases)
        {
            var r = await Cli.RunAsync("doctor", "--config", config, "--json");
            Assert.True(r.Exit == 1, r.ToString());
            var tls = Checks(r)["tls"];
            Assert.True(tls.GetProperty("status").GetString() == "fail", r.ToString());
            Assert.Contains(kind, tls.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains(fix, tls.GetProperty("fix").GetString(), StringComparison.Ordinal);
        }

        // The good one passes with the days left; one that expires within 30 days fails with the way to renew it.
        var good = await Cli.RunAsync("doctor", "--config", Config("good", _pki.CaFile, cert, key), "--json");
        var row = Checks(good)["tls"];
        Assert.True(row.GetProperty("status").GetString() == "pass", good.ToString());
        Assert.Matches("client certificate 'CN=gw-doc' accepted, expires in (89|90) days", row.GetProperty("detail").GetString());
        var expiring = await Cli.RunAsync("doctor", "--config", Config("soon", _pki.CaFile, soon, soonKey), "--json");
        row = Checks(expiring)["tls"];
        Assert.True(row.GetProperty("status").GetString() == "fail", expiring.ToString());
        Assert.Matches("expires in (9|10) days", row.GetProperty("detail").GetString());
        Assert.Contains("renew", row.GetProperty("fix").GetString(), StringComparison.Ordinal);
    }
}
