using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace IocEdge.Protocols.Modbus;

/// <summary>Bit packing and register byte order shared by requests and responses (spec V1.1b3 sections 4.2, 6.1).</summary>
internal static class ModbusBits
{
    /// <summary>Packs bits LSB first: the first bit goes to bit 0 of the first byte (section 6.1, 6.11).</summary>
    public static void Pack(ReadOnlySpan<bool> bits, Span<byte> destination)
    {
        destination[..((bits.Length + 7) / 8)].Clear();
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i])
            {
                destination[i >> 3] |= (byte)(1 << (i & 7));
            }
        }
    }

    public static void Unpack(ReadOnlySpan<byte> packed, Span<bool> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = (packed[i >> 3] & (1 << (i & 7))) != 0;
        }
    }

    public static void WriteRegisters(ReadOnlySpan<ushort> registers, Span<byte> destination)
    {
        var target = MemoryMarshal.Cast<byte, ushort>(destination[..(2 * registers.Length)]);
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(registers, target); // vectorised byte swap
        }
        else
        {
            registers.CopyTo(target);
        }
    }

    public static ushort[] ReadRegisters(ReadOnlySpan<byte> bytes)
    {
        var registers = new ushort[bytes.Length / 2];
        ReadRegisters(bytes, registers);
        return registers;
    }

    public static void ReadRegisters(ReadOnlySpan<byte> bytes, Span<ushort> destination)
    {
        var source = MemoryMarshal.Cast<byte, ushort>(bytes[..(2 * destination.Length)]);
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(source, destination); // vectorised byte swap
        }
        else
        {
            source.CopyTo(destination);
        }
    }
}
