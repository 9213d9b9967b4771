using System.Text.Json;
using System.Text.Json.Nodes;

namespace IocEdge.Aggregator.Provisioning;

/// <summary>Small JSON state files of the provisioning parts: read whole, written to a temporary file (mode 0600), fsynced and renamed.</summary>
internal static class JsonFile
{
    public static JsonObject Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new InvalidDataException($"{path} does not hold a JSON object: restore it from a backup or remove it.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not valid JSON ({ex.Message}): restore it from a backup or remove it.", ex);
        }
    }

    public static void Write(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                node.WriteTo(writer);
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
