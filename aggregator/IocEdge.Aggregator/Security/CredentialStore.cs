using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Aggregator.Security;

/// <summary>What an MQTT account may do on the embedded broker (see <see cref="MqttAccess"/>).</summary>
public enum MqttRole
{
    /// <summary>A gateway: user name = client id = gateway id; publishes and subscribes only under <c>iocedge/v1/{id}/</c>.</summary>
    Gateway,

    /// <summary>A read-only consumer (an IOC integration): subscribes under <c>iocedge/v1/</c>, never publishes.</summary>
    Reader,
}

/// <summary>One account: its user name, role and password hash in mosquitto's <c>$7$</c> form.</summary>
public sealed record MqttAccount(string UserName, MqttRole Role, string PasswordHash);

/// <summary>
/// The embedded broker's accounts, kept in a JSON file (<c>{DataDirectory}/credentials.json</c>, mode 0600) that holds
/// only password hashes: PBKDF2-HMAC-SHA512 with a 12-byte random salt and <see cref="DefaultIterations"/> iterations, written as
/// mosquitto's <c>$7$iterations$salt$hash</c> (base64), so <see cref="MosquittoConfig"/> can write mosquitto's
/// password_file from it without ever knowing a password. A password is verified in constant time
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>) and, once verified, remembered as an HMAC under a per-process
/// random key, so a reconnect storm of known gateways costs one HMAC each, not one KDF; the KDF itself runs one at a
/// time, so a storm of wrong passwords takes at most one core. Passwords are never logged or stored. The file is
/// re-read when another process (the CLI) changed it.
/// </summary>
public sealed class CredentialStore : IDisposable
{
    /// <summary>PBKDF2-HMAC-SHA512 iterations: OWASP Password Storage Cheat Sheet (2023) recommends 210,000.</summary>
    public const int DefaultIterations = 210_000;

    private const int SaltBytes = 12; // mosquitto_passwd's salt length (mosquitto 2.0 src/password_mosq.c)
    private const int HashBytes = 64; // SHA-512 output
    private const int MaxCached = 4096;

    private readonly string _path;
    private readonly int _iterations;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _kdf = new(1, 1);
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, (string Hash, byte[] Mac)> _verified = new(StringComparer.Ordinal);
    private readonly Dictionary<(string User, string Mac), string> _refused = [];
    private Dictionary<string, MqttAccount> _accounts = new(StringComparer.Ordinal);
    private DateTime _loadedStamp;
    private long _kdfRuns;

    /// <param name="path">The credentials file; need not exist yet.</param>
    /// <param name="iterations">PBKDF2 iterations for new passwords (tests pass fewer to stay fast).</param>
    public CredentialStore(string path, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        _path = path;
        _iterations = iterations;
        Reload();
    }

    public void Dispose() => _kdf.Dispose();

    /// <summary>How many times the KDF ran (verifications not answered from the cache).</summary>
    public long KdfRuns => Interlocked.Read(ref _kdfRuns);

    /// <summary>True when at least one account exists (then <c>auto</c> authentication requires passwords).</summary>
    public bool HasAccounts
    {
        get
        {
            ReloadIfChanged();
            lock (_lock)
            {
                return _accounts.Count > 0;
            }
        }
    }

