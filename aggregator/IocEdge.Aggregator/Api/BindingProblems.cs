using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// A query value that cannot be bound to its parameter (<c>?limit=abc</c>) gets the API's own 400 problem body naming
/// the parameter, like every other bad parameter, instead of ASP.NET Core's bare 400 with no body: the route handlers
/// throw on a bad request (<c>RouteHandlerOptions.ThrowOnBadRequest</c>, set in <c>AggregatorHost</c>) and this
/// middleware answers for them.
/// </summary>
internal static partial class BindingProblems
{
    // ASP.NET Core's message for a failed binding: Failed to bind parameter "int? limit" from "abc".
    [GeneratedRegex("""parameter "(?<type>[^"]*?)\s*(?<name>[A-Za-z_][A-Za-z0-9_]*)" from "(?<value>.*)"\.?$""", RegexOptions.Singleline)]
    private static partial Regex FailedToBind();

    /// <summary>Adds the middleware; place it before the endpoints.</summary>
    public static IApplicationBuilder UseBindingProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await Problem(ex).ExecuteAsync(context).ConfigureAwait(false);
        }
    });

    private static ProblemHttpResult Problem(BadHttpRequestException ex)
    {
        if (FailedToBind().Match(ex.Message) is not { Success: true } m)
        {
            return TypedResults.Problem(detail: ex.Message, statusCode: ex.StatusCode, title: "Bad request");
        }

        var name = m.Groups["name"].Value;
        var type = m.Groups["type"].Value.TrimEnd('?');
        var expected = type switch
        {
            "int" or "long" or "short" => "a whole number",
            "double" or "float" or "decimal" => "a number",
            "bool" => "true or false",
            _ => $"a value of type {type}",
        };
        var value = m.Groups["value"].Value;
        value = value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");
        return TypedResults.Problem(
            detail: $"{name}: '{value}' is not {expected}.",
            statusCode: StatusCodes.Status400BadRequest,
            title: $"Invalid parameter '{name}'",
            extensions: new Dictionary<string, object?> { ["parameter"] = name });
    }
}
