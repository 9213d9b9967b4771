using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace IocEdge.Edge.Configuration;

/// <summary>
/// Every problem of a gateway configuration, found before anything is opened: each is one line that names the key
/// path, where it came from (the file, an IOCEDGE_ environment variable or the command line), what is wrong and the fix.
/// </summary>
public sealed class GatewayConfigurationException : Exception
{
    public GatewayConfigurationException(IReadOnlyList<string> problems)
        : base(string.Join(Environment.NewLine, problems)) => Problems = problems;

    public GatewayConfigurationException()
        : this([])
    {
    }

    public GatewayConfigurationException(string message)
        : this([message])
    {
    }

    public GatewayConfigurationException(string message, Exception innerException)
        : base(message, innerException) => Problems = [message];

    /// <summary>One line per problem, "ORIGIN: KEY what is wrong; the fix".</summary>
    public IReadOnlyList<string> Problems { get; }
}

/// <summary>Checks the text and the shape of the configuration that the options binder would otherwise refuse with a stack trace.</summary>
internal static class ConfigurationCheck
{
    private static readonly JsonDocumentOptions StrictJson = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false };

    /// <summary>
    /// The JSON syntax error of <paramref name="path"/> as "FILE:LINE:COLUMN: ..." (1-based, as editors count), or null.
    /// RFC 8259 JSON: a trailing comma is an error (comments are allowed, as the configuration loader allows them).
    /// </summary>
    public static string? JsonSyntaxError(string path)
    {
        try
        {
            using var _ = JsonDocument.Parse(File.ReadAllBytes(path), StrictJson);
            return null;
        }
        catch (JsonException ex)
        {
            var what = ex.Message;
            foreach (var cut in new[] { " LineNumber:", " Path:" })
            {
                var at = what.IndexOf(cut, StringComparison.Ordinal);
                if (at > 0)
                {
                    what = what[..at];
                }
            }

            return FormattableString.Invariant(
                $"{path}:{(ex.LineNumber ?? 0) + 1}:{(ex.BytePositionInLine ?? 0) + 1}: not valid JSON: {what.Trim()} Fix the text at that line and column (a trailing comma, a missing brace, bracket or quote).");
        }
    }

    /// <summary>
    /// Unknown keys (with the nearest known one) and values that cannot be converted to their setting's type under
    /// <paramref name="section"/>, which binds to <paramref name="type"/>. Returns (key path, message) pairs.
    /// </summary>
    public static List<(string Key, string Message)> Shape(IConfigurationSection section, Type type)
    {
        var problems = new List<(string, string)>();
        CheckObject(section, type, problems);
        return problems;
    }

    /// <summary>Where the value of <paramref name="key"/> came from: the file's path, "environment IOCEDGE_…" or "command line".</summary>
    public static string Origin(IConfigurationRoot root, string key, string configPath)
    {
        foreach (var p in root.Providers.Reverse())
        {
            if (p.TryGet(key, out _) || p.GetChildKeys([], key).Any())
            {
                return p switch
                {
                    JsonConfigurationProvider => configPath,
                    EnvironmentVariablesConfigurationProvider => "environment IOCEDGE_" + key.Replace(":", "__", StringComparison.Ordinal),
                    CommandLineConfigurationProvider => "command line --" + key,
                    _ => configPath,
                };
            }
        }

        return configPath;
    }

    private static void CheckObject(IConfigurationSection section, Type type, List<(string, string)> problems)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite || IsCollection(p.PropertyType, out _))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                var nearest = Nearest(child.Key, properties.Keys);
                problems.Add((child.Path, nearest is null
                    ? $"{child.Path} is not a known key; the keys here are {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))} (edge/README.md, Configuration)."
                    : $"{child.Path} is not a known key; did you mean {nearest}?"));
                continue;
            }

            CheckValue(child, property.PropertyType, problems);
        }
    }

    private static void CheckValue(IConfigurationSection node, Type type, List<(string, string)> problems)
    {
        var leaf = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(leaf))
        {
            if (node.GetChildren().Any())
            {
                problems.Add((node.Path, $"{node.Path} is a section but expects a single value ({Describe(leaf)})."));
            }
            else if (node.Value is { Length: > 0 } text && !TryConvert(text, leaf))
            {
                problems.Add((node.Path, $"{node.Path} is '{text}', which is not {Describe(leaf)}; write {Example(leaf)}."));
            }

            return;
        }

        if (IsCollection(type, out var element))
        {
            if (node.Value is { Length: > 0 } && !node.GetChildren().Any())
            {
                problems.Add((node.Path, $"{node.Path} is '{node.Value}' but expects a list: write [ ... ]."));
                return;
            }

            foreach (var item in node.GetChildren())
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    problems.Add((item.Path, $"{item.Path}: {node.Path} is a list; write it as [ ... ], not as an object."));
                    continue;
                }

                CheckValue(item, element, problems);
            }

            return;
        }

        if (node.Value is { Length: > 0 } && !node.GetChildren().Any())
        {
            problems.Add((node.Path, $"{node.Path} is '{node.Value}' but expects a section {{ ... }} of settings."));
            return;
        }

        CheckObject(node, type, problems);
    }

    private static bool IsScalar(Type t) => t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal)
                                            || t == typeof(TimeSpan) || t == typeof(DateTimeOffset) || t == typeof(DateTime) || t == typeof(Uri);

    private static bool IsCollection(Type t, out Type element)
    {
        element = typeof(object);
        if (t == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(t))
        {
            return false;
        }

        if (t.IsArray)
        {
            element = t.GetElementType()!;
            return true;
        }

        var generic = t.IsGenericType ? t : t.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        if (generic is null)
        {
            return false;
        }

        element = generic.GetGenericArguments()[0];
        return true;
    }

    private static bool TryConvert(string text, Type type)
    {
        if (type.IsEnum)
        {
            return Enum.TryParse(type, text, ignoreCase: true, out _);
        }

        try
        {
            // The same converter the options binder uses, so what passes here binds there.
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ArgumentException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type t) => t switch
    {
        _ when t.IsEnum => "one of " + string.Join(", ", Enum.GetNames(t)),
        _ when t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) => "a whole number",
        _ when t == typeof(double) || t == typeof(float) || t == typeof(decimal) => "a number",
        _ when t == typeof(bool) => "true or false",
        _ when t == typeof(TimeSpan) => "a duration hh:mm:ss",
        _ => "a " + t.Name,
    };

    private static string Example(Type t) => t switch
    {
        _ when t.IsEnum => $"\"{Enum.GetNames(t)[0]}\"",
        _ when t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) => "digits only, such as 1883 (no quotes needed)",
        _ when t == typeof(double) || t == typeof(float) || t == typeof(decimal) => "a number such as 0.25 (a dot, no unit)",
        _ when t == typeof(bool) => "true or false",
        _ when t == typeof(TimeSpan) => "\"00:00:30\" for 30 seconds",
        _ => "a valid " + t.Name,
    };

    /// <summary>The known key closest to <paramref name="key"/> by edit distance, when it is close enough to be a typo.</summary>
    internal static string? Nearest(string key, IEnumerable<string> known)
    {
        var best = known.Select(k => (Key: k, Distance: Distance(key.ToUpperInvariant(), k.ToUpperInvariant())))
            .OrderBy(x => x.Distance).FirstOrDefault();
        return best.Key is not null && best.Distance <= Math.Max(2, key.Length / 3) ? best.Key : null;
    }

    /// <summary>Levenshtein distance (insert, delete, substitute each cost 1).</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
