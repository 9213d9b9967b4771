using System.Buffers.Binary;

namespace IocEdge.Hardware.McuNode;

/// <summary>
/// The node's boot counter in a tiny "EEPROM": a 4-byte little-endian unsigned integer in a file. Each boot reads it,
/// adds one and writes it back before the node publishes anything, so every boot has a new boot epoch (contract §8.2:
/// 1 to 2^32-1, different at every boot). A missing or short file counts as 0, so the first boot is epoch 1.
/// </summary>
public sealed class BootCounter(string path)
{
    /// <summary>Size of the record in bytes (one uint32, as a 4-byte EEPROM cell would hold it).</summary>
    public const int RecordBytes = 4;

    /// <summary>The file that stands for the EEPROM.</summary>
    public string Path { get; } = path ?? throw new ArgumentNullException(nameof(path));

    /// <summary>The epoch stored now (0 when never booted).</summary>
    public uint Read()
    {
        if (!File.Exists(Path))
        {
            return 0;
        }

        var bytes = File.ReadAllBytes(Path);
        return bytes.Length < RecordBytes ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    /// <summary>Increments and persists the counter; returns the new boot epoch (1 to 2^32-1, wrapping past 0).</summary>
    /// <exception cref="IOException">the file cannot be written (the node must not publish with a reused epoch).</exception>
    public uint Next()
    {
        var next = unchecked(Read() + 1);
        if (next == 0)
        {
            next = 1; // 0 means "no epoch" on the wire (§8.2).
        }

        var bytes = new byte[RecordBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, next);
        var tmp = Path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, Path, overwrite: true);
        return next;
    }
}
