namespace IocEdge.Aggregator.Security;

/// <summary>
/// Caps text that comes from a client (client ids of up to 65,535 bytes, topics, codec errors quoting the payload)
/// before it reaches a log line, a reason string or a metric label, so one client cannot write megabytes per line.
/// </summary>
public static class Bounded
{
    /// <summary>Default cap for a client-supplied value in a log line or reason string (characters).</summary>
    public const int Default = 200;

    /// <summary><paramref name="text"/> unchanged if at most <paramref name="max"/> characters, else its first <paramref name="max"/> and "…(N chars)".</summary>
    public static string Text(string? text, int max = Default)
    {
        if (text is null)
        {
            return string.Empty;
        }

        return text.Length <= max ? text : string.Concat(text.AsSpan(0, max), "…(", text.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), " chars)");
    }
}
