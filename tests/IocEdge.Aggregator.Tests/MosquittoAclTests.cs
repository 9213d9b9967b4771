using IocEdge.Aggregator.Security;
using IocEdge.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15, "Security": the generated mosquitto password_file and acl_file (iocedge-aggregator mosquitto-config) give a
/// real mosquitto the embedded broker's rules: a gateway cannot publish under another gateway's id.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class MosquittoAclTests
{
    [Fact]
    public async Task With_the_generated_files_gateway_A_cannot_publish_under_B_on_a_real_mosquitto()
    {
        var exe = Tools.Require("/usr/sbin/mosquitto", "mosquitto");
        using var dir = new TempDirectory("mosquitto-acl");
        using var credentials = new CredentialStore(dir.File("credentials.json"), iterations: 1000);
        var passA = credentials.AddGateway("gw-a");
        var passB = credentials.AddGateway("gw-b");
        var files = MosquittoConfig.Write(credentials, dir.File("mosquitto"), new AggregatorOptions());

        // mosquitto started as root drops to its own user: let it read the generated files (a test-only relaxation).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1ED);
            File.SetUnixFileMode(dir.File("mosquitto"), (UnixFileMode)0x1ED);
            foreach (var f in files)
            {
                File.SetUnixFileMode(f, (UnixFileMode)0x1A4);
            }
        }

        var port = FreePort.Next();
        var conf = dir.File("mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"listener {port} 127.0.0.1\npersistence false\nlog_dest stdout\n" + await File.ReadAllTextAsync(files[2]));
        await using var broker = PeerProcess.Start(exe, ["-c", conf]);
        await broker.WaitForTcpAsync(port, TimeSpan.FromSeconds(10));

        async Task<IMqttClient> Connect(string user, string password)
        {
            var c = new MqttClientFactory().CreateMqttClient();
            await c.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(user).WithCredentials(user, password).Build());
            return c;
        }

        using var b = await Connect("gw-b", passB);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        b.ApplicationMessageReceivedAsync += e =>
        {
            seen.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await b.SubscribeAsync("iocedge/v1/gw-b/#", MqttQualityOfServiceLevel.AtLeastOnce);

        using var a = await Connect("gw-a", passA);
        var rogue = await a.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-b/readings").WithPayload("from-a")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await b.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("iocedge/v1/gw-b/readings").WithPayload("from-b")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        await Eventually.True(() => seen.Contains("from-b"), TimeSpan.FromSeconds(10), "B's own message");
        Assert.DoesNotContain("from-a", seen);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, rogue.ReasonCode);

        // And the hashes work as mosquitto passwords: a wrong one is refused.
        using var wrong = new MqttClientFactory().CreateMqttClient();
        var refused = await wrong.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
            .WithClientId("gw-a").WithCredentials("gw-a", passB).Build());
        Assert.NotEqual(MqttClientConnectResultCode.Success, refused.ResultCode); // mosquitto 2.0 answers 0x87
    }
}
