using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator;

/// <summary>Every log line of the aggregator, with stable event ids (1xxx broker, 2xxx ingest/store, 3xxx API).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Embedded MQTT broker listening on {Address}:{Port}")]
    public static partial void BrokerListening(this ILogger logger, string address, int port);

    [LoggerMessage(1002, LogLevel.Information, "Gateway {GatewayId} connected from {Endpoint}")]
    public static partial void GatewayConnected(this ILogger logger, string gatewayId, string? endpoint);

    [LoggerMessage(1003, LogLevel.Warning, "Gateway {GatewayId} disconnected ({DisconnectType})")]
    public static partial void GatewayDisconnected(this ILogger logger, string gatewayId, string disconnectType);

    // A DISCONNECT the gateway itself sent (it is stopping): nothing is wrong.
    [LoggerMessage(1012, LogLevel.Information, "Gateway {GatewayId} disconnected cleanly (it sent DISCONNECT)")]
    public static partial void GatewayDisconnectedCleanly(this ILogger logger, string gatewayId);

    [LoggerMessage(1004, LogLevel.Warning,
        "Refused a message from client {ClientId} on {Topic}: {Reason} (0x{ReasonCode:X2}) {Detail}; {Suppressed} more like it were not logged in the minute before")]
    public static partial void MessageRefused(this ILogger logger, string clientId, string topic, string reason, int reasonCode, string detail,
        long suppressed);

    [LoggerMessage(1008, LogLevel.Warning,
        "Client {ClientId} published readings with QoS 0 on {Topic}: stored, but no PUBACK can tell it so (contract §1 asks QoS 1); {Suppressed} more like it were not logged in the minute before")]
    public static partial void UnacknowledgedReadings(this ILogger logger, string clientId, string topic, long suppressed);

    [LoggerMessage(1007, LogLevel.Warning,
        "Client {ClientId} speaks MQTT {Version}, which cannot carry a refusal: closing its connection so it keeps the message and resends it")]
    public static partial void ClosingOldProtocolClient(this ILogger logger, string clientId, string version);

    [LoggerMessage(1005, LogLevel.Error, "Could not store {Count} readings from {GatewayId}; the gateway keeps them and sends them again")]
    public static partial void StoreFailed(this ILogger logger, Exception exception, int count, string gatewayId);

    [LoggerMessage(1006, LogLevel.Warning, "The broker dropped the oldest message queued for client {ClientId} (slow subscriber, queue full: Aggregator:Mqtt:MaxPendingMessagesPerClient); {Suppressed} more were not logged in the minute before")]
    public static partial void BrokerDropped(this ILogger logger, string clientId, long suppressed);

    [LoggerMessage(1009, LogLevel.Warning,
        "Refused the connection of client {ClientId} (user {UserName}) from {Endpoint}: {Reason}, {Detail}; {Suppressed} more like it were not logged in the minute before")]
    public static partial void ConnectRefused(this ILogger logger, string clientId, string userName, string? endpoint, string reason, string detail, long suppressed);

    [LoggerMessage(1010, LogLevel.Warning,
        "Refused the subscription of client {ClientId} to {TopicFilter} (0x87 not authorized); {Suppressed} more like it were not logged in the minute before")]
    public static partial void SubscriptionRefused(this ILogger logger, string clientId, string topicFilter, long suppressed);

    [LoggerMessage(1011, LogLevel.Warning,
        "MQTT clients connect without a password: {CredentialsPath} holds no account (Aggregator:Mqtt:Authentication=auto). Provision gateways to close the broker to anonymous clients")]
    public static partial void BrokerAnonymous(this ILogger logger, string credentialsPath);

    [LoggerMessage(3002, LogLevel.Warning,
        "The HTTP API is open to anyone: no API key exists (Aggregator:Api:Authentication=auto). Create one to require keys")]
    public static partial void ApiOpen(this ILogger logger);

    [LoggerMessage(2001, LogLevel.Information, "Store opened at {Path}")]
    public static partial void StoreOpened(this ILogger logger, string path);

    [LoggerMessage(2002, LogLevel.Debug, "Committed {Stored} readings ({Duplicates} duplicates) from {Messages} messages")]
    public static partial void Committed(this ILogger logger, int stored, int duplicates, int messages);

    [LoggerMessage(2003, LogLevel.Warning, "Channel {GatewayId}/{Channel} changed unit from {OldUnit} to {NewUnit}")]
    public static partial void UnitChanged(this ILogger logger, string gatewayId, string channel, string oldUnit, string newUnit);

    [LoggerMessage(3001, LogLevel.Information, "IOC API listening on {Urls}")]
    public static partial void ApiListening(this ILogger logger, string urls);

    [LoggerMessage(3002, LogLevel.Error, "The live feed failed on a commit (the readings are stored; latest values and the stream may miss them until the next reading)")]
    public static partial void LiveFeedFailed(this ILogger logger, Exception exception);
}
