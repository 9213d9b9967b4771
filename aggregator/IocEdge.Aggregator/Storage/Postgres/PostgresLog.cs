using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Storage.Postgres;

/// <summary>The PostgreSQL store's log lines (event ids 21xx). None of them carries the connection string's password.</summary>
internal static partial class PostgresLog
{
    [LoggerMessage(2101, LogLevel.Information, "PostgreSQL store opened at {Server}")]
    public static partial void Opened(this ILogger logger, string server);

    [LoggerMessage(2102, LogLevel.Information, "Created partition {Partition} of readings ({Moved} readings moved from the default partition)")]
    public static partial void PartitionCreated(this ILogger logger, string partition, int moved);

    [LoggerMessage(2103, LogLevel.Information, "Retention dropped partition {Partition} of readings")]
    public static partial void PartitionDropped(this ILogger logger, string partition);

    [LoggerMessage(2107, LogLevel.Information, "Retention deleted {Readings} flagged readings (and their keys) from the default partition")]
    public static partial void DefaultPartitionPruned(this ILogger logger, long readings);

    [LoggerMessage(2104, LogLevel.Warning, "Channel {GatewayId}/{Channel} changed unit from {OldUnit} to {NewUnit}")]
    public static partial void UnitChanged(this ILogger logger, string gatewayId, string channel, string oldUnit, string newUnit);

    [LoggerMessage(2105, LogLevel.Warning, "Lost PostgreSQL write connection {Writer} ({Reason}); the next commit reconnects")]
    public static partial void WriterLost(this ILogger logger, int writer, string reason);

    [LoggerMessage(2106, LogLevel.Error, "Retention pass failed; it runs again in {Period}")]
    public static partial void RetentionFailed(this ILogger logger, Exception exception, TimeSpan period);
}
