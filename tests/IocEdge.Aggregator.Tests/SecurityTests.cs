using IocEdge.Aggregator.Broker;
using IocEdge.Aggregator.Security;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Security" and its proof: per-gateway credentials on the embedded broker, client id = gateway id (contract
/// §1), publish and subscribe only under iocedge/v1/{id}/ (§3), a read-only account, refusals counted by reason; the
/// seq hijack. Real MQTTnet clients against the real aggregator; what is asserted is what a gateway or the IOC sees
/// (CONNACK/PUBACK/SUBACK reason codes, stored readings) and the exported counters.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class SecurityTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly TempDirectory _dir = new("aggregator-sec");
    private readonly LogSink _log = new();
    private TestAggregator _aggregator = null!;
    private MetricRecorder _metrics = null!;
    private string _passA = null!;
    private string _passB = null!;
    private string _passReader = null!;

    public async Task InitializeAsync()
    {
        // Provisioned before the start, as an operator would (iocedge-aggregator gateway-add). Few iterations keep the
        // test fast; the hash form is the production one.
        using (var store = new CredentialStore(Path.Combine(_dir.Path, "credentials.json"), iterations: 1000))
        {
            _passA = store.AddGateway("gw-a");
            _passB = store.AddGateway("gw-b");
            _passReader = store.AddReader("ioc");
        }

        _aggregator = await TestAggregator.StartAsync(_dir.Path, b => b.Logging.AddProvider(_log));
        _metrics = new MetricRecorder(_aggregator.Services.GetRequiredService<SecurityMetrics>().Meter);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        await _aggregator.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<IMqttClient> ConnectAsync(string clientId, string? user, string? password,
        MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId(clientId)
            .WithProtocolVersion(version).WithCleanSession();
        if (user is not null)
        {
            options.WithCredentials(user, password);
        }

        await client.ConnectAsync(options.Build());
        return client;
    }

    private async Task<MqttClientConnectResultCode> RefusedConnectAsync(string clientId, string? user, string? password)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _aggregator.MqttPort).WithClientId(clientId).WithCleanSession();
        if (user is not null)
        {
            options.WithCredentials(user, password);
        }

        try
        {
            var result = await client.ConnectAsync(options.Build());
            Assert.NotEqual(MqttClientConnectResultCode.Success, result.ResultCode);
            return result.ResultCode;
        }
        catch (MqttConnectingFailedException ex)
        {
            // MQTTnet 5 may throw with the CONNACK's reason in the message ("... (NotAuthorized).").
            return Enum.GetValues<MqttClientConnectResultCode>().Single(c => ex.Message.Contains("(" + c + ")", StringComparison.Ordinal));
        }
    }

    private static byte[] Readings(string gateway, long from, int count, double value) => ReadingBatchJson.Encode(new ReadingBatch(gateway, "s1",
        [.. Enumerable.Range(0, count).Select(i => new SequencedReading(from + i, new Reading("env1/pm2_5", Now.AddSeconds(-100 + i), value, "ug/m3", Quality.Good)))]));

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload, bool retain = false) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build());

    /// <summary>A PUBACK that tells the gateway "stored" (0x00, or 0x10 no matching subscribers: MQTT 5 §3.4.2.1, both success).</summary>
    private static void Stored(MqttClientPublishResult result) =>
        Assert.True((int)result.ReasonCode < 0x80, $"PUBACK {result.ReasonCode} {result.ReasonString}");

    [Fact]
    public async Task No_password_a_wrong_password_and_an_unknown_user_are_refused_and_counted()
    {
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await RefusedConnectAsync("gw-a", null, null)); // 0x87
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await RefusedConnectAsync("gw-a", "gw-a", _passB)); // 0x86
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await RefusedConnectAsync("gw-z", "gw-z", _passA));

        using var ok = await ConnectAsync("gw-a", "gw-a", _passA);
        Assert.True(ok.IsConnected);
        Assert.Equal(1, _metrics.Sum("iocedge.mqtt.refusals", "reason=anonymous,stage=connect"));
        Assert.Equal(2, _metrics.Sum("iocedge.mqtt.refusals", "reason=bad_credentials,stage=connect"));
        // Secrets are never logged, not even the wrong one.
        Assert.DoesNotContain(_log.Lines, l => l.Message.Contains(_passA, StringComparison.Ordinal) || l.Message.Contains(_passB, StringComparison.Ordinal));
        Assert.Contains(_log.Messages(1009), m => m.Contains("bad_credentials", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_gateway_cannot_take_another_gateways_client_id_and_the_holder_stays_connected()
    {
        using var b = await ConnectAsync("gw-b", "gw-b", _passB);

        // A, with its own valid credentials, asks for B's client id (MQTT would disconnect B: MQTT 5 §3.1.4-3).
        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, await RefusedConnectAsync("gw-b", "gw-a", _passA)); // 0x85
        // A reader cannot either ('.' is outside the gateway alphabet, so reader ids never collide).
        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, await RefusedConnectAsync("gw-b", "ioc", _passReader));

        Assert.True(b.IsConnected);
        Stored(await PublishAsync(b, "iocedge/v1/gw-b/readings", Readings("gw-b", 1, 1, 1)));
        Assert.Equal(2, _metrics.Sum("iocedge.mqtt.refusals", "reason=client_id,stage=connect"));
    }

    [Fact]
    [Trait(Traits.Acceptance, "technician")]
    public async Task The_technicians_doctor_checks_a_gateways_credentials_as_id_dot_doctor_without_taking_its_session()
    {
        using var b = await ConnectAsync("gw-b", "gw-b", _passB);

        // iocedge doctor (issue 16) connects with the gateway's own account under the client id "gw-b.doctor".
        using var doctor = await ConnectAsync("gw-b.doctor", "gw-b", _passB);
        Assert.True(doctor.IsConnected);
        // Only the gateway's own account may use that id, and a wrong password is still refused.
        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, await RefusedConnectAsync("gw-b.doctor", "gw-a", _passA));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await RefusedConnectAsync("gw-b.doctor", "gw-b", _passA));

        Assert.True(b.IsConnected);
        Stored(await PublishAsync(b, "iocedge/v1/gw-b/readings", Readings("gw-b", 1, 1, 1)));
    }

    [Fact]
    public async Task A_gateway_may_publish_and_subscribe_only_under_its_own_id()
    {
        using var a = await ConnectAsync("gw-a", "gw-a", _passA);

        var underB = await PublishAsync(a, "iocedge/v1/gw-b/readings", Readings("gw-b", 1, 1, 1));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, underB.ReasonCode); // 0x87, MQTT 5 §3.4.2.1
        // A spoofed retained status would mark B offline: refused the same way.
        var status = GatewayStatusJson.Encode(new GatewayStatus("gw-b", GatewayState.Offline, Now));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(a, "iocedge/v1/gw-b/status", status, retain: true)).ReasonCode);

        var sub = await a.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("#").WithTopicFilter("iocedge/v1/gw-b/config").WithTopicFilter("iocedge/v1/+/readings")
            .WithTopicFilter("iocedge/v1/gw-a/config").Build());
        Assert.Equal(
            [MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.NotAuthorized,
             MqttClientSubscribeResultCode.GrantedQoS0],
            sub.Items.Select(i => i.ResultCode));

        Stored(await PublishAsync(a, "iocedge/v1/gw-a/readings", Readings("gw-a", 1, 1, 7)));
        Assert.Empty(_aggregator.Store.Latest("gw-b"));
        Assert.Equal(2, _metrics.Sum("iocedge.mqtt.refusals", "reason=not_authorized,stage=publish"));
        Assert.Equal(3, _metrics.Sum("iocedge.mqtt.refusals", "reason=not_authorized,stage=subscribe"));
    }

    [Fact]
    public async Task A_reader_subscribes_to_every_gateways_readings_but_cannot_publish()
    {
        using var reader = await ConnectAsync("ioc.dashboard", "ioc", _passReader);
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        reader.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        var sub = await reader.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("iocedge/v1/+/readings")
            .WithTopicFilter("#").Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS0, MqttClientSubscribeResultCode.NotAuthorized], sub.Items.Select(i => i.ResultCode));

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized,
            (await PublishAsync(reader, "iocedge/v1/gw-a/readings", Readings("gw-a", 1, 1, 1))).ReasonCode);

        using var b = await ConnectAsync("gw-b", "gw-b", _passB);
        await PublishAsync(b, "iocedge/v1/gw-b/readings", Readings("gw-b", 1, 1, 5));
        await Eventually.True(() => received.Contains("iocedge/v1/gw-b/readings"), TimeSpan.FromSeconds(10), "the reader receives B's readings");
        Assert.Empty(_aggregator.Store.Latest("gw-a"));
    }

    [Fact]
    public async Task A_rogue_publishing_Bs_next_seqs_does_not_turn_Bs_real_readings_into_duplicates()
    {
        // The issue's seq hijack: B has sent seqs 1..10; a rogue sends B's stream with seqs 11..70. Before, those were
        // stored, B's real 11..70 then counted as duplicates, B deleted them from its outbox, and the rogue's values stayed.
        using var b = await ConnectAsync("gw-b", "gw-b", _passB);
        Stored(await PublishAsync(b, "iocedge/v1/gw-b/readings", Readings("gw-b", 1, 10, 20)));

        using var rogue = await ConnectAsync("gw-a", "gw-a", _passA);
        var hijack = await PublishAsync(rogue, "iocedge/v1/gw-b/readings", Readings("gw-b", 11, 60, 999));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, hijack.ReasonCode);
        // Nor can the rogue be B without B's password.
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await RefusedConnectAsync("gw-b", "gw-b", _passA));

        var duplicatesBefore = _aggregator.Metrics.Duplicates;
        Stored(await PublishAsync(b, "iocedge/v1/gw-b/readings", Readings("gw-b", 11, 60, 21)));

        Assert.Equal(duplicatesBefore, _aggregator.Metrics.Duplicates);
        var stored = _aggregator.Store.Readings("gw-b", "env1/pm2_5", 1000);
        Assert.Equal(70, stored.Count);
        Assert.DoesNotContain(stored, r => r.Value == 999);
        Assert.All(stored.Where(r => r.Sequence > 10), r => Assert.Equal(21, r.Value));
    }

    [Fact]
    public async Task A_reconnect_storm_of_a_known_gateway_runs_the_slow_hash_once()
    {
        var credentials = _aggregator.Services.GetRequiredService<CredentialStore>();
        var before = credentials.KdfRuns;
        for (var i = 0; i < 30; i++)
        {
            using var a = await ConnectAsync("gw-a", "gw-a", _passA);
            await a.DisconnectAsync();
        }

        for (var i = 0; i < 10; i++)
        {
            await RefusedConnectAsync("gw-a", "gw-a", "the-same-wrong-password");
        }

        // One KDF run in all: the first CONNECT; the rest, right or wrong, are answered by the cached HMAC.
        Assert.Equal(1, credentials.KdfRuns - before);
    }

    [Fact]
    public async Task Only_authenticated_gateways_leave_a_row_in_gateways()
    {
        // A flood of client ids that never authenticate leaves nothing behind (issue 15, bounds).
        for (var i = 0; i < 20; i++)
        {
            await RefusedConnectAsync($"gw-flood-{i}", null, null);
        }

        // "ioc" is shaped like a gateway id, but it is a reader: its unclean end must not make it a gateway.
        (await ConnectAsync("ioc", "ioc", _passReader)).Dispose(); // the socket goes away without a DISCONNECT packet
        (await ConnectAsync("gw-a", "gw-a", _passA)).Dispose();

        await Eventually.True(() => _aggregator.Store.Gateways().Any(g => g.Gateway == "gw-a"), TimeSpan.FromSeconds(10), "gw-a's offline status");
        Assert.Equal(["gw-a"], _aggregator.Store.Gateways().Select(g => g.Gateway));
    }

    [Fact]
    public async Task A_gateway_provisioned_while_running_connects_without_a_restart()
    {
        using var store = new CredentialStore(Path.Combine(_dir.Path, "credentials.json"), iterations: 1000);
        var password = store.AddGateway("gw-new");
        using var c = await ConnectAsync("gw-new", "gw-new", password);
        Stored(await PublishAsync(c, "iocedge/v1/gw-new/readings", Readings("gw-new", 1, 1, 3)));
    }
}

