using System.Net;
using IocEdge.Aggregator.Tests;
using IocEdge.Devices.Profiles;
using IocEdge.Edge.Forwarding;
using IocEdge.Hardware.Simulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Testing;

/// <summary>
/// Issue 15 "Security" from the gateway's side (task w7-tls): the real gateway host, reading the station simulator over
/// Modbus TCP, sends through TLS with <c>Gateway:Mqtt:Tls</c>: to the aggregator's mutual-TLS listener with a client
/// certificate and no password (readings stored exactly once), to a mosquitto TLS listener that requires a client
/// certificate, and with the wrong CA file it keeps sampling into its outbox, says why in its log and
/// <see cref="MqttForwarder.TlsFailure"/>, and drains the backlog once the file is corrected and it is restarted.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class GatewayTlsTests : IAsyncLifetime
{
    private const string Gateway = "gw-tls";
    private readonly TempDirectory _dir = new("gwtls");
    private readonly FakeTimeProvider _stationClock = new(new DateTimeOffset(2026, 11, 30, 1, 0, 0, TimeSpan.Zero));
    private readonly int _tlsPort = FreePort.Next();
    private TestPki _pki = null!;
    private TestPki _otherCa = null!;
    private string _clientCert = null!;
    private string _clientKey = null!;
    private StationSimulator _station = null!;
    private TestAggregator? _aggregator;

    public async Task InitializeAsync()
    {
        // The folder is entered by mosquitto after it drops to its own user: let it through to the PEM files.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1ED);
        }

        _pki = new TestPki(_dir.File("pki"));
        _otherCa = new TestPki(_dir.File("other"), "Some other CA");
        (_clientCert, _clientKey) = _pki.Issue(Gateway);
        _station = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            Instruments = { new SimulatedInstrument(ProfileCatalog.LoadBuiltIn().Get("env-station"), 1) },
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            Seed = 7,
        }, _stationClock);
    }

    public async Task DisposeAsync()
    {
        if (_aggregator is not null)
        {
            await _aggregator.DisposeAsync();
        }

        await _station.DisposeAsync();
        _pki.Dispose();
        _otherCa.Dispose();
        _dir.Dispose();
    }

    private async Task<TestAggregator> StartAggregatorAsync() =>
        _aggregator = await TestAggregator.StartAsync(_dir.File("aggregator"), b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aggregator:Mqtt:Tls:Port"] = _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Aggregator:Mqtt:Tls:CertificatePath"] = _pki.ServerCertificateFile,
            ["Aggregator:Mqtt:Tls:KeyPath"] = _pki.ServerKeyFile,
            ["Aggregator:Mqtt:Tls:ClientCaPath"] = _pki.CaFile,
        }));

    /// <summary>The gateway's configuration: TLS with a client certificate, no user name, no password.</summary>
    private string Config(int port, string caFile) => $$"""
        {
          "Gateway": {
            "Id": "{{Gateway}}",
            "DataDirectory": "{{_dir.Path}}/gateway",
            "RemoteConfig": { "Enabled": false },
            "Mqtt": {
              "Host": "127.0.0.1", "Port": {{port}}, "ReconnectDelayMin": "00:00:00.2", "ReconnectDelayMax": "00:00:00.5", "Timeout": "00:00:05",
              "Tls": { "Enabled": true, "CaFile": "{{caFile}}", "CertificateFile": "{{_clientCert}}", "KeyFile": "{{_clientKey}}" }
            },
            "Modbus": {
              "Links": [ { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{_station.TcpEndPoint!.Port}} } ],
              "Devices": [ { "Id": "env1", "Link": "station", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.2" } ]
            }
          }
        }
        """;

    /// <summary>Waits until the outbox is empty, then checks every sequence numbered before that is stored exactly once.</summary>
    private static async Task AssertStoredExactlyOnceAsync(TestGateway gateway, TestAggregator aggregator, long atLeast)
    {
        long highest = 0;
        await Eventually.True(() =>
        {
            highest = gateway.Outbox.LastSequence;
            return gateway.Outbox.Count == 0 && highest >= atLeast;
        }, TimeSpan.FromSeconds(60), $"the outbox to drain with at least {atLeast} readings taken");
        var stored = aggregator.Store.Channels(Gateway).SelectMany(c => aggregator.Store.History(Gateway, c.Channel))
            .Select(h => h.Sequence).Where(s => s <= highest).ToList();
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, (int)highest).Select(i => (long)i), stored.Order());
    }

    [Fact]
    public async Task Through_the_aggregators_mutual_tls_listener_with_a_certificate_and_no_password_every_reading_is_stored_once()
    {
        var aggregator = await StartAggregatorAsync();
        await using var gateway = await TestGateway.StartAsync(_dir.File("gateway.json"), Config(_tlsPort, _pki.CaFile));

        await Eventually.True(async () => (await aggregator.LatestAsync(Gateway)).Keys.Any(k => k.StartsWith("env1/", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "a reading of env1 stored through the TLS listener");
        Assert.Null(gateway.Forwarder.TlsFailure);
        await AssertStoredExactlyOnceAsync(gateway, aggregator, 20);
    }

    [Fact]
    public async Task Against_a_mosquitto_tls_listener_that_requires_a_client_certificate_the_readings_are_acknowledged()
    {
        await using var mosquitto = await Mosquitto.StartAsync(tls: new MosquittoTls(_pki.CaFile, _pki.ServerCertificateFile, _pki.ServerKeyFile, RequireCertificate: true));
        await using var gateway = await TestGateway.StartAsync(_dir.File("gateway.json"), Config(mosquitto.Port, _pki.CaFile));

        // PUBACKs from mosquitto (QoS 1) empty the outbox: the TLS session, with our certificate, carries the readings.
        await Eventually.True(() => gateway.Forwarder.Forwarded >= 20 && gateway.Outbox.Count < 10, TimeSpan.FromSeconds(40),
            () => $"readings acknowledged by mosquitto over TLS (forwarded {gateway.Forwarder.Forwarded}, failures {gateway.Forwarder.Failures}, TLS {gateway.Forwarder.TlsFailure}); log:\n{mosquitto.Log}");
        Assert.Null(gateway.Forwarder.TlsFailure);
    }

    [Fact]
    public async Task With_the_wrong_ca_file_it_keeps_sampling_reports_the_unknown_ca_and_after_the_fix_and_a_restart_the_backlog_drains()
    {
        var aggregator = await StartAggregatorAsync();
        var log = new LogSink();
        long buffered;
        await using (var wrong = await TestGateway.StartAsync(_dir.File("gateway.json"), Config(_tlsPort, _otherCa.CaFile),
                         b => b.Logging.AddProvider(log)))
        {
            await Eventually.True(() => wrong.Forwarder.TlsFailure is not null && wrong.Outbox.Count >= 30, TimeSpan.FromSeconds(40),
                () => $"readings buffered while TLS fails (outbox {wrong.Outbox.Count}, TLS {wrong.Forwarder.TlsFailure})");
            var failure = wrong.Forwarder.TlsFailure!;
            Assert.Equal(TlsFailureKind.UnknownCa, failure.Kind);
            Assert.Contains("Some other CA", failure.Detail, StringComparison.Ordinal);
            Assert.Contains("Gateway:Mqtt:Tls:CaFile", failure.Fix, StringComparison.Ordinal);
            Assert.Contains(log.Messages(1007), m => m.Contains("UnknownCa", StringComparison.Ordinal) && m.Contains("CaFile", StringComparison.Ordinal));
            Assert.Equal(0, wrong.Forwarder.Forwarded);
            // Nothing reached the aggregator: it has never heard of this (unprovisioned, anonymous) gateway, a 404 (wave 11).
            using (var none = await aggregator.Http.GetAsync(new Uri($"/api/v1/latest?gateway={Gateway}", UriKind.Relative)))
            {
                Assert.Equal(System.Net.HttpStatusCode.NotFound, none.StatusCode);
            }

            buffered = wrong.Outbox.LastSequence;
        }

        // The technician corrects CaFile and restarts the service: the backlog (and what came since) is stored once.
        await using var fixedGateway = await TestGateway.StartAsync(_dir.File("gateway.json"), Config(_tlsPort, _pki.CaFile));
        await AssertStoredExactlyOnceAsync(fixedGateway, aggregator, buffered + 5);
        Assert.Null(fixedGateway.Forwarder.TlsFailure);
    }
}
