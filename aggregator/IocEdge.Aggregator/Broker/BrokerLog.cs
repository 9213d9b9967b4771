using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;

namespace IocEdge.Aggregator.Broker;

/// <summary>The broker's listener and bounds log lines (event ids 1101-1199; the rest of 1xxx is in <c>Log.cs</c>).</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1101, LogLevel.Warning,
        "Closed the connection from {Endpoint}: it announced an MQTT packet of {Size} bytes, over Aggregator:Mqtt:MaxPacketSize {Max} (advertised in the CONNACK); {Suppressed} more like it were not logged in the minute before")]
    public static partial void PacketTooLarge(this ILogger logger, string? endpoint, long size, int max, long suppressed);

    [LoggerMessage(1102, LogLevel.Warning,
        "Connection from {Endpoint} failed at {Stage}: {Message}; {Suppressed} more like it were not logged in the minute before")]
    public static partial void ConnectionFailed(this ILogger logger, string? endpoint, string stage, string message, long suppressed);

    [LoggerMessage(1103, LogLevel.Warning,
        "Disconnecting subscriber {ClientId}: {Dropped} messages were dropped from its full queue (Aggregator:Mqtt:MaxPendingMessagesPerClient {Max}); it does not keep up. It may reconnect")]
    public static partial void SlowSubscriberDisconnected(this ILogger logger, string clientId, int dropped, int max);

    [LoggerMessage(1104, LogLevel.Warning, "MQTTnet {Source}: {Message}")]
    public static partial void MqttNetWarning(this ILogger logger, Exception? exception, string source, string message);
}

/// <summary>
/// MQTTnet's own warnings and errors (a failed client connection, a packet it could not decode) into our log as event
/// 1104, rate-limited per source; its verbose and info lines are dropped before they are formatted.
/// </summary>
internal sealed class MqttNetLogBridge(ILogger logger, LogLimiter limiter) : IMqttNetLogger
{
    public bool IsEnabled => true;

    public void Publish(MqttNetLogLevel level, string source, string message, object[] parameters, Exception exception)
    {
        if (level < MqttNetLogLevel.Warning || !limiter.TryEnter("mqttnet", source ?? string.Empty, out _))
        {
            return;
        }

        var text = parameters is { Length: > 0 } ? string.Format(System.Globalization.CultureInfo.InvariantCulture, message, parameters) : message;
        logger.MqttNetWarning(exception, source ?? string.Empty, IocEdge.Aggregator.Security.Bounded.Text(text, 512));
    }
}
