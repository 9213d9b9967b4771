using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IocEdge.Aggregator.Security;

/// <summary>The two API scopes: <c>read</c> (every GET of the API, /metrics) and <c>admin</c> (provisioning; includes read).</summary>
public static class ApiScopes
{
    public const string Read = "read";
    public const string Admin = "admin";
}

/// <summary>
/// The HTTP API keys: SHA-256 hashes from the options (<see cref="ApiOptions.ReadKeyHashes"/>,
/// <see cref="ApiOptions.AdminKeyHashes"/>) and from <c>{DataDirectory}/api-keys.json</c> (mode 0600), which
/// <see cref="Create"/> writes. A key is 32 random bytes (base64url, prefixed <c>iek_</c>), so a single SHA-256 is the
/// right hash at rest (a slow KDF protects guessable passwords; 256 random bits cannot be guessed), and looking its
/// hash up leaks nothing useful about other keys. Keys are never logged. The file is re-read when the CLI changes it.
/// </summary>
public sealed class ApiKeyStore
{
    private readonly ApiOptions _options;
    private readonly string _path;
    private readonly Lock _lock = new();
    private Dictionary<string, string> _byHash = new(StringComparer.Ordinal);
    private DateTime _stamp = DateTime.MaxValue;

    public ApiKeyStore(IOptions<AggregatorOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.Api;
        _path = options.Value.ApiKeysPath;
    }

    /// <summary>True when the read scope is open to anyone: <c>none</c>, or <c>auto</c> while no key exists.</summary>
    public bool ReadIsOpen => _options.Authentication == "none" || (_options.Authentication == "auto" && Keys().Count == 0);

    /// <summary>True only with <c>none</c>: admin routes never open just because no key exists yet.</summary>
    public bool AdminIsOpen => _options.Authentication == "none";

    /// <summary>
    /// The admin method (what the CLI will call): creates a key with <paramref name="scope"/>, stores its hash and
    /// returns the key, shown once. <paramref name="name"/> labels it in the file (who holds it).
    /// </summary>
    /// <exception cref="ArgumentException">The scope is not read or admin.</exception>
    public string Create(string scope, string name)
    {
        if (scope is not (ApiScopes.Read or ApiScopes.Admin))
        {
            throw new ArgumentException($"scope '{Bounded.Text(scope, 32)}' is not read or admin.", nameof(scope));
        }

        var key = "iek_" + CredentialStore.Base64Url(RandomNumberGenerator.GetBytes(32));
        lock (_lock)
        {
            var file = ReadFile();
            file.Keys.Add(new ApiKeyEntry { Name = Bounded.Text(name, 64), Scope = scope, Sha256 = HashOf(key) });
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            var temp = _path + ".tmp";
            var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temp, fileOptions))
            {
                JsonSerializer.Serialize(stream, file, SecurityJsonContext.Default.ApiKeysFile);
            }

            File.Move(temp, _path, overwrite: true);
            _stamp = DateTime.MaxValue; // re-read on next use
        }

        return key;
    }

    /// <summary>The scope of <paramref name="key"/>, or null when it is not a key of this aggregator.</summary>
    public string? ScopeOf(string key) => Keys().GetValueOrDefault(HashOf(key));

    /// <summary>Lower-case hex SHA-256 of the key's UTF-8 bytes (the form <see cref="ApiOptions"/> takes).</summary>
    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key ?? string.Empty)));

    internal static IEnumerable<string> SplitHashes(string? value) =>
        (value ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal static bool IsHash(string h) => h.Length == 64 && h.All(char.IsAsciiHexDigit);

    private Dictionary<string, string> Keys()
    {
        var stamp = File.Exists(_path) ? File.GetLastWriteTimeUtc(_path) : DateTime.MinValue;
        lock (_lock)
        {
            if (stamp == _stamp)
            {
                return _byHash;
            }

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var h in SplitHashes(_options.ReadKeyHashes))
            {
                map[h.ToLowerInvariant()] = ApiScopes.Read;
            }

            foreach (var h in SplitHashes(_options.AdminKeyHashes))
            {
                map[h.ToLowerInvariant()] = ApiScopes.Admin;
            }

            foreach (var entry in ReadFile().Keys)
            {
                map[entry.Sha256.ToLowerInvariant()] = entry.Scope == ApiScopes.Admin ? ApiScopes.Admin : ApiScopes.Read;
            }

            _byHash = map;
            _stamp = stamp;
            return map;
        }
    }

    private ApiKeysFile ReadFile()
    {
        if (!File.Exists(_path))
        {
            return new ApiKeysFile();
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(_path), SecurityJsonContext.Default.ApiKeysFile) ?? new ApiKeysFile();
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{_path} is not an API key file ({ex.Message}): restore it or remove it and create the keys again.", ex);
        }
    }
}

