namespace IocEdge.Protocols.Compact;

/// <summary>Argument checks that compile on both targets (ThrowIfNull does not exist on netstandard2.0).</summary>
internal static class Guard
{
    public static void NotNull(object? value, string name)
    {
#if NET
        System.ArgumentNullException.ThrowIfNull(value, name);
#else
        if (value is null)
        {
            throw new System.ArgumentNullException(name);
        }
#endif
    }
}
