using Microsoft.Extensions.Logging;

namespace IocEdge.Edge;

/// <summary>Start-up lines of the gateway host (event ids 31xx, beside Log.cs's 3xxx configuration lines).</summary>
internal static partial class Log
{
    [LoggerMessage(3101, LogLevel.Information,
        "Configuration read from {File} ({Which} file); {EnvironmentKeys} IOCEDGE_ environment variable(s) and {CommandLineKeys} command-line key(s) override it")]
    public static partial void ConfigurationRead(this ILogger logger, string file, string which, int environmentKeys, int commandLineKeys);
}
