using System.Buffers;
using CsCheck;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Fuzz;

/// <summary>
/// Property tests on every decoder: random bytes and mutated golden frames (the spec examples, with bytes flipped,
/// cut, inserted, length fields blown up) never make a decoder throw anything but its documented errors, never make it
/// claim more than it was given, and never make it allocate in proportion to what a length field claims.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DecoderFuzzTests
{
    private static readonly byte[][] RequestPdus =
    [
        Hex("0100130013"), Hex("0200C40016"), Hex("03006B0003"), Hex("0400080001"), Hex("0500ACFF00"), Hex("0600010003"),
        Hex("0F0013000A02CD01"), Hex("100001000204000A0102"), Hex("16000400F20025"),
        Hex("170003000600 0E000306 00FF00FF00FF"), Hex("2B0E0100"), Hex("11"),
    ];

    private static readonly byte[][] ResponsePdus =
    [
        Hex("0103CD6B05"), Hex("0203ACDB35"), Hex("0306022B00000064"), Hex("0402000A"), Hex("0500ACFF00"), Hex("0600010003"),
        Hex("0F0013000A"), Hex("1000010002"), Hex("16000400F20025"), Hex("170C00FE0ACD00010003000D00FF"),
        Hex("2B0E01010000020003414243010158"), Hex("8102"), Hex("1105B4FF4C4D42"), Hex("9101"),
    ];

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static readonly byte[][] TcpFrames = RequestPdus.Concat(ResponsePdus).Select((pdu, i) =>
    {
        var adu = new byte[ModbusTcpFraming.MaxAduLength];
        return adu[..ModbusTcpFraming.Encode(adu, (ushort)i, 1, pdu)];
    }).ToArray();

    private static readonly byte[][] RtuFrames = RequestPdus.Concat(ResponsePdus).Select(pdu =>
    {
        var adu = new byte[ModbusRtuFraming.MaxAduLength];
        return adu[..ModbusRtuFraming.Encode(adu, 0x11, pdu)];
    }).ToArray();

    private static readonly byte[][] AsciiFrames = RequestPdus.Concat(ResponsePdus).Select(pdu =>
    {
        var adu = new byte[ModbusAsciiFraming.MaxAduLength];
        return adu[..ModbusAsciiFraming.Encode(adu, 0x11, pdu)];
    }).ToArray();

    /// <summary>A golden frame with one mutation: flip, cut, insert, duplicate, or a length/count byte set to 0xFF.</summary>
    private static Gen<byte[]> Mutated(byte[][] seeds) =>
        Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Int[0, 5], Gen.Int[0, 1000], Gen.Byte.Array[1, 8])
            .Select((seed, kind, at, extra) =>
            {
                var frame = seeds[seed].ToList();
                var position = at % (frame.Count + 1);
                switch (kind)
                {
                    case 0 when position < frame.Count:
                        frame[position] ^= extra[0] == 0 ? (byte)1 : extra[0];
                        break;
                    case 1:
                        frame.RemoveRange(position, frame.Count - position);
                        break;
                    case 2:
                        frame.InsertRange(position, extra);
                        break;
                    case 3:
                        frame.AddRange(frame.ToArray());
                        break;
                    case 4 when position < frame.Count:
                        frame[position] = 0xFF;
                        break;
                    default:
                        frame.InsertRange(0, extra);
                        break;
                }

                return frame.ToArray();
            });

    private static Gen<byte[]> Inputs(byte[][] seeds) => Gen.Frequency((1, Gen.Byte.Array[0, 600]), (3, Mutated(seeds)));

    [Fact]
    public void Request_decoder_never_throws_and_ok_requests_reencode_to_the_same_bytes()
    {
        Inputs(RequestPdus).Sample(bytes =>
        {
            var status = ModbusRequest.TryDecode(bytes, out var request, out var code);
            if (status == ModbusRequestDecodeStatus.Ok)
            {
                var again = request.ToArray();
                if (request.Function == ModbusFunctionCode.WriteMultipleCoils && request.Count % 8 != 0)
                {
                    // Unused bits of the last coil byte should be zero (spec 6.11) but are ignored when read:
                    // re-encoding clears them.
                    var mask = (byte)((1 << (request.Count % 8)) - 1);
                    Assert.Equal(bytes[..^1], again[..^1]);
                    Assert.Equal(bytes[^1] & mask, again[^1]);
                }
                else
                {
                    Assert.Equal(bytes, again);
                }
            }
            else if (status == ModbusRequestDecodeStatus.Exception)
            {
                Assert.True(Enum.IsDefined(code));
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Response_decoders_throw_only_device_or_protocol_errors()
    {
        ModbusRequest[] requests =
        [
            ModbusRequest.ReadCoils(0x13, 0x13), ModbusRequest.ReadDiscreteInputs(0xC4, 0x16),
            ModbusRequest.ReadHoldingRegisters(0x6B, 3), ModbusRequest.ReadInputRegisters(8, 1),
            ModbusRequest.WriteSingleCoil(0xAC, true), ModbusRequest.WriteMultipleRegisters(1, new ushort[] { 10, 0x102 }),
            ModbusRequest.MaskWriteRegister(4, 0xF2, 0x25), ModbusRequest.ReadWriteMultipleRegisters(3, 6, 14, new ushort[] { 255, 255, 255 }),
            ModbusRequest.ReadDeviceIdentification(1, 0), ModbusRequest.ReportServerId(),
        ];
        Gen.Select(Inputs(ResponsePdus), Gen.Int[0, requests.Length - 1]).Sample((bytes, r) =>
        {
            var request = requests[r];
            try
            {
                switch (request.Function)
                {
                    case ModbusFunctionCode.ReadCoils or ModbusFunctionCode.ReadDiscreteInputs:
                        Assert.Equal(request.Count, ModbusResponse.DecodeBits(1, request, bytes).Length);
                        break;
                    case ModbusFunctionCode.ReadHoldingRegisters or ModbusFunctionCode.ReadInputRegisters or ModbusFunctionCode.ReadWriteMultipleRegisters:
                        Assert.Equal(request.Count, ModbusResponse.DecodeRegisters(1, request, bytes).Length);
                        break;
                    case ModbusFunctionCode.EncapsulatedInterfaceTransport:
                        Assert.True(ModbusResponse.DecodeDeviceIdentification(1, request, bytes).Objects.Count <= 255);
                        break;
                    case ModbusFunctionCode.ReportServerId:
                    {
                        // Section 6.13: whatever is returned fits the PDU and carries a legal run indicator.
                        var report = ModbusResponse.DecodeServerIdReport(1, request, bytes, r % 2 == 0 ? 1 : null);
                        Assert.Equal(bytes.Length - 3, report.ServerId.Length + report.AdditionalData.Length);
                        Assert.True(report.RunIndicatorStatus is 0x00 or 0xFF);
                        break;
                    }
                    default:
                        ModbusResponse.CheckWriteResponse(1, request, bytes);
                        break;
                }
            }
            catch (ModbusDeviceException)
            {
            }
            catch (ModbusProtocolException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Mbap_decoder_throws_only_protocol_errors_and_consumes_exactly_one_frame()
    {
        Inputs(TcpFrames).Sample(bytes =>
        {
            try
            {
                if (ModbusTcpFraming.TryDecode(new ReadOnlySequence<byte>(bytes), out var frame, out var consumed))
                {
                    Assert.Equal(ModbusTcpFraming.HeaderLength + frame.Pdu.Length, consumed.GetInteger());
                    Assert.InRange(frame.Pdu.Length, 1, ModbusLimits.MaxPduLength);
                }
            }
            catch (ModbusProtocolException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Rtu_decoder_never_throws_and_every_frame_it_returns_checks()
    {
        Gen.Select(Inputs(RtuFrames), Gen.Bool).Sample((bytes, response) =>
        {
            var pdu = new byte[ModbusLimits.MaxPduLength];
            var direction = response ? ModbusFrameDirection.Response : ModbusFrameDirection.Request;
            var found = ModbusRtuFraming.TryDecode(bytes, direction, pdu, out var frame, out var consumed);
            Assert.InRange(consumed, 0, bytes.Length);
            if (found)
            {
                var adu = bytes.AsSpan(frame.Discarded, consumed - frame.Discarded);
                Assert.Equal(frame.PduLength + 3, adu.Length);
                Assert.Equal(ModbusChecksums.Crc16(adu[..^2]), (ushort)(adu[^2] | (adu[^1] << 8)));
            }

            ModbusRtuFraming.TryDecodeAtSilence(bytes, pdu, out _);
        }, iter: 20_000);
    }

    [Fact]
    public void Ascii_decoder_never_throws_and_consumes_within_the_buffer()
    {
        var printable = Gen.Byte[0x0A, 0x46].Array[0, 600]; // ':' '0'-'9' 'A'-'F' CR LF and neighbours
        Gen.Frequency((2, Inputs(AsciiFrames)), (1, printable)).Sample(bytes =>
        {
            var pdu = new byte[ModbusLimits.MaxPduLength];
            var found = ModbusAsciiFraming.TryDecode(bytes, pdu, out var frame, out var consumed);
            Assert.InRange(consumed, 0, bytes.Length);
            if (found)
            {
                Assert.InRange(frame.PduLength, 1, ModbusLimits.MaxPduLength);
                Assert.Equal((byte)'\n', bytes[consumed - 1]);
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Encode_then_decode_round_trips_through_every_framing()
    {
        Gen.Select(Gen.Byte, Gen.UShort, Gen.UShort[1, 125], Gen.UShort.Array[1, 123]).Sample((unit, address, count, values) =>
        {
            var pdu = new byte[ModbusLimits.MaxPduLength]; // Sample runs on several threads
            var start = (ushort)Math.Min(address, 65536 - Math.Max(count, values.Length));
            foreach (var request in new[]
            {
                ModbusRequest.ReadHoldingRegisters(start, count),
                ModbusRequest.WriteMultipleRegisters(start, values),
                ModbusRequest.ReportServerId(),
            })
            {
                var body = request.ToArray();
                var rtu = new byte[ModbusRtuFraming.MaxAduLength];
                var length = ModbusRtuFraming.Encode(rtu, unit, body);
                Assert.True(ModbusRtuFraming.TryDecode(rtu.AsSpan(0, length), ModbusFrameDirection.Request, pdu, out var frame, out _));
                Assert.Equal(body, pdu[..frame.PduLength]);

                var ascii = new byte[ModbusAsciiFraming.MaxAduLength];
                length = ModbusAsciiFraming.Encode(ascii, unit, body);
                Assert.True(ModbusAsciiFraming.TryDecode(ascii.AsSpan(0, length), pdu, out frame, out _));
                Assert.Equal(unit, frame.UnitId);
                Assert.Equal(body, pdu[..frame.PduLength]);

                var tcp = new byte[ModbusTcpFraming.MaxAduLength];
                length = ModbusTcpFraming.Encode(tcp, count, unit, body);
                Assert.True(ModbusTcpFraming.TryDecode(tcp.AsSpan(0, length), out var transaction, out var tcpUnit, out var consumed));
                Assert.Equal((count, unit), (transaction, tcpUnit));
                Assert.Equal(body, tcp[ModbusTcpFraming.HeaderLength..consumed]);

                Assert.Equal(ModbusRequestDecodeStatus.Ok, ModbusRequest.TryDecode(body, out var decoded, out _));
                Assert.Equal(body, decoded.ToArray());
            }
        }, iter: 5_000);
    }

    [Fact]
    public void Length_fields_claiming_64_KiB_do_not_make_the_framers_allocate()
    {
        // MBAP length 0xFFFF, RTU byte count 0xFF, an ASCII ':' never closed: none of them may buffer what they claim.
        byte[] mbap = Hex("0001 0000 FFFF 01 03");
        byte[] rtu = Hex("01 03 FF 00 01 02 03");
        var ascii = new byte[600];
        ascii.AsSpan().Fill((byte)'0');
        ascii[0] = (byte)':';
        var random = new Random(7);
        var noise = Enumerable.Range(0, 64).Select(_ => { var b = new byte[300]; random.NextBytes(b); return b; }).ToArray();
        var pdu = new byte[ModbusLimits.MaxPduLength];

        long Measure(Action<int> decode)
        {
            decode(0); // warm up
            const int calls = 2_000;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < calls; i++)
            {
                decode(i);
            }

            return (GC.GetAllocatedBytesForCurrentThread() - before) / calls;
        }

        // The framers must not allocate at all: they read the claim, they do not buffer it.
        Assert.Equal(0, Measure(n => ModbusTcpFraming.TryDecode(mbap.AsSpan(0, 6), out _, out _, out _)));
        Assert.Equal(0, Measure(n => ModbusRtuFraming.TryDecode(rtu, ModbusFrameDirection.Response, pdu, out _, out _)));
        Assert.Equal(0, Measure(i => ModbusRtuFraming.TryDecode(noise[i % noise.Length], ModbusFrameDirection.Request, pdu, out _, out _)));
        Assert.Equal(0, Measure(n => ModbusAsciiFraming.TryDecode(ascii, pdu, out _, out _)));
        Assert.Equal(0, Measure(i => ModbusAsciiFraming.TryDecode(noise[i % noise.Length], pdu, out _, out _)));

        // A request decode allocates at most the values it carries (a 253-byte PDU holds at most 123 registers or
        // 1968 coils); the refused MBAP header allocates its exception and message: both independent of the claim.
        Assert.InRange(Measure(i => ModbusRequest.TryDecode(noise[i % noise.Length].AsSpan(0, 200), out _, out _)), 0, 2_100);
        var thrown = Measure(n =>
        {
            try
            {
                ModbusTcpFraming.TryDecode(mbap, out _, out _, out _);
            }
            catch (ModbusProtocolException)
            {
            }
        });
        Assert.True(thrown < 64 * 1024 / 2, $"{thrown} bytes per refused MBAP header");
    }
}
