namespace IocEdge.Aggregator.Security;

/// <summary>
/// Who may do what on the embedded broker, deny by default (the authn → authz chain of EMQX and mosquitto's
/// <c>pattern readwrite iocedge/v1/%u/#</c>). Pure: no I/O. Contract §1: a gateway's client id is its gateway id; §3:
/// everything a gateway sends or will receive is under <c>iocedge/v1/{its id}/</c>.
/// </summary>
public static class MqttAccess
{
    /// <summary>The client-id suffix of a gateway account's diagnostic session (<c>iocedge doctor</c>).</summary>
    public const string DiagnosticSuffix = ".doctor";

    /// <summary>
    /// A gateway connects with client id = its user name = its gateway id; a reader with <c>{user}</c> or
    /// <c>{user}.{suffix}</c> (never a gateway id: '.' is outside the gateway alphabet). So no account can take over
    /// another's client id (MQTT would disconnect the holder: MQTT 5 §3.1.4-3). A gateway's account may also connect as
    /// <c>{id}.doctor</c> (<see cref="DiagnosticSuffix"/>): the technician's <c>iocedge doctor</c> checks the gateway's
    /// credentials with it while the gateway itself stays connected.
    /// </summary>
    public static bool ClientIdAllowed(MqttAccount account, string clientId)
    {
        ArgumentNullException.ThrowIfNull(account);
        return account.Role == MqttRole.Gateway
            ? string.Equals(clientId, account.UserName, StringComparison.Ordinal) ||
              string.Equals(clientId, account.UserName + DiagnosticSuffix, StringComparison.Ordinal)
            : string.Equals(clientId, account.UserName, StringComparison.Ordinal) ||
              (clientId?.StartsWith(account.UserName + ".", StringComparison.Ordinal) ?? false);
    }

    /// <summary>A gateway may publish only under <c>iocedge/v1/{its id}/</c>; a reader never publishes.</summary>
    public static bool MayPublish(MqttAccount account, string topic)
    {
        ArgumentNullException.ThrowIfNull(account);
        return account.Role == MqttRole.Gateway && (topic ?? string.Empty).StartsWith(Prefix(account.UserName), StringComparison.Ordinal);
    }

    /// <summary>
    /// A gateway may subscribe only under <c>iocedge/v1/{its id}/</c> (its config topic, §3); a reader under
    /// <c>iocedge/v1/</c> with any gateway level (<c>iocedge/v1/+/readings</c>, <c>iocedge/v1/#</c>). <c>#</c>,
    /// <c>+/…</c>, <c>iocedge/#</c>, <c>$SYS/…</c> and shared subscriptions are refused (SUBACK 0x87, MQTT 5 §3.9.3).
    /// </summary>
    public static bool MaySubscribe(MqttAccount account, string topicFilter)
    {
        ArgumentNullException.ThrowIfNull(account);
        var filter = topicFilter ?? string.Empty;
        if (account.Role == MqttRole.Gateway)
        {
            return filter.StartsWith(Prefix(account.UserName), StringComparison.Ordinal);
        }

        var levels = filter.Split('/');
        return levels.Length >= 3 && levels[0] == "iocedge" && levels[1] == "v1";
    }

    private static string Prefix(string gatewayId) => "iocedge/v1/" + gatewayId + "/";
}
