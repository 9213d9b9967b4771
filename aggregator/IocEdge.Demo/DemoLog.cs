using Microsoft.Extensions.Logging;

namespace IocEdge.Demo;

internal static partial class DemoLog
{
    [LoggerMessage(1, LogLevel.Information, "Simulated station: Modbus TCP on {EndPoint}, units {Units}")]
    public static partial void StationStarted(this ILogger logger, string endPoint, string units);

    [LoggerMessage(2, LogLevel.Information, "Aggregator: MQTT broker on 127.0.0.1:{MqttPort}, data in {DataDirectory}")]
    public static partial void AggregatorStarted(this ILogger logger, int mqttPort, string dataDirectory);

    [LoggerMessage(4, LogLevel.Warning, "Port {Port} is taken; the aggregator uses {Free} instead")]
    public static partial void PortTaken(this ILogger logger, int port, int free);

    [LoggerMessage(3, LogLevel.Information, "Gateway {GatewayId}: configuration {ConfigPath}")]
    public static partial void GatewayStarted(this ILogger logger, string gatewayId, string configPath);

    [LoggerMessage(5, LogLevel.Information, "Started afresh: removed the previous run's data in {DataDirectory} ({Entries} entries; --keep keeps it)")]
    public static partial void PreviousRunRemoved(this ILogger logger, string dataDirectory, int entries);
}
