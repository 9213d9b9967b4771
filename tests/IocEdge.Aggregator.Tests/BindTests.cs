using System.Net.Sockets;
using IocEdge.Testing;

namespace IocEdge.Aggregator.Tests;

/// <summary>Issue 13, item 3: with Mqtt:BindAddress=127.0.0.1 the embedded broker listens there and nowhere else.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class BindTests
{
    [Fact]
    public async Task The_broker_binds_exactly_the_configured_address_and_not_ipv6_any()
    {
        using var dir = new TempDirectory("aggregator-bind");
        await using var aggregator = await TestAggregator.StartAsync(dir.Path); // BindAddress=127.0.0.1

        using (var v4 = new TcpClient())
        {
            await v4.ConnectAsync("127.0.0.1", aggregator.MqttPort); // listening where configured
        }

        // MQTTnet used to open [::]:port as well (every IPv6 address): /proc/net/tcp6 lists a listener (state 0A).
        var hexPort = aggregator.MqttPort.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
        var tcp6 = File.Exists("/proc/net/tcp6") ? await File.ReadAllLinesAsync("/proc/net/tcp6") : [];
        Assert.DoesNotContain(tcp6, l => l.Contains($":{hexPort} ", StringComparison.Ordinal) && l.Contains(" 0A ", StringComparison.Ordinal));
        using var v6 = new TcpClient(AddressFamily.InterNetworkV6);
        await Assert.ThrowsAnyAsync<SocketException>(() => v6.ConnectAsync(System.Net.IPAddress.IPv6Loopback, aggregator.MqttPort));
    }
}
