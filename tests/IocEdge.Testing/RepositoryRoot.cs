namespace IocEdge.Testing;

/// <summary>The clone the tests run from: the nearest folder above the test binaries that holds IocEdge.sln.</summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The repository's root folder.</summary>
    /// <exception cref="InvalidOperationException">No IocEdge.sln above <see cref="AppContext.BaseDirectory"/>.</exception>
    public static string Path => Root.Value;

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(d.FullName, "IocEdge.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("IocEdge.sln not found above " + AppContext.BaseDirectory);
    }
}
