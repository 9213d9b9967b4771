using IocEdge.Edge.Forwarding;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Tests;

/// <summary>
/// <c>Gateway:Mqtt:Tls</c> checked at start-up (task w7-tls, issue 15 "Security"): the real iocedge-gateway executable
/// answers each class of TLS file mistake with one line naming the file, the key path, the problem and the fix, and exit
/// 78 (EX_CONFIG) before it opens anything; TLS towards port 1883 is only a warning.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class GatewayTlsConfigTests : IDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "iocedge-gateway.dll");
    private readonly TempDirectory _dir = new("gwtlscfg");
    private readonly TestPki _pki;
    private readonly TestPki _other;

    public GatewayTlsConfigTests()
    {
        _pki = new TestPki(_dir.File("pki"));
        _other = new TestPki(_dir.File("other"), "Other CA");
    }

    public void Dispose()
    {
        _pki.Dispose();
        _other.Dispose();
        _dir.Dispose();
    }

    private string Json(string tls, int port = 8883) => $$"""
        { "Gateway": { "Id": "gw-test", "DataDirectory": "{{_dir.Path}}/data",
          "Mqtt": { "Host": "127.0.0.1", "Port": {{port}}, "Tls": { {{tls}} } } } }
        """;

    /// <summary>The Tls section for one class of mistake, and the start of the line the gateway must print.</summary>
    private (string Tls, string Line) Case(string name)
    {
        var (cert, key) = _pki.Issue("gw-test");
        var (_, otherKey) = _other.Issue("gw-test", file: "other-client");
        string Both(string c, string k) => $"\"Enabled\": true, \"CaFile\": \"{_pki.CaFile}\", \"CertificateFile\": \"{c}\", \"KeyFile\": \"{k}\"";
        var garbage = _dir.File("garbage.pem");
        File.WriteAllText(garbage, "not a PEM file\n");
        switch (name)
        {
            case "missing file":
                return ($"\"Enabled\": true, \"CaFile\": \"{_dir.File("nope.crt")}\"", $"Gateway:Mqtt:Tls:CaFile '{_dir.File("nope.crt")}' does not exist");
            case "unreadable file":
                return ($"\"Enabled\": true, \"CaFile\": \"{_dir.Path}\"", $"Gateway:Mqtt:Tls:CaFile '{_dir.Path}' cannot be read");
            case "relative path":
                return ("\"Enabled\": true, \"CaFile\": \"ca.crt\"", "Gateway:Mqtt:Tls:CaFile 'ca.crt' is a relative path");
            case "CA file not a certificate":
                return ($"\"Enabled\": true, \"CaFile\": \"{garbage}\"", $"Gateway:Mqtt:Tls:CaFile '{garbage}' holds no PEM certificate");
            case "certificate file holds a key":
                return (Both(key, key), $"Gateway:Mqtt:Tls:CertificateFile '{key}' holds a private key, not a certificate");
            case "key file not a key":
                return (Both(cert, garbage), $"Gateway:Mqtt:Tls:KeyFile '{garbage}' is not a PEM private key");
            case "certificate and key do not match":
                return (Both(cert, otherKey), $"Gateway:Mqtt:Tls:KeyFile '{otherKey}' is not the key of CertificateFile '{cert}'");
            case "certificate without key":
                return ($"\"Enabled\": true, \"CertificateFile\": \"{cert}\"", "Gateway:Mqtt:Tls:KeyFile is empty but CertificateFile is set");
            case "client certificate expired":
                var (expired, expiredKey) = _pki.Issue("gw-test", file: "expired", notBefore: DateTimeOffset.UtcNow.AddDays(-1), notAfter: DateTimeOffset.UtcNow.AddHours(-1));
                return (Both(expired, expiredKey), $"Gateway:Mqtt:Tls:CertificateFile '{expired}' expired on");
            case "client certificate not yet valid":
                var (future, futureKey) = _pki.Issue("gw-test", file: "future", notBefore: DateTimeOffset.UtcNow.AddDays(2), notAfter: DateTimeOffset.UtcNow.AddDays(5));
                return (Both(future, futureKey), $"Gateway:Mqtt:Tls:CertificateFile '{future}' is not valid before");
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, null);
        }
    }

    [Theory]
    [InlineData("missing file")]
    [InlineData("unreadable file")]
    [InlineData("relative path")]
    [InlineData("CA file not a certificate")]
    [InlineData("certificate file holds a key")]
    [InlineData("key file not a key")]
    [InlineData("certificate and key do not match")]
    [InlineData("certificate without key")]
    [InlineData("client certificate expired")]
    [InlineData("client certificate not yet valid")]
    public async Task Each_class_of_tls_file_mistake_is_one_line_with_the_key_path_and_the_fix_and_exit_78(string mistake)
    {
        var (tls, expected) = Case(mistake);
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, Json(tls));

        var (exit, output) = await PeerProcess.RunAsync("dotnet", [Dll, "--config", path], TimeSpan.FromSeconds(60));

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exit == 78, $"exit {exit}: {output}");
        var line = Assert.Single(lines, l => l.StartsWith($"{path}: {expected}", StringComparison.Ordinal));
        Assert.Contains(": ", line[(path.Length + expected.Length + 2)..], StringComparison.Ordinal); // the fix follows
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
        Assert.False(Directory.Exists(_dir.File("data")), "nothing was opened or created");
    }

    [Fact]
    public async Task Tls_towards_port_1883_starts_with_a_warning_not_a_refusal()
    {
        var (cert, key) = _pki.Issue("gw-test");
        var path = _dir.File("gateway.json");
        await File.WriteAllTextAsync(path, Json($"\"Enabled\": true, \"CaFile\": \"{_pki.CaFile}\", \"CertificateFile\": \"{cert}\", \"KeyFile\": \"{key}\"", port: 1883));
        var log = new Lines();

        using var host = GatewayHost.Build(["--config", path, "--Logging:LogLevel:Default=Warning"], b => b.Logging.AddProvider(log));
        await host.StartAsync();
        try
        {
            await Eventually.True(() => log.Messages.Any(m => m.Contains("Gateway:Mqtt:Tls:Enabled is true with Gateway:Mqtt:Port 1883", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(20), "the port warning in the log");
            Assert.NotNull(host.Services.GetRequiredService<MqttForwarder>());
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private sealed class Lines : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();

        public IReadOnlyList<string> Messages => [.. _messages];

        public ILogger CreateLogger(string categoryName) => new Logger(_messages);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception));
        }
    }
}
