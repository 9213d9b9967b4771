using Microsoft.Extensions.Configuration;

namespace IocEdge.Edge.Configuration;

/// <summary>
/// Reads and checks a gateway configuration file exactly as the gateway does at start-up (<see cref="GatewayHost.Build"/>),
/// without starting anything: for the technician's <c>iocedge config validate</c>, <c>read</c> and <c>doctor</c>.
/// </summary>
public static class GatewayConfigurationFile
{
    /// <summary>
    /// Loads <paramref name="path"/> (JSON, section <c>Gateway</c>), then IOCEDGE_ environment variables, then
    /// <paramref name="overrides"/> (<c>--Gateway:KEY=VALUE</c>), and checks it: JSON syntax, unknown keys, value types,
    /// and every rule of <see cref="GatewayOptionsValidator"/> (profiles, points, units, pins, ports).
    /// </summary>
    /// <returns>The bound options; nothing is opened.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="GatewayConfigurationException">One line per problem, each naming the key path and its origin.</exception>
    public static GatewayOptions Load(string path, IReadOnlyList<string>? overrides = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The gateway configuration file '{path}' does not exist. Pass --config FILE, or write one with `iocedge init`.", path);
        }

        var fullPath = Path.GetFullPath(path);
        if (ConfigurationCheck.JsonSyntaxError(fullPath) is { } syntax)
        {
            throw new GatewayConfigurationException([syntax]);
        }

        var configuration = new ConfigurationManager();
        configuration.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        configuration.AddEnvironmentVariables("IOCEDGE_");
        configuration.AddCommandLine(overrides?.ToArray() ?? []);
        var problems = GatewayHost.FindProblems(configuration, fullPath);
        if (problems.Count > 0)
        {
            throw new GatewayConfigurationException(problems);
        }

        var options = new GatewayOptions();
        configuration.GetSection(GatewayOptions.Section).Bind(options);
        return options;
    }
}
