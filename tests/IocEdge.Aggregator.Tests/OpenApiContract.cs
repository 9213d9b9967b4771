using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Holds real responses to the OpenAPI 3.1 document the aggregator serves: the schema of
/// <c>paths[path].get.responses[status].content[media type]</c>, its <c>#/components/schemas/…</c> references made
/// local (<c>$defs</c>), evaluated with JsonSchema.Net (JSON Schema 2020-12, as OpenAPI 3.1 uses) with format
/// validation on (date-time and the like are checked).
/// </summary>
internal sealed class OpenApiContract(JsonElement document)
{
    public JsonElement Document { get; } = document;

    /// <summary>Returns the evaluation errors (empty when valid); fails when the document does not describe the response.</summary>
    public IReadOnlyList<string> Check(string path, int status, string mediaType, JsonElement body)
    {
        var op = Document.GetProperty("paths").GetProperty(path).GetProperty("get");
        Assert.True(op.GetProperty("responses").TryGetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response),
            $"the document has no {status} response for GET {path}");
        var media = default(JsonElement);
        Assert.True(response.TryGetProperty("content", out var content) && content.TryGetProperty(mediaType, out media),
            $"the document has no {mediaType} content for GET {path} {status}");
        var schemaText = media.GetProperty("schema").GetRawText();
        var defs = Document.TryGetProperty("components", out var c) && c.TryGetProperty("schemas", out var s) ? s.GetRawText() : "{}";
        var root = JsonNode.Parse($$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{{defs}},"allOf":[{{schemaText}}]}""")!;
        var text = root.ToJsonString().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
        var schema = JsonSchema.FromText(text, new BuildOptions { SchemaRegistry = new SchemaRegistry() },
            new Uri($"urn:iocedge:openapi:{Guid.NewGuid():N}"));
        var result = schema.Evaluate(body, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        return result.IsValid
            ? []
            : (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key} {e.Value}")).ToList();
    }
}
