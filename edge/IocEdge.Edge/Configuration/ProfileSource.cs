using System.Collections.Concurrent;
using IocEdge.Devices.Profiles;

namespace IocEdge.Edge.Configuration;

/// <summary>
/// Loads instrument profiles (once per folder), keeping a load failure as a configuration error instead of an
/// exception, so the validator can report it beside every other problem.
/// </summary>
public sealed class ProfileSource
{
    private readonly ConcurrentDictionary<string, (ProfileCatalog? Catalog, string? Error)> _loaded = new(StringComparer.Ordinal);

    /// <summary>The catalog of <paramref name="directory"/> (empty: the built-in profiles), or the reason it cannot be loaded.</summary>
    public (ProfileCatalog? Catalog, string? Error) Load(string? directory) =>
        _loaded.GetOrAdd(directory ?? string.Empty, static d => LoadCore(d));

    /// <summary>The catalog, for code that runs after validation succeeded.</summary>
    public ProfileCatalog Required(string? directory)
    {
        var (catalog, error) = Load(directory);
        return catalog ?? throw new InvalidOperationException(error);
    }

    private static (ProfileCatalog?, string?) LoadCore(string directory)
    {
        try
        {
            return (directory.Length == 0 ? ProfileCatalog.LoadBuiltIn() : ProfileCatalog.LoadDirectory(directory), null);
        }
        catch (ProfileValidationException ex)
        {
            return (null, "Gateway:ProfilesDirectory holds invalid profiles; fix them or remove them:" + Environment.NewLine + ex.Message);
        }
        catch (DirectoryNotFoundException ex)
        {
            return (null, $"Gateway:ProfilesDirectory: {ex.Message} Give an existing folder of profile files, or leave it empty for the built-in profiles.");
        }
        catch (IOException ex)
        {
            return (null, $"Gateway:ProfilesDirectory could not be read ({ex.Message}).");
        }
    }
}
