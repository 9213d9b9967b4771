namespace IocEdge.Testing;

/// <summary>
/// Trait names and values used across the suite. The README's test command runs everything but
/// <see cref="Hardware"/> (needs a Raspberry Pi with the device wired).
/// </summary>
public static class Traits
{
    public const string Category = "Category";
    public const string Unit = "Unit";
    /// <summary>Needs a real peer (mosquitto, pymodbus, socat, mbpoll) that the test starts itself.</summary>
    public const string Integration = "Integration";
    /// <summary>Needs real hardware; filtered out by default.</summary>
    public const string Hardware = "Hardware";

    public const string Acceptance = "Acceptance";
}