    /// <summary>Every account (hashes only), ordered by user name.</summary>
    public IReadOnlyList<MqttAccount> Accounts
    {
        get
        {
            ReloadIfChanged();
            lock (_lock)
            {
                return [.. _accounts.Values.OrderBy(a => a.UserName, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The account of <paramref name="userName"/>, or null.</summary>
    public MqttAccount? Find(string userName)
    {
        ReloadIfChanged();
        lock (_lock)
        {
            return _accounts.GetValueOrDefault(userName);
        }
    }

    /// <summary>
    /// The admin way to provision a gateway (what the CLI will call): creates or replaces the account of
    /// <paramref name="gatewayId"/> and returns its new random password (24 random bytes, base64url: 32 characters),
    /// which is shown once and stored nowhere.
    /// </summary>
    /// <exception cref="ArgumentException">The id is not a gateway id (contract §2).</exception>
    public string AddGateway(string gatewayId)
    {
        if (!Identifiers.IsValidGatewayId(gatewayId))
        {
            throw new ArgumentException($"'{Bounded.Text(gatewayId, 64)}' is not a gateway id (contract §2: [a-z0-9][a-z0-9-]{{0,63}}).", nameof(gatewayId));
        }

        var password = NewPassword();
        Set(gatewayId, MqttRole.Gateway, password);
        return password;
    }

    /// <summary>
    /// Creates or replaces a read-only consumer account and returns its new random password. A reader's user name is
    /// letters, digits, '-' and '_' (1-64) and must not be a gateway's; it may connect with client id
    /// <c>{user}</c> or <c>{user}.{anything}</c> (a '.' never occurs in a gateway id, so no reader can take a gateway's
    /// client id).
    /// </summary>
    public string AddReader(string userName)
    {
        if (string.IsNullOrEmpty(userName) || userName.Length > 64 || !userName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"'{Bounded.Text(userName, 64)}' is not a reader name: use letters, digits, '-' and '_' (1-64).", nameof(userName));
        }

        var password = NewPassword();
        Set(userName, MqttRole.Reader, password);
        return password;
    }

    /// <summary>Creates or replaces an account with a given password (hashed here; the password is not kept).</summary>
    public void Set(string userName, MqttRole role, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(userName);
        ArgumentException.ThrowIfNullOrEmpty(password);
        var hash = Hash(password, _iterations);
        lock (_lock)
        {
            ReloadLocked();
            if (_accounts.TryGetValue(userName, out var old) && old.Role != role)
            {
                throw new ArgumentException($"'{userName}' is already a {old.Role.ToString().ToLowerInvariant()} account: remove it first.", nameof(userName));
            }

            _accounts[userName] = new MqttAccount(userName, role, hash);
            SaveLocked();
        }
    }

    /// <summary>Removes an account; its connected client is not disconnected (restart or kick it), new CONNECTs are refused.</summary>
    public bool Remove(string userName)
    {
        lock (_lock)
        {
            ReloadLocked();
            if (!_accounts.Remove(userName))
            {
                return false;
            }

            SaveLocked();
            return true;
        }
    }

    /// <summary>
    /// The account whose user name is <paramref name="userName"/> and whose password is <paramref name="password"/>,
    /// or null (unknown user or wrong password: the caller must not say which).
    /// </summary>
    public async Task<MqttAccount?> VerifyAsync(string? userName, ReadOnlyMemory<byte> password, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(userName) || password.IsEmpty || Find(userName) is not { } account)
        {
            return null;
        }

        var mac = HMACSHA256.HashData(_cacheKey, password.Span);
        var macText = Convert.ToBase64String(mac);
        lock (_lock)
        {
            if (_verified.TryGetValue(userName, out var known) && known.Hash == account.PasswordHash)
            {
                return CryptographicOperations.FixedTimeEquals(known.Mac, mac) ? account : null;
            }

            if (_refused.TryGetValue((userName, macText), out var refusedFor) && refusedFor == account.PasswordHash)
            {
                return null;
            }
        }

        bool ok;
        await _kdf.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Interlocked.Increment(ref _kdfRuns);
            ok = Matches(account.PasswordHash, password.Span);
        }
        finally
        {
            _kdf.Release();
        }

        lock (_lock)
        {
            if (_verified.Count >= MaxCached)
            {
                _verified.Clear();
            }

            if (_refused.Count >= MaxCached)
            {
                _refused.Clear();
            }

            if (ok)
            {
                _verified[userName] = (account.PasswordHash, mac);
            }
            else
            {
                _refused[(userName, macText)] = account.PasswordHash;
            }
        }

        return ok ? account : null;
    }

    /// <summary>Mosquitto's <c>$7$</c> PBKDF2-HMAC-SHA512 hash of <paramref name="password"/> with a new random salt.</summary>
    public static string Hash(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, HashBytes);
        return $"$7${iterations.ToString(CultureInfo.InvariantCulture)}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>True when <paramref name="password"/> matches the <c>$7$</c> hash (constant-time comparison); false for a malformed hash.</summary>
    public static bool Matches(string passwordHash, ReadOnlySpan<byte> password)
    {
        var parts = (passwordHash ?? string.Empty).Split('$');
        if (parts is not ["", "7", var iter, var saltText, var hashText] ||
            !int.TryParse(iter, NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(saltText);
            expected = Convert.FromBase64String(hashText);
        }
        catch (FormatException)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA512, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static string NewPassword() => Base64Url(RandomNumberGenerator.GetBytes(24));

    internal static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private void ReloadIfChanged()
    {
        var stamp = File.Exists(_path) ? File.GetLastWriteTimeUtc(_path) : DateTime.MinValue;
        if (stamp != _loadedStamp)
        {
            Reload();
        }
    }

    private void Reload()
    {
        lock (_lock)
        {
            ReloadLocked();
        }
    }

    private void ReloadLocked()
    {
        if (!File.Exists(_path))
        {
            _accounts = new(StringComparer.Ordinal);
            _loadedStamp = DateTime.MinValue;
            return;
        }

        var stamp = File.GetLastWriteTimeUtc(_path);
        CredentialsFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllText(_path), SecurityJsonContext.Default.CredentialsFile);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{_path} is not a credentials file ({ex.Message}): restore it from a backup or remove it and provision the gateways again.", ex);
        }

        _accounts = (file?.Accounts ?? []).ToDictionary(a => a.User, a => new MqttAccount(a.User, a.Role == "reader" ? MqttRole.Reader : MqttRole.Gateway, a.Hash),
            StringComparer.Ordinal);
        _loadedStamp = stamp;
    }

    private void SaveLocked()
    {
        var file = new CredentialsFile
        {
            Accounts = [.. _accounts.Values.OrderBy(a => a.UserName, StringComparer.Ordinal)
                .Select(a => new CredentialsEntry { User = a.UserName, Role = a.Role == MqttRole.Reader ? "reader" : "gateway", Hash = a.PasswordHash })],
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
        var temp = _path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, file, SecurityJsonContext.Default.CredentialsFile);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _path, overwrite: true);
        _loadedStamp = File.GetLastWriteTimeUtc(_path);
    }
}

internal sealed class CredentialsFile
{
    [JsonPropertyName("accounts")]
    public List<CredentialsEntry> Accounts { get; set; } = [];
}

internal sealed class CredentialsEntry
{
    [JsonPropertyName("user")]
    public string User { get; set; } = string.Empty;

    [JsonPropertyName("role")]
    public string Role { get; set; } = "gateway";

    [JsonPropertyName("hash")]
    public string Hash { get; set; } = string.Empty;
}

internal sealed class ApiKeysFile
{
    [JsonPropertyName("keys")]
    public List<ApiKeyEntry> Keys { get; set; } = [];
}

internal sealed class ApiKeyEntry
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("scope")]
    public string Scope { get; set; } = "read";

    [JsonPropertyName("sha256")]
    public string Sha256 { get; set; } = string.Empty;
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(CredentialsFile))]
[JsonSerializable(typeof(ApiKeysFile))]
internal sealed partial class SecurityJsonContext : JsonSerializerContext;
