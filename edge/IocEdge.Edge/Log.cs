using IocEdge.Edge.Forwarding;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge;

/// <summary>Every log line of the gateway, with stable event ids (1xxx forwarding, 2xxx outbox/sampling, 3xxx config).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Connected to MQTT broker {Host}:{Port} as {GatewayId}; {Pending} readings waiting")]
    public static partial void Connected(this ILogger logger, string host, int port, string gatewayId, long pending);

    [LoggerMessage(1010, LogLevel.Information, "The broker takes at most {ReceiveMaximum} messages awaiting PUBACK (MQTT 5 Receive Maximum): {MaxInFlight} in flight (Gateway:Mqtt:MaxInFlight) is lowered to that on this connection")]
    public static partial void WindowLowered(this ILogger logger, int receiveMaximum, int maxInFlight);

    [LoggerMessage(1002, LogLevel.Warning, "MQTT broker {Host}:{Port} unreachable ({Reason}); retrying in {Delay}")]
    public static partial void ConnectFailed(this ILogger logger, string host, int port, string reason, TimeSpan delay);

    [LoggerMessage(1003, LogLevel.Warning, "Publishing {Count} readings failed ({Reason}); they stay in the outbox")]
    public static partial void PublishFailed(this ILogger logger, int count, string reason);

    [LoggerMessage(1004, LogLevel.Error, "The aggregator refused {Count} readings as malformed ({Reason}); moved to the dead-letter table")]
    public static partial void DeadLettered(this ILogger logger, int count, string reason);

    [LoggerMessage(1005, LogLevel.Debug, "Forwarded readings {First}..{Last} ({Count})")]
    public static partial void Forwarded(this ILogger logger, long first, long last, int count);

    [LoggerMessage(1006, LogLevel.Error, "Forwarding failed unexpectedly (failure {Failures}); retrying in {Delay}")]
    public static partial void ForwarderFailed(this ILogger logger, Exception exception, long failures, TimeSpan delay);

    [LoggerMessage(1007, LogLevel.Error, "TLS to MQTT broker {Host}:{Port} failed ({Kind}): {Detail}; fix: {Fix}; readings stay in the outbox, retrying in {Delay}")]
    public static partial void TlsFailed(this ILogger logger, string host, int port, TlsFailureKind kind, string detail, string fix, TimeSpan delay);

    [LoggerMessage(1008, LogLevel.Warning, "{Warning}")]
    public static partial void TlsPortWarning(this ILogger logger, string warning);

    [LoggerMessage(1009, LogLevel.Information, "TLS to {Host}:{Port}: broker certificate '{Broker}' verified as {ServerName} ({Trust}); client certificate {Client}")]
    public static partial void TlsEstablished(this ILogger logger, string host, int port, string broker, string serverName, string trust, string client);

    [LoggerMessage(2006, LogLevel.Error, "Outbox reading {Sequence} cannot be sent ({Reason}); moved to the dead-letter table")]
    public static partial void RowDeadLettered(this ILogger logger, long sequence, string reason);

    [LoggerMessage(2007, LogLevel.Error, "Source {Source} failed (failure {Failures}); restarting it in {Delay}")]
    public static partial void SourceCrashed(this ILogger logger, Exception exception, string source, long failures, TimeSpan delay);

    [LoggerMessage(2008, LogLevel.Warning, "Source {Source} gave {Count} readings with a value that is not a finite number; stored as quality invalid")]
    public static partial void ReadingsInvalidated(this ILogger logger, string source, long count);

    [LoggerMessage(2001, LogLevel.Information, "Outbox {Path} opened: stream {StreamId}, {Pending} readings waiting")]
    public static partial void OutboxOpened(this ILogger logger, string path, string streamId, long pending);

    [LoggerMessage(2002, LogLevel.Error, "Could not append {Count} readings of {Source} to the outbox")]
    public static partial void AppendFailed(this ILogger logger, Exception exception, int count, string source);

    [LoggerMessage(2003, LogLevel.Warning, "Source {Source} failed to read: {Reason}")]
    public static partial void SourceFailed(this ILogger logger, string source, string reason);

    [LoggerMessage(2005, LogLevel.Warning, "Sensor {Sensor} could not be read: {Reason}")]
    public static partial void SensorFailed(this ILogger logger, string sensor, string reason);

    [LoggerMessage(2010, LogLevel.Warning, "{Device} cannot be used: {Reason}; its channels report comm_failure until it can (logged again only when this changes)")]
    public static partial void DeviceUnavailable(this ILogger logger, string device, string reason);

    [LoggerMessage(2011, LogLevel.Information, "{Device} works again; its channels report readings")]
    public static partial void DeviceRecovered(this ILogger logger, string device);

    [LoggerMessage(2004, LogLevel.Information, "Sampling {Source}: {Channels} channels")]
    public static partial void SamplingStarted(this ILogger logger, string source, int channels);

    [LoggerMessage(2012, LogLevel.Information, "Sampling stopped: {Appended} readings stored in the outbox this run, {Lost} lost")]
    public static partial void SamplingStopped(this ILogger logger, long appended, long lost);
}