/// <summary>The credentials file itself: hashes only, mosquitto's $7$ form, constant-time verification.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class CredentialStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("credentials");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_file_holds_a_salted_pbkdf2_hash_never_the_password()
    {
        var path = _dir.File("credentials.json");
        using var store = new CredentialStore(path, iterations: 1000);
        var password = store.AddGateway("gw-01");

        var text = await File.ReadAllTextAsync(path);
        Assert.DoesNotContain(password, text, StringComparison.Ordinal);
        // mosquitto's $7$ form: PBKDF2-SHA512, iterations, 12-byte salt, 64-byte hash (base64).
        Assert.Matches(@"^\$7\$1000\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$", new CredentialStore(path).Find("gw-01")!.PasswordHash);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.NotNull(await store.VerifyAsync("gw-01", System.Text.Encoding.UTF8.GetBytes(password)));
        Assert.Null(await store.VerifyAsync("gw-01", System.Text.Encoding.UTF8.GetBytes(password + "x")));
        // Two accounts with the same password get different hashes (salted).
        store.Set("gw-02", MqttRole.Gateway, "same");
        store.Set("gw-03", MqttRole.Gateway, "same");
        Assert.NotEqual(store.Find("gw-02")!.PasswordHash.Split('$')[4], store.Find("gw-03")!.PasswordHash.Split('$')[4]);
        Assert.Throws<ArgumentException>(() => store.AddGateway("GW-01"));
    }
}
