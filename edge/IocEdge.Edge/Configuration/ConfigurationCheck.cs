using System.Collections;
using System.Diagnostics.CodeAnalysis;
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
    /// <paramref name="section"/>, which binds to the options class described by <paramref name="shape"/>.
    /// Returns (key path, message) pairs.
    /// </summary>
    public static List<(string Key, string Message)> Shape(IConfigurationSection section, ConfigObject shape)
    {
        var problems = new List<(string, string)>();
        CheckObject(section, shape, problems);
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

    private static void CheckObject(IConfigurationSection section, ConfigObject shape, List<(string, string)> problems)
    {
        foreach (var child in section.GetChildren())
        {
            if (!shape.Properties.TryGetValue(child.Key, out var node))
            {
                var nearest = Nearest(child.Key, shape.Properties.Keys);
                problems.Add((child.Path, nearest is null
                    ? $"{child.Path} is not a known key; the keys here are {string.Join(", ", shape.Properties.Keys.Order(StringComparer.Ordinal))} (edge/README.md, Configuration)."
                    : $"{child.Path} is not a known key; did you mean {nearest}?"));
                continue;
            }

            CheckValue(child, node, problems);
        }
    }

    private static void CheckValue(IConfigurationSection node, ConfigNode shape, List<(string, string)> problems)
    {
        switch (shape)
        {
            case ConfigScalar { Type: var leaf }:
                if (node.GetChildren().Any())
                {
                    problems.Add((node.Path, $"{node.Path} is a section but expects a single value ({Describe(leaf)})."));
                }
                else if (node.Value is { Length: > 0 } text && !TryConvert(text, leaf))
                {
                    problems.Add((node.Path, $"{node.Path} is '{text}', which is not {Describe(leaf)}; write {Example(leaf)}."));
                }

                return;

            case ConfigList { Element: var element }:
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

            case ConfigObject obj:
                if (node.Value is { Length: > 0 } && !node.GetChildren().Any())
                {
                    problems.Add((node.Path, $"{node.Path} is '{node.Value}' but expects a section {{ ... }} of settings."));
                    return;
                }

                CheckObject(node, obj, problems);
                return;
        }
    }

    /// <summary>
    /// The setting types a configuration value may have: those the configuration binding source generator converts
    /// from text (<see cref="TryConvert"/> applies its rules).
    /// </summary>
    internal static bool IsScalar(Type t) => t.IsEnum || t == typeof(string) || t == typeof(bool)
                                             || t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte)
                                             || t == typeof(double) || t == typeof(float) || t == typeof(decimal)
                                             || t == typeof(TimeSpan) || t == typeof(DateTimeOffset) || t == typeof(DateTime) || t == typeof(Uri);

    /// <summary>Arrays and one-argument generic collections (List&lt;T&gt;, IList&lt;T&gt;…), with their element type.</summary>
    internal static bool IsCollection(Type t, out Type element)
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

        // No GetInterfaces() walk (it needs the interfaces kept by the trimmer): the options use List<T> only.
        if (!t.IsGenericType || t.GetGenericArguments() is not [var single])
        {
            throw new NotSupportedException($"{t} is not a supported configuration collection; use List<T> or T[].");
        }

        element = single;
        return true;
    }

    /// <summary>
    /// Whether the options binder will accept <paramref name="text"/> for a setting of type <paramref name="type"/>:
    /// the same parse calls, styles and invariant culture as the code emitted by the configuration binding source
    /// generator (Microsoft.Extensions.Configuration.Binder, EnableConfigurationBindingGenerator), so that what
    /// passes here binds there. No TypeConverter (reflection, not trim-safe).
    /// </summary>
    internal static bool TryConvert(string text, Type type)
    {
        var c = CultureInfo.InvariantCulture;
        return type switch
        {
            _ when type.IsEnum => Enum.TryParse(type, text, ignoreCase: true, out _),
            _ when type == typeof(string) => true,
            _ when type == typeof(bool) => bool.TryParse(text, out _),
            _ when type == typeof(int) => int.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(long) => long.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(short) => short.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(byte) => byte.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float, c, out _),
            _ when type == typeof(float) => float.TryParse(text, NumberStyles.Float, c, out _),
            _ when type == typeof(decimal) => decimal.TryParse(text, NumberStyles.Float, c, out _),
            _ when type == typeof(TimeSpan) => TimeSpan.TryParse(text, c, out _),
            _ when type == typeof(DateTime) => DateTime.TryParse(text, c, DateTimeStyles.None, out _),
            _ when type == typeof(DateTimeOffset) => DateTimeOffset.TryParse(text, c, DateTimeStyles.None, out _),
            _ when type == typeof(Uri) => Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _),
            _ => throw new NotSupportedException($"{type} is not a supported configuration value type."),
        };
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
        var best = known.Select(k => (Key: k, Distance: IocEdge.Protocols.Mqtt.Identifiers.EditDistance(key.ToUpperInvariant(), k.ToUpperInvariant())))
            .OrderBy(x => x.Distance).FirstOrDefault();
        return best.Key is not null && best.Distance <= Math.Max(2, key.Length / 3) ? best.Key : null;
    }
}

