using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace IocEdge.Aggregator.Api;

/// <summary>
/// A query parameter a route does not take (a typo such as <c>?gatway=gw-demo-01</c>, or <c>agg</c> spelt
/// <c>aggr</c>) gets the API's 400 problem naming it and listing the parameters the route takes, instead of being
/// ignored (which answered as if the parameter had not been given). The list is not written by hand: it is the route
/// handler's parameters as ASP.NET Core describes them (<see cref="IParameterBindingMetadata"/>, the same description
/// the OpenAPI document is made from) that bind from the query string, so a new parameter is accepted as soon as the
/// handler takes it.
/// </summary>
internal static class QueryParameters
{
    /// <summary>Adds the check to every route handler of <paramref name="builder"/> (a route group or one route).</summary>
    public static TBuilder RejectUnknownQueryParameters<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((_, next) =>
        {
            string[]? accepted = null; // from the endpoint's metadata, at its first request with a query string
            return invocation =>
            {
                var request = invocation.HttpContext.Request;
                if (request.Query.Count == 0)
                {
                    return next(invocation);
                }

                accepted ??= Accepted(invocation.HttpContext.GetEndpoint());
                foreach (var key in request.Query.Keys)
                {
                    if (!accepted.Contains(key, StringComparer.OrdinalIgnoreCase))
                    {
                        var name = ApiEndpoints.Clip(key);
                        return ValueTask.FromResult<object?>(ApiEndpoints.Bad(name, accepted.Length == 0
                            ? $"unknown parameter '{name}': this route takes no query parameters."
                            : $"unknown parameter '{name}': this route takes {string.Join(", ", accepted)}."));
                    }
                }

                return next(invocation);
            };
        });

    // The parameters bound from the query string, in the handler's order: those ASP.NET Core binds from a string
    // (TryParse, or string itself) that no attribute sends elsewhere (header, route, services, body, form) and that
    // are not a parameter of the route's pattern.
    private static string[] Accepted(Endpoint? endpoint) =>
    [
        .. (endpoint?.Metadata.GetOrderedMetadata<IParameterBindingMetadata>() ?? [])
            .Where(p => p.HasTryParse && !p.HasBindAsync && !ElsewhereBound(p.ParameterInfo))
            .Where(p => (endpoint as RouteEndpoint)?.RoutePattern.GetParameter(p.Name) is null)
            .Select(p => p.ParameterInfo.GetCustomAttributes().OfType<IFromQueryMetadata>().FirstOrDefault()?.Name ?? p.Name),
    ];

    private static bool ElsewhereBound(ParameterInfo parameter) => parameter.GetCustomAttributes().Any(a =>
        a is IFromHeaderMetadata or IFromRouteMetadata or IFromServiceMetadata or IFromBodyMetadata or IFromFormMetadata);
}
