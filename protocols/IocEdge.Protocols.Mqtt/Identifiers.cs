namespace IocEdge.Protocols.Mqtt;

/// <summary>
/// The shapes of gateway, stream and channel ids (contract v1 §2). They are kept to characters that are safe in an MQTT
/// topic level, a broker ACL pattern, a file name and a URL, so no id ever needs escaping.
/// </summary>
public static class Identifiers
{
    public const int MaxGatewayIdLength = 64;
    public const int MaxChannelIdLength = 128;
    public const int MaxStreamIdLength = 32;
    public const int MaxUnitLength = 16;

    /// <summary>Lower-case letters, digits and '-', starting with a letter or digit, 1 to 64 characters.</summary>
    public static bool IsValidGatewayId(ReadOnlySpan<char> id) =>
        id.Length is > 0 and <= MaxGatewayIdLength && IsAlnum(id[0]) && AllOf(id, static c => IsAlnum(c) || c == '-');

    /// <summary>Lower-case letters and digits, 1 to 32 characters.</summary>
    public static bool IsValidStreamId(ReadOnlySpan<char> id) =>
        id.Length is > 0 and <= MaxStreamIdLength && AllOf(id, IsAlnum);

    /// <summary>
    /// One or more segments separated by '/', each of lower-case letters, digits, '_', '-', '.', starting with a letter or
    /// digit ("env1/pm2_5", "pole7/door"); at most 128 characters.
    /// </summary>
    public static bool IsValidChannelId(ReadOnlySpan<char> id)
    {
        if (id.Length is 0 or > MaxChannelIdLength)
        {
            return false;
        }

        var segmentStart = true;
        foreach (var c in id)
        {
            if (c == '/')
            {
                if (segmentStart)
                {
                    return false;
                }

                segmentStart = true;
                continue;
            }

            if (segmentStart ? !IsAlnum(c) : !(IsAlnum(c) || c is '_' or '-' or '.'))
            {
                return false;
            }

            segmentStart = false;
        }

        return !segmentStart;
    }

    /// <summary>Printable ASCII without spaces or quotes, 1 to 16 characters ("ug/m3", "degC", "%RH").</summary>
    public static bool IsValidUnit(ReadOnlySpan<char> unit) =>
        unit.Length is > 0 and <= MaxUnitLength && AllOf(unit, static c => c is > ' ' and < (char)0x7F and not '"' and not '\\');

    private static bool IsAlnum(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    private static bool AllOf(ReadOnlySpan<char> s, Func<char, bool> predicate)
    {
        foreach (var c in s)
        {
            if (!predicate(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Levenshtein distance between <paramref name="a"/> and <paramref name="b"/> (an insertion, a deletion or a
    /// substitution of one UTF-16 code unit each cost 1; ordinal, so callers fold case first when it should not count):
    /// how the aggregator's API and both configuration checks find the id or key a user probably meant. O(|a|·|b|) time,
    /// one row of |b| + 1 integers.
    /// </summary>
    public static int EditDistance(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var d = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            d[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = d[0];
            d[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = d[j];
                d[j] = Math.Min(Math.Min(above + 1, d[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }

        return d[b.Length];
    }
}