/// <summary>The expected shape of one configuration node: a value, a list, or a section of settings.</summary>
internal abstract class ConfigNode
{
    private protected ConfigNode()
    {
    }
}

/// <summary>A single value of <see cref="Type"/> (a number, a duration, an enum name…).</summary>
internal sealed class ConfigScalar(Type type) : ConfigNode
{
    public Type Type { get; } = type;
}

/// <summary>A JSON array whose items have the shape <see cref="Element"/>.</summary>
internal sealed class ConfigList(ConfigNode element) : ConfigNode
{
    public ConfigNode Element { get; } = element;
}

/// <summary>
/// A section bound to an options class: its settable properties (and collections) by name, case-insensitive, as the
/// binder matches them. Built with <see cref="Of{T}"/>, which reads the properties of T through a trim-safe,
/// annotated generic parameter instead of walking property types by reflection (NativeAOT keeps exactly those).
/// </summary>
internal sealed class ConfigObject : ConfigNode
{
    private ConfigObject(Type type, Dictionary<string, ConfigNode> properties)
    {
        Type = type;
        Properties = properties;
    }

    /// <summary>The options class.</summary>
    public Type Type { get; }

    /// <summary>Settable properties and collections by name (OrdinalIgnoreCase).</summary>
    public IReadOnlyDictionary<string, ConfigNode> Properties { get; }

    /// <summary>
    /// The shape of options class <typeparamref name="T"/>. Every property whose type is itself an options class (or a
    /// list of one) must have its shape among <paramref name="nested"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">A property's class has no shape in <paramref name="nested"/>, or its type cannot be bound.</exception>
    public static ConfigObject Of<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(params ConfigObject[] nested)
    {
        var properties = new Dictionary<string, ConfigNode>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var isCollection = ConfigurationCheck.IsCollection(p.PropertyType, out var element);
            if (!p.CanWrite && !isCollection)
            {
                continue; // computed (OutboxPath, IsEmpty…): the binder ignores it, so a key of that name is unknown
            }

            properties[p.Name] = isCollection ? new ConfigList(NodeOf(element, nested, p)) : NodeOf(p.PropertyType, nested, p);
        }

        return new ConfigObject(typeof(T), properties);
    }

    private static ConfigNode NodeOf(Type type, ConfigObject[] nested, PropertyInfo property)
    {
        var leaf = Nullable.GetUnderlyingType(type) ?? type;
        if (ConfigurationCheck.IsScalar(leaf))
        {
            return new ConfigScalar(leaf);
        }

        return nested.FirstOrDefault(n => n.Type == leaf)
               ?? throw new NotSupportedException(
                   $"{property.DeclaringType?.Name}.{property.Name}: no shape for {leaf.Name}; pass ConfigObject.Of<{leaf.Name}>() among the nested shapes.");
    }
}