/// <summary>Log lines of the remote configuration (event ids 25xx).</summary>
internal static partial class RemoteConfigLog
{
    [LoggerMessage(2501, LogLevel.Warning, "Remote configuration version {Version} applied; restarting the gateway on it (rolled back if the aggregator cannot be reached)")]
    public static partial void RemoteConfigApplying(this ILogger logger, long version);

    [LoggerMessage(2502, LogLevel.Information, "Remote configuration version {Version} reached the aggregator: applied")]
    public static partial void RemoteConfigConfirmed(this ILogger logger, long version);

    [LoggerMessage(2503, LogLevel.Warning, "Remote configuration version {Version} refused; the running configuration stays: {Reason}")]
    public static partial void RemoteConfigRefused(this ILogger logger, long version, string reason);

    [LoggerMessage(2504, LogLevel.Error, "Remote configuration version {Version} rolled back: {Reason}")]
    public static partial void RemoteConfigRolledBack(this ILogger logger, long version, string reason);

    [LoggerMessage(2505, LogLevel.Warning, "A configuration message could not be read ({Error}); ignored")]
    public static partial void RemoteConfigUndecodable(this ILogger logger, string error);

    [LoggerMessage(2506, LogLevel.Error, "Handling a configuration message failed ({Failures} so far); the running configuration stays")]
    public static partial void RemoteConfigFailed(this ILogger logger, Exception exception, long failures);
}

/// <summary>Log lines of the shared MQTT link and the relay outputs (event ids 26xx).</summary>
internal static partial class OutputLog
{
    [LoggerMessage(2601, LogLevel.Error, "{Participant} failed after CONNECT; the connection stays up for the readings")]
    public static partial void ParticipantFailed(this ILogger logger, Exception exception, string participant);

    [LoggerMessage(2602, LogLevel.Warning, "Output {Output}: command {CommandId} ({Action}) {Result} {Reason}")]
    public static partial void OutputCommanded(this ILogger logger, string output, string commandId, string action, string result, string reason);

    [LoggerMessage(2603, LogLevel.Warning, "Link to the aggregator down for {Timeout}: every output back to its safe state (Gateway:Gpio:OutputLinkLossTimeout)")]
    public static partial void OutputsSafeOnLinkLoss(this ILogger logger, TimeSpan timeout);

    [LoggerMessage(2604, LogLevel.Error, "The relay outputs cannot be opened ({Reason}); commands to them are refused")]
    public static partial void OutputsUnavailable(this ILogger logger, string reason);

    [LoggerMessage(2605, LogLevel.Warning, "An output command could not be read ({Error}); ignored")]
    public static partial void OutputCommandUndecodable(this ILogger logger, string error);

    [LoggerMessage(2606, LogLevel.Error, "Handling an output command failed ({Failures} so far)")]
    public static partial void OutputCommandFailed(this ILogger logger, Exception exception, long failures);
}

