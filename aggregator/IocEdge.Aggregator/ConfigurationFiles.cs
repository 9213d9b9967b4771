using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator;

/// <summary>
/// The configuration files the aggregator read, in order (later wins), and the default file when it was looked for and
/// absent; logged at start-up so that an administrator sees which settings are in force.
/// </summary>
/// <param name="Read">Full paths of the JSON files read, lowest layer first.</param>
/// <param name="AbsentDefault">The default file that was looked for and does not exist, or null.</param>
public sealed record ConfigurationFiles(IReadOnlyList<string> Read, string? AbsentDefault)
{
    /// <summary>
    /// Adds --config FILE (or the default file when it exists), then IOCEDGE_ environment variables, then the command
    /// line again, on top of what <paramref name="configuration"/> holds (appsettings.json next to the executable).
    /// </summary>
    /// <exception cref="FileNotFoundException">--config names a file that does not exist.</exception>
    public static ConfigurationFiles Load(ConfigurationManager configuration, string[] args, string? defaultPath)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var read = configuration.Sources.OfType<FileConfigurationSource>()
            .Where(s => s.Path is not null && s.FileProvider?.GetFileInfo(s.Path) is { Exists: true, PhysicalPath: not null })
            .Select(s => s.FileProvider!.GetFileInfo(s.Path!).PhysicalPath!)
            .ToList();
        var given = configuration["config"];
        string? file = null;
        string? absent = null;
        if (given is not null)
        {
            file = Path.GetFullPath(given);
            if (!File.Exists(file))
            {
                throw new FileNotFoundException(
                    $"--config: the configuration file '{given}' does not exist (current directory {Environment.CurrentDirectory}).", file);
            }
        }
        else if (defaultPath is not null)
        {
            if (File.Exists(defaultPath))
            {
                file = defaultPath;
            }
            else
            {
                absent = defaultPath;
            }
        }

        if (file is not null)
        {
            if (JsonSyntaxError(file) is { } syntax)
            {
                throw new InvalidDataException(syntax);
            }

            configuration.AddJsonFile(file, optional: false, reloadOnChange: false);
            read.Add(file);
        }

        // Environment and command line after the file, so an operator overrides one key without editing it.
        configuration.AddEnvironmentVariables("IOCEDGE_");
        configuration.AddCommandLine(args);
        return new ConfigurationFiles(read, absent);
    }

    /// <summary>Writes the start-up line(s): the files read, and the absent default file.</summary>
    public void Log(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ConfigurationFilesLog.Read(logger, Read.Count == 0 ? "no file (built-in defaults)" : string.Join(", ", Read));
        if (AbsentDefault is not null)
        {
            ConfigurationFilesLog.DefaultAbsent(logger, AbsentDefault);
        }
    }

    /// <summary>
    /// The JSON syntax error of <paramref name="path"/> as one line "FILE:LINE:COLUMN: not valid JSON: ... Fix ..." (1-based,
    /// as editors count; RFC 8259 JSON, with comments allowed as the configuration loader allows them), a top level that
    /// is not an object, or null when the file is a JSON object. The configuration loader's own message names neither
    /// the line nor the fix.
    /// </summary>
    internal static string? JsonSyntaxError(string path)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path),
                new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip });
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                ? null
                : $"{path}:1:1: not a configuration: the top level is a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}, " +
                  "it must be an object such as { \"Aggregator\": { ... } } (see aggregator/IocEdge.Aggregator/packaging/aggregator.json).";
        }
        catch (System.Text.Json.JsonException ex)
        {
            var what = ex.Message;
            foreach (var cut in new[] { " LineNumber:", " Path:" })
            {
                var at = what.IndexOf(cut, StringComparison.Ordinal);
                if (at > 0)
                {
                    what = what[..at];
                }
            }

            return FormattableString.Invariant(
                $"{path}:{(ex.LineNumber ?? 0) + 1}:{(ex.BytePositionInLine ?? 0) + 1}: not valid JSON: {what.Trim()} Fix the text at that line and column (a trailing comma, a missing brace, bracket or quote).");
        }
    }

}

/// <summary>The start-up lines of <see cref="ConfigurationFiles"/> (event ids 41xx).</summary>
internal static partial class ConfigurationFilesLog
{
    [LoggerMessage(4101, LogLevel.Information,
        "Configuration read from {Files}, then IOCEDGE_ environment variables and the command line (later wins)")]
    public static partial void Read(ILogger logger, string files);

    [LoggerMessage(4102, LogLevel.Warning,
        "The configuration file {Path} does not exist: running on the defaults above. Create it (the package installs a skeleton) or pass --config FILE")]
    public static partial void DefaultAbsent(ILogger logger, string path);

}
