using System.Globalization;

namespace IocEdge.Benchmarks;

/// <summary>Command-line options of the load tools (<c>--name value</c>).</summary>
internal static class ToolArgs
{
    /// <summary>The integer after <paramref name="name"/> in <paramref name="args"/>, or <paramref name="fallback"/>; throws FormatException on a non-integer.</summary>
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>The value after <paramref name="name"/> in <paramref name="args"/>, or null when it is not given.</summary>
    public static string? String(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
