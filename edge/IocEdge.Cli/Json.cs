using System.Text.Json;
using System.Text.Json.Nodes;

namespace IocEdge.Cli;

/// <summary>The <c>--json</c> output: one JSON document on standard output, indented, field names in snake_case.</summary>
internal static class Json
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(CliConsole console, JsonNode node) => console.Out.WriteLine(node.ToJsonString(Indented));
}
