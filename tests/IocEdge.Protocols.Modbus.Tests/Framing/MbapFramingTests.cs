using System.Buffers;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Framing;

/// <summary>MBAP framing, "MODBUS Messaging on TCP/IP Implementation Guide V1.0b" section 3.1.3.</summary>
[Trait("Category", "Unit")]
public sealed class MbapFramingTests
{
    // Transaction 0x0001, protocol 0, length 6 (unit + 5 PDU bytes), unit 0x11, then the FC 03 example of spec 6.3.
    private static readonly byte[] ReadRequest = Convert.FromHexString("000100000006110300 6B0003".Replace(" ", "", StringComparison.Ordinal));

    [Fact]
    public void Encodes_the_header_the_guide_defines()
    {
        var adu = new byte[ModbusTcpFraming.MaxAduLength];
        var length = ModbusTcpFraming.Encode(adu, 0x0001, 0x11, ModbusRequest.ReadHoldingRegisters(0x6B, 3).ToArray());
        Assert.Equal(ReadRequest, adu[..length]);
    }

    [Fact]
    public void Decodes_a_frame_split_over_several_segments_and_waits_for_the_rest()
    {
        for (var cut = 0; cut < ReadRequest.Length; cut++)
        {
            Assert.False(ModbusTcpFraming.TryDecode(new ReadOnlySequence<byte>(ReadRequest, 0, cut), out _, out var consumed));
            Assert.Equal(0, consumed.GetInteger());
        }

        var sequence = Segments.Of(ReadRequest[..3], ReadRequest[3..8], ReadRequest[8..]);
        Assert.True(ModbusTcpFraming.TryDecode(sequence, out var frame, out var end));
        Assert.Equal((ushort)1, frame.TransactionId);
        Assert.Equal(0x11, frame.UnitId);
        Assert.Equal(Convert.FromHexString("03006B0003"), frame.Pdu.ToArray());
        Assert.Equal(sequence.End, end);
    }

    [Fact]
    public void Decodes_back_to_back_frames_one_at_a_time()
    {
        var two = ReadRequest.Concat(ReadRequest.Select((b, i) => i == 1 ? (byte)2 : b)).ToArray();
        var buffer = new ReadOnlySequence<byte>(two);
        Assert.True(ModbusTcpFraming.TryDecode(buffer, out var first, out var consumed));
        Assert.Equal((ushort)1, first.TransactionId);
        buffer = buffer.Slice(consumed);
        Assert.True(ModbusTcpFraming.TryDecode(buffer, out var second, out consumed));
        Assert.Equal((ushort)2, second.TransactionId);
        Assert.Equal(0, buffer.Slice(consumed).Length);
    }

    [Theory]
    [InlineData("0001 0001 0006 11 03006B0003")] // protocol id 1
    [InlineData("0001 0000 0000 11")]            // length 0
    [InlineData("0001 0000 FFFF 11")]            // length 65535: refused from the header, nothing allocated for it
    public void An_impossible_header_is_a_protocol_error(string hex)
    {
        var bytes = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.Throws<ModbusProtocolException>(() => ModbusTcpFraming.TryDecode(new ReadOnlySequence<byte>(bytes), out _, out _));
    }
}

/// <summary>Builds multi-segment sequences, as a Pipe hands them out.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segments(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            var next = new Segments(part, last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
