using System.Text;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Framing;

/// <summary>ASCII framing, "MODBUS over Serial Line V1.02" section 2.5.2.</summary>
[Trait("Category", "Unit")]
public sealed class AsciiFramingTests
{
    private static byte[] Ascii(byte unit, string pduHex)
    {
        var adu = new byte[ModbusAsciiFraming.MaxAduLength];
        return adu[..ModbusAsciiFraming.Encode(adu, unit, Convert.FromHexString(pduHex))];
    }

    [Fact]
    public void Encodes_colon_hex_lrc_crlf()
    {
        // 01 03 0000 0001: sum 05, LRC FB.
        Assert.Equal(":010300000001FB\r\n", Encoding.ASCII.GetString(Ascii(1, "0300000001")));
    }

    [Fact]
    public void Decodes_after_garbage_and_partial_reads()
    {
        var frame = Encoding.ASCII.GetBytes("xx\r\n").Concat(Ascii(0x11, "0306022B00000064")).ToArray();
        var pdu = new byte[253];
        Assert.False(ModbusAsciiFraming.TryDecode(frame.AsSpan(0, 10), pdu, out _, out var consumed));
        Assert.Equal(4, consumed); // the garbage before ':' goes, the partial frame stays
        Assert.True(ModbusAsciiFraming.TryDecode(frame, pdu, out var decoded, out consumed));
        Assert.Equal(frame.Length, consumed);
        Assert.Equal(0x11, decoded.UnitId);
        Assert.Equal(Convert.FromHexString("0306022B00000064"), pdu[..decoded.PduLength]);
    }

    [Fact]
    public void Drops_a_frame_with_a_bad_lrc_and_decodes_the_next()
    {
        var bad = Encoding.ASCII.GetBytes(":010300000001FC\r\n");
        var good = Ascii(2, "0300000001");
        var pdu = new byte[253];
        Assert.True(ModbusAsciiFraming.TryDecode(bad.Concat(good).ToArray(), pdu, out var frame, out _));
        Assert.Equal(2, frame.UnitId);
        Assert.Equal(bad.Length, frame.Discarded);
    }

    [Fact]
    public void A_new_colon_restarts_the_frame()
    {
        var input = Encoding.ASCII.GetBytes(":0103").Concat(Ascii(1, "0300000001")).ToArray();
        var pdu = new byte[253];
        Assert.True(ModbusAsciiFraming.TryDecode(input, pdu, out var frame, out _));
        Assert.Equal(1, frame.UnitId);
    }
}
