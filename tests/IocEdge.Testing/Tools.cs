namespace IocEdge.Testing;

/// <summary>Locates the real peers that tests/run.sh installs, with a message that says how to get them.</summary>
public static class Tools
{
    /// <summary>Debian's interpreter, which has python3-pymodbus (the python3 on PATH may be another one).</summary>
    public const string Python = "/usr/bin/python3";

    public static string Require(string path, string debianPackage)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"{path} is missing. Install it with `apt-get install -y {debianPackage}` (tests/run.sh does this).");
        }

        return path;
    }
}
