using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>Why a presented enrolment token was not honoured (the <c>reason</c> label of <c>iocedge.enrolment.refusals</c>).</summary>
public enum TokenRefusal
{
    /// <summary>No token with this hash was ever created here (or it was mistyped).</summary>
    Unknown,

    /// <summary>The token was already exchanged once (tokens are one-time).</summary>
    Used,

    /// <summary>The token's expiry has passed.</summary>
    Expired,

    /// <summary>The token was created for another gateway id.</summary>
    WrongGateway,
}

/// <summary>A token that was honoured: the configuration the admin attached to it (the <c>Gateway</c> channel sections), if any.</summary>
public sealed record RedeemedToken(string GatewayId, JsonObject? Config);

/// <summary>
/// One-time enrolment tokens, kept in <c>{DataDirectory}/enrolment-tokens.json</c> (mode 0600) as SHA-256 hashes only
/// (a token is 32 random bytes: a fast hash is enough, as for API keys; it cannot be guessed). A token may be bound to
/// one gateway id, carries an expiry and optionally an initial configuration; it is marked used before anything is
/// issued, so two racing requests cannot both redeem it. Time comes from <see cref="TimeProvider"/>.
/// </summary>
public sealed class EnrolmentTokens(string path, TimeProvider time)
{
    /// <summary>The prefix of every token (<c>iet_</c> = IocEdge enrolment token), so a token pasted in the wrong place is recognisable.</summary>
    public const string Prefix = "iet_";

    private readonly Lock _lock = new();

    /// <summary>
    /// Creates a token valid for <paramref name="lifetime"/> and returns it (shown once; only its hash is stored).
    /// </summary>
    /// <param name="gatewayId">The only gateway id it enrols, or null for any valid id.</param>
    /// <param name="lifetime">Positive; the expiry is now + lifetime.</param>
    /// <param name="config">The initial configuration (a JSON object with Modbus/Gpio/Sensors/Mqtt sections), or null.</param>
    /// <exception cref="ArgumentException">The gateway id is not valid (contract §2) or the lifetime is not positive.</exception>
    public (string Token, DateTimeOffset ExpiresAt) Create(string? gatewayId, TimeSpan lifetime, JsonObject? config)
    {
        if (gatewayId is not null && !IocEdge.Protocols.Mqtt.Identifiers.IsValidGatewayId(gatewayId))
        {
            throw new ArgumentException($"'{Security.Bounded.Text(gatewayId, 64)}' is not a gateway id (contract §2: [a-z0-9][a-z0-9-]{{0,63}}).", nameof(gatewayId));
        }

        if (lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"the token lifetime must be positive, not {lifetime}.", nameof(lifetime));
        }

        var token = Prefix + Security.CredentialStore.Base64Url(RandomNumberGenerator.GetBytes(32));
        var expires = time.GetUtcNow() + lifetime;
        lock (_lock)
        {
            var file = JsonFile.Read(path);
            var tokens = file["tokens"] as JsonArray ?? [];
            file["tokens"] = tokens;
            tokens.Add(new JsonObject
            {
                ["sha256"] = HashOf(token),
                ["gateway"] = gatewayId,
                ["created_at"] = Stamp(time.GetUtcNow()),
                ["expires_at"] = Stamp(expires),
                ["used_at"] = null,
                ["used_by"] = null,
                ["config"] = config?.DeepClone(),
            });
            JsonFile.Write(path, file);
        }

        return (token, expires);
    }

    /// <summary>
    /// Redeems <paramref name="token"/> for <paramref name="gatewayId"/>: marks it used (persisted) and returns its
    /// attached configuration, or the refusal. A refused token is left as it was (an expired one stays expired).
    /// </summary>
    public RedeemedToken? TryRedeem(string token, string gatewayId, out TokenRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(token);
        refusal = TokenRefusal.Unknown;
        var hash = HashOf(token);
        lock (_lock)
        {
            var file = JsonFile.Read(path);
            if (file["tokens"] is not JsonArray tokens)
            {
                return null;
            }

            // Compare every stored hash in constant time, so the time taken says nothing about a partial match.
            JsonObject? entry = null;
            foreach (var t in tokens.OfType<JsonObject>())
            {
                if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes((string?)t["sha256"] ?? string.Empty), Encoding.ASCII.GetBytes(hash)))
                {
                    entry = t;
                }
            }

            if (entry is null)
            {
                return null;
            }

            if (entry["used_at"] is not null)
            {
                refusal = TokenRefusal.Used;
                return null;
            }

            if (DateTimeOffset.Parse((string)entry["expires_at"]!, CultureInfo.InvariantCulture) <= time.GetUtcNow())
            {
                refusal = TokenRefusal.Expired;
                return null;
            }

            if ((string?)entry["gateway"] is { } bound && bound != gatewayId)
            {
                refusal = TokenRefusal.WrongGateway;
                return null;
            }

            entry["used_at"] = Stamp(time.GetUtcNow());
            entry["used_by"] = gatewayId;
            JsonFile.Write(path, file);
            return new RedeemedToken(gatewayId, entry["config"]?.DeepClone() as JsonObject);
        }
    }

    /// <summary>SHA-256 of the token's UTF-8 bytes, 64 lower-case hex digits (what the file holds).</summary>
    public static string HashOf(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    internal static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
