using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator;

/// <summary>Log lines of enrolment, the registry and the configuration push (event ids 4xxx). Secrets are never logged.</summary>
internal static partial class ProvisioningLog
{
    [LoggerMessage(4001, LogLevel.Information, "Gateway {GatewayId} reported configuration version {Version}: {Result} {Reason}")]
    public static partial void ConfigReported(this ILogger logger, string gatewayId, long version, string result, string reason);

    [LoggerMessage(4002, LogLevel.Information, "Gateway {GatewayId} enrolled (configuration version {Version})")]
    public static partial void GatewayEnrolled(this ILogger logger, string gatewayId, long? version);

    [LoggerMessage(4003, LogLevel.Warning, "Refused an enrolment for {GatewayId} from {Endpoint}: {Reason}")]
    public static partial void EnrolmentRefused(this ILogger logger, string gatewayId, string? endpoint, string reason);

    [LoggerMessage(4004, LogLevel.Warning, "Gateway {GatewayId}: {Action} by an admin")]
    public static partial void RegistryAction(this ILogger logger, string gatewayId, string action);

    [LoggerMessage(4005, LogLevel.Information, "Published configuration version {Version} to gateway {GatewayId}")]
    public static partial void ConfigPublished(this ILogger logger, string gatewayId, long version);

    [LoggerMessage(4006, LogLevel.Error, "Could not publish the stored configurations again after start ({Failures} so far); retrying on the next start")]
    public static partial void RepublishFailed(this ILogger logger, Exception exception, long failures);

    [LoggerMessage(4007, LogLevel.Warning, "Output command {CommandId} sent to {GatewayId} output {Output} by an admin")]
    public static partial void OutputCommandSent(this ILogger logger, string gatewayId, string output, string commandId);

    [LoggerMessage(4008, LogLevel.Information, "Gateway {GatewayId} output {Output}: command {CommandId} {Result} {Reason}")]
    public static partial void OutputReported(this ILogger logger, string gatewayId, string output, string commandId, string result, string reason);
}
