using System.Globalization;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Reads a Prometheus text exposition (format 0.0.4, as OpenTelemetry's exporter writes it: labels in any order,
/// <c>otel_scope_*</c> labels added, an optional timestamp after the value). Tests ask by metric name and the labels
/// they care about, so they do not depend on label order or the exporter's extra labels.
/// </summary>
internal static class PrometheusText
{
    /// <summary>
    /// The value of the one sample of <paramref name="name"/> whose labels include every pair of
    /// <paramref name="labels"/> (name, value, name, value…); null when there is none. Throws when several match.
    /// </summary>
    public static double? Value(string text, string name, params string[] labels)
    {
        var matches = Samples(text).Where(s => s.Name == name && Enumerable.Range(0, labels.Length / 2)
            .All(i => s.Labels.TryGetValue(labels[2 * i], out var v) && v == labels[(2 * i) + 1])).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => matches[0].Value,
            _ => throw new InvalidOperationException($"{matches.Count} samples of {name} match; give more labels."),
        };
    }

    public static IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> Samples(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            int i = line.IndexOfAny(['{', ' ']);
            var name = line[..i];
            if (line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq];
                    var sb = new System.Text.StringBuilder();
                    var j = eq + 2; // past ="
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            sb.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            sb.Append(line[j]);
                        }
                    }

                    labels[key] = sb.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                i++;
            }

            var rest = line[(i + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            yield return (name, labels, rest[0] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            });
        }
    }
}
