namespace IocEdge.Testing;

/// <summary>A folder under /tmp that is deleted with the test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? prefix = null)
    {
        Path = Directory.CreateTempSubdirectory((prefix ?? "iocedge") + "-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A peer may still hold a file for a moment; /tmp is cleaned eventually.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
