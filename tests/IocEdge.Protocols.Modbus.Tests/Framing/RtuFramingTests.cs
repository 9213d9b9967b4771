using System.Buffers;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Framing;

/// <summary>RTU framing, "MODBUS over Serial Line V1.02" section 2.5.1.</summary>
[Trait("Category", "Unit")]
public sealed class RtuFramingTests
{
    private static byte[] Rtu(byte unit, string pduHex)
    {
        var adu = new byte[ModbusRtuFraming.MaxAduLength];
        return adu[..ModbusRtuFraming.Encode(adu, unit, Convert.FromHexString(pduHex))];
    }

    [Fact]
    public void Appends_the_crc_low_byte_first()
    {
        // 01 03 0000 000A → CRC 0xCDC5 → C5 CD on the wire.
        Assert.Equal(Convert.FromHexString("01030000000AC5CD"), Rtu(1, "030000000A"));
    }

    [Theory]
    [InlineData("03006B0003", ModbusFrameDirection.Request)]
    [InlineData("0F0013000A02CD01", ModbusFrameDirection.Request)]
    [InlineData("100001000204000A0102", ModbusFrameDirection.Request)]
    [InlineData("1700030006000E000306 00FF00FF00FF", ModbusFrameDirection.Request)]
    [InlineData("2B0E0100", ModbusFrameDirection.Request)]
    [InlineData("0306022B00000064", ModbusFrameDirection.Response)]
    [InlineData("0103CD6B05", ModbusFrameDirection.Response)]
    [InlineData("160004 00F20025", ModbusFrameDirection.Response)]
    [InlineData("8102", ModbusFrameDirection.Response)]
    [InlineData("2B0E01010000020003414243010158", ModbusFrameDirection.Response)]
    public void Waits_through_every_partial_read_then_decodes_the_frame(string pduHex, ModbusFrameDirection direction)
    {
        pduHex = pduHex.Replace(" ", "", StringComparison.Ordinal);
        var frame = Rtu(0x11, pduHex);
        var pdu = new byte[253];
        for (var cut = 0; cut < frame.Length; cut++)
        {
            Assert.False(ModbusRtuFraming.TryDecode(frame.AsSpan(0, cut), direction, pdu, out _, out var consumed));
            Assert.Equal(0, consumed);
        }

        Assert.True(ModbusRtuFraming.TryDecode(frame, direction, pdu, out var decoded, out var used));
        Assert.Equal(frame.Length, used);
        Assert.Equal(0x11, decoded.UnitId);
        Assert.Equal(Convert.FromHexString(pduHex), pdu[..decoded.PduLength]);
    }

    [Fact]
    public void Skips_garbage_before_a_frame_and_reports_it()
    {
        var frame = Rtu(1, "0306022B00000064");
        var noisy = new byte[] { 0x00, 0xFF, 0x01, 0x03, 0x7E }.Concat(frame).ToArray();
        var pdu = new byte[253];
        Assert.True(ModbusRtuFraming.TryDecode(noisy, ModbusFrameDirection.Response, pdu, out var decoded, out var consumed));
        Assert.Equal(5, decoded.Discarded);
        Assert.Equal(noisy.Length, consumed);
        Assert.Equal(1, decoded.UnitId);
    }

    [Fact]
    public void Finds_a_frame_behind_garbage_whose_byte_count_claims_more_than_will_come()
    {
        // 0x01 0x03 0xF0 looks like the start of a 245-byte response; the real frame follows at once.
        var frame = Rtu(2, "0302002A");
        var noisy = new byte[] { 0x01, 0x03, 0xF0 }.Concat(frame).ToArray();
        var pdu = new byte[253];
        Assert.True(ModbusRtuFraming.TryDecode(noisy, ModbusFrameDirection.Response, pdu, out var decoded, out _));
        Assert.Equal(2, decoded.UnitId);
        Assert.Equal(Convert.FromHexString("0302002A"), pdu[..decoded.PduLength]);
    }

    [Fact]
    public void Decodes_back_to_back_frames_in_order()
    {
        var stream = Rtu(1, "0302000A").Concat(Rtu(2, "0302000B")).Concat(Rtu(3, "8302")).ToArray();
        var pdu = new byte[253];
        var units = new List<byte>();
        var offset = 0;
        while (ModbusRtuFraming.TryDecode(stream.AsSpan(offset), ModbusFrameDirection.Response, pdu, out var frame, out var consumed))
        {
            units.Add(frame.UnitId);
            offset += consumed;
        }

        Assert.Equal(new byte[] { 1, 2, 3 }, units);
        Assert.Equal(stream.Length, offset);
    }

    [Fact]
    public void A_frame_with_a_bad_crc_is_never_returned()
    {
        var frame = Rtu(1, "0306022B00000064");
        frame[^1] ^= 0x55;
        var pdu = new byte[253];
        Assert.False(ModbusRtuFraming.TryDecode(frame, ModbusFrameDirection.Response, pdu, out _, out var consumed));
        // Every byte that could start a frame was tried; what remains can only be the start of a frame still to come.
        Assert.True(consumed > 0);
    }

    [Fact]
    public void The_sequence_form_decodes_across_segments()
    {
        var frame = Rtu(9, "0306022B00000064");
        var sequence = Segments.Of(frame[..2], frame[2..7], frame[7..]);
        var pdu = new byte[253];
        Assert.True(ModbusRtuFraming.TryDecode(sequence, ModbusFrameDirection.Response, pdu, out var decoded, out var consumed));
        Assert.Equal(9, decoded.UnitId);
        Assert.Equal(sequence.End, consumed);
    }

    [Fact]
    public void At_silence_an_unknown_function_with_a_valid_crc_is_a_frame()
    {
        var frame = Rtu(1, "080000A537"); // FC 08 diagnostics: no length rule here, but the CRC holds
        var pdu = new byte[253];
        Assert.True(ModbusRtuFraming.TryDecodeAtSilence(frame, pdu, out var decoded));
        Assert.Equal(5, decoded.PduLength);
        frame[^2] ^= 1;
        Assert.False(ModbusRtuFraming.TryDecodeAtSilence(frame, pdu, out _));
    }
}
