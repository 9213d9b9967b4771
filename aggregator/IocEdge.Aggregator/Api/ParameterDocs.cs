using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace IocEdge.Aggregator.Api;

/// <summary>What the OpenAPI document says of one query (or header) parameter beyond its name and type.</summary>
/// <param name="Name">The parameter's name as the route takes it.</param>
/// <param name="Description">What it does, its default and its bounds.</param>
/// <param name="Required">True when the route refuses a request without it (the handler checks; the document says so).</param>
/// <param name="Values">The only values it takes (an <c>enum</c> in the document), or null.</param>
/// <param name="Format">The schema's <c>format</c> (<c>date-time</c> for RFC 3339 times), or null.</param>
internal sealed record ParameterDoc(string Name, string Description, bool Required = false, string[]? Values = null, string? Format = null);

/// <summary>
/// Describes a route's parameters in the OpenAPI document: descriptions, <c>required</c>, <c>enum</c> and
/// <c>format</c>, which ASP.NET Core cannot infer from the handler (its parameters are nullable strings so that the
/// handler can answer a missing or bad value with the API's own problem body).
/// </summary>
internal static class ParameterDocs
{
    public static RouteHandlerBuilder Describe(this RouteHandlerBuilder route, params ParameterDoc[] docs) =>
        route.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                if (docs.FirstOrDefault(d => d.Name == parameter.Name) is not { } doc)
                {
                    continue;
                }

                parameter.Description = doc.Description;
                parameter.Required |= doc.Required;
                if (parameter.Schema is OpenApiSchema schema)
                {
                    if (doc.Values is not null)
                    {
                        schema.Enum = [.. doc.Values.Select(v => (JsonNode)JsonValue.Create(v))];
                    }

                    if (doc.Format is not null)
                    {
                        schema.Format = doc.Format;
                    }
                }
            }

            return Task.CompletedTask;
        });
}