/// <summary>
/// ASP.NET Core authentication for API keys: <c>X-Api-Key: KEY</c> or <c>Authorization: Bearer KEY</c>. No key is no
/// result (401 if the route needs one); an unknown key fails (401); a known key signs in with claim <c>scope</c>.
/// 401 and 403 answers are counted in <see cref="SecurityMetrics"/> (<c>iocedge.http.refusals</c>).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys, SecurityMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    private const string ProblemItem = "iocedge.apikey.problem";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key = Request.Headers[HeaderName];
        if (string.IsNullOrEmpty(key) && Request.Headers.Authorization.ToString() is { } auth &&
            auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            key = auth["Bearer ".Length..].Trim();
        }

        if (string.IsNullOrEmpty(key))
        {
            Context.Items[ProblemItem] = "no_key";
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (key.Length > 256 || keys.ScopeOf(key) is not { } scope)
        {
            Context.Items[ProblemItem] = "bad_key";
            return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        }

        var identity = new ClaimsIdentity([new Claim("scope", scope)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var problem = Context.Items[ProblemItem] as string ?? "no_key";
        metrics.HttpRefused(problem);
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"iocedge\"";
        await Response.WriteAsync(problem == "bad_key"
            ? "unknown API key: use a key created by the aggregator's admin (X-Api-Key: KEY or Authorization: Bearer KEY)\n"
            : "an API key is required: send X-Api-Key: KEY or Authorization: Bearer KEY\n").ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        metrics.HttpRefused("scope");
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsync("this route needs an admin key; yours has the read scope\n").ConfigureAwait(false);
    }
}

/// <summary>Requires <see cref="Scope"/> (admin satisfies read), unless the store says that scope is open.</summary>
public sealed class ApiScopeRequirement(string scope) : AuthorizationHandler<ApiScopeRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ApiScopeRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(requirement);
        var keys = (context.Resource as HttpContext)?.RequestServices.GetService(typeof(ApiKeyStore)) as ApiKeyStore;
        var open = requirement.Scope == ApiScopes.Admin ? keys?.AdminIsOpen == true : keys?.ReadIsOpen == true;
        if (open || context.User.HasClaim("scope", ApiScopes.Admin) ||
            (requirement.Scope == ApiScopes.Read && context.User.HasClaim("scope", ApiScopes.Read)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Registration and the one call that protects the API's routes.</summary>
public static class ApiKeyExtensions
{
    /// <summary>Routes open to anyone: liveness and the page's HTML (its data calls need a key when keys exist).</summary>
    public static readonly string[] OpenRoutes = ["/healthz", "/"];

    /// <summary>Adds the ApiKey scheme, the policies "read" and "admin", and <see cref="ApiKeyStore"/>.</summary>
    public static void AddApiKeys(this Microsoft.Extensions.DependencyInjection.IServiceCollection services)
    {
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<ApiKeyStore>(services);
        Microsoft.Extensions.DependencyInjection.AuthenticationServiceCollectionExtensions.AddAuthentication(services, ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        Microsoft.Extensions.DependencyInjection.PolicyServiceCollectionExtensions.AddAuthorizationBuilder(services)
            .AddPolicy(ApiScopes.Read, p => p.AddRequirements(new ApiScopeRequirement(ApiScopes.Read)))
            .AddPolicy(ApiScopes.Admin, p => p.AddRequirements(new ApiScopeRequirement(ApiScopes.Admin)));
    }

    /// <summary>Requires an API key with <paramref name="scope"/> on every route of <paramref name="builder"/>.</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(scope);

    /// <summary>
    /// The one call per route group: every route of <paramref name="group"/> needs the read scope, routes under
    /// <c>/api/v1/admin</c> the admin scope, and <see cref="OpenRoutes"/> none.
    /// </summary>
    public static RouteGroupBuilder RequireApiKeys(this RouteGroupBuilder group)
    {
        ArgumentNullException.ThrowIfNull(group);
        ((IEndpointConventionBuilder)group).Add(endpoint =>
        {
            var pattern = (endpoint as RouteEndpointBuilder)?.RoutePattern.RawText ?? string.Empty;
            var path = "/" + pattern.TrimStart('/');
            if (OpenRoutes.Contains(path, StringComparer.Ordinal))
            {
                endpoint.Metadata.Add(new AllowAnonymousAttribute());
            }
            else
            {
                endpoint.Metadata.Add(new AuthorizeAttribute(path.StartsWith("/api/v1/admin", StringComparison.Ordinal) ? ApiScopes.Admin : ApiScopes.Read));
            }
        });
        return group;
    }
}
