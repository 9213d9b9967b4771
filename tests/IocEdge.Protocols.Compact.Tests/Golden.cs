namespace IocEdge.Protocols.Compact.Tests;

/// <summary>Reads the commented hex files of protocols/IocEdge.Protocols.Compact/golden.</summary>
internal static class Golden
{
    public static byte[] Load(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "golden", name);
        var hex = string.Concat(File.ReadAllLines(path)
            .Select(line => line.Split('#')[0])
            .SelectMany(part => part.Where(Uri.IsHexDigit)));
        return Convert.FromHexString(hex);
    }

    /// <summary>2026-11-22T03:15:01.000Z in Unix ms.</summary>
    public const long T0 = 1_795_317_301_000;
}
