using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Codec;

/// <summary>
/// Golden vectors: the request and response examples of the Modbus Application Protocol Specification V1.1b3,
/// section 6 (one subsection per function code) and section 7 (exception responses), byte for byte.
/// </summary>
[Trait("Category", "Unit")]
public sealed class SpecExampleTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    private static byte[] Encode(ModbusRequest request) => request.ToArray();

    private static ModbusRequest Decode(string hex)
    {
        Assert.Equal(ModbusRequestDecodeStatus.Ok, ModbusRequest.TryDecode(Hex(hex), out var request, out _));
        return request;
    }

    [Fact]
    public void Fc01_read_coils_section_6_1()
    {
        // Read coils 20-38 (address 0x13, 19 coils); response: 27-20 = CD, 35-28 = 6B, 38-36 = 05.
        var request = ModbusRequest.ReadCoils(0x13, 0x13);
        Assert.Equal(Hex("01 0013 0013"), Encode(request));
        var coils = ModbusResponse.DecodeBits(1, request, Hex("01 03 CD 6B 05"));
        var expected = new[] { 0xCD, 0x6B, 0x05 }.SelectMany((b, i) => Enumerable.Range(0, 8).Select(bit => (b >> bit & 1) == 1)).Take(19);
        Assert.Equal(expected, coils);
        Assert.True(coils[0]);   // coil 20
        Assert.False(coils[1]);  // coil 21

        var decoded = Decode("01 0013 0013");
        Assert.Equal((ModbusFunctionCode.ReadCoils, (ushort)0x13, (ushort)0x13), (decoded.Function, decoded.Address, decoded.Count));
        var response = new byte[8];
        Assert.Equal(Hex("01 03 CD 6B 05"), response[..ModbusResponse.EncodeBits(response, ModbusFunctionCode.ReadCoils, coils)]);
    }

    [Fact]
    public void Fc02_read_discrete_inputs_section_6_2()
    {
        // Inputs 197-218 (address 0xC4, 22 inputs); response AC DB 35.
        var request = ModbusRequest.ReadDiscreteInputs(0xC4, 0x16);
        Assert.Equal(Hex("02 00C4 0016"), Encode(request));
        var inputs = ModbusResponse.DecodeBits(1, request, Hex("02 03 AC DB 35"));
        Assert.Equal(22, inputs.Length);
        var response = new byte[8];
        Assert.Equal(Hex("02 03 AC DB 35"), response[..ModbusResponse.EncodeBits(response, ModbusFunctionCode.ReadDiscreteInputs, inputs)]);
        Assert.Equal(ModbusFunctionCode.ReadDiscreteInputs, Decode("02 00C4 0016").Function);
    }

    [Fact]
    public void Fc03_read_holding_registers_section_6_3()
    {
        // Registers 108-110: 0x022B (555), 0x0000, 0x0064 (100).
        var request = ModbusRequest.ReadHoldingRegisters(0x6B, 3);
        Assert.Equal(Hex("03 006B 0003"), Encode(request));
        Assert.Equal(new ushort[] { 555, 0, 100 }, ModbusResponse.DecodeRegisters(1, request, Hex("03 06 022B 0000 0064")));
        var response = new byte[8];
        Assert.Equal(Hex("03 06 022B 0000 0064"),
            response[..ModbusResponse.EncodeRegisters(response, ModbusFunctionCode.ReadHoldingRegisters, [555, 0, 100])]);
        Assert.Equal(8, request.ExpectedResponseLength);
    }

    [Fact]
    public void Fc04_read_input_registers_section_6_4()
    {
        var request = ModbusRequest.ReadInputRegisters(0x08, 1);
        Assert.Equal(Hex("04 0008 0001"), Encode(request));
        Assert.Equal(new ushort[] { 10 }, ModbusResponse.DecodeRegisters(1, request, Hex("04 02 000A")));
    }

    [Fact]
    public void Fc05_write_single_coil_section_6_5()
    {
        // Coil 173 ON: the response echoes the request.
        var request = ModbusRequest.WriteSingleCoil(0xAC, true);
        Assert.Equal(Hex("05 00AC FF00"), Encode(request));
        ModbusResponse.CheckWriteResponse(1, request, Hex("05 00AC FF00"));
        var decoded = Decode("05 00AC FF00");
        Assert.True(decoded.CoilValue);
        var response = new byte[8];
        Assert.Equal(Hex("05 00AC FF00"), response[..ModbusResponse.EncodeWriteResponse(response, decoded)]);
    }

    [Fact]
    public void Fc06_write_single_register_section_6_6()
    {
        var request = ModbusRequest.WriteSingleRegister(0x01, 0x03);
        Assert.Equal(Hex("06 0001 0003"), Encode(request));
        ModbusResponse.CheckWriteResponse(1, request, Hex("06 0001 0003"));
        Assert.Equal((ushort)3, Decode("06 0001 0003").Value);
    }

    [Fact]
    public void Fc0F_write_multiple_coils_section_6_11()
    {
        // Ten coils from 20: CD 01 = 1100 1101, 0000 0001 (LSB first).
        bool[] coils = [true, false, true, true, false, false, true, true, true, false];
        var request = ModbusRequest.WriteMultipleCoils(0x13, coils);
        Assert.Equal(Hex("0F 0013 000A 02 CD 01"), Encode(request));
        ModbusResponse.CheckWriteResponse(1, request, Hex("0F 0013 000A"));
        Assert.Equal(coils, Decode("0F 0013 000A 02 CD 01").Coils.ToArray());
    }

    [Fact]
    public void Fc10_write_multiple_registers_section_6_12()
    {
        var request = ModbusRequest.WriteMultipleRegisters(0x01, new ushort[] { 0x000A, 0x0102 });
        Assert.Equal(Hex("10 0001 0002 04 000A 0102"), Encode(request));
        ModbusResponse.CheckWriteResponse(1, request, Hex("10 0001 0002"));
        Assert.Equal(new ushort[] { 0x000A, 0x0102 }, Decode("10 0001 0002 04 000A 0102").Registers.ToArray());
    }

    [Fact]
    public void Fc16_mask_write_register_section_6_16()
    {
        // And 0x00F2, Or 0x0025 on current 0x12 gives 0x17.
        var request = ModbusRequest.MaskWriteRegister(0x04, 0x00F2, 0x0025);
        Assert.Equal(Hex("16 0004 00F2 0025"), Encode(request));
        ModbusResponse.CheckWriteResponse(1, request, Hex("16 0004 00F2 0025"));

        var store = new ModbusDataStore();
        store.SetHoldingRegisters(4, [0x12]);
        var response = new byte[16];
        Assert.Null(store.Execute(Decode("16 0004 00F2 0025"), response, out var length));
        Assert.Equal(Hex("16 0004 00F2 0025"), response[..length]);
        Assert.Equal(new ushort[] { 0x17 }, store.GetHoldingRegisters(4, 1));
    }

    [Fact]
    public void Fc17_read_write_multiple_registers_section_6_17()
    {
        // Read 6 registers from 4 (address 3), write three 0x00FF from 15 (address 0x0E).
        var request = ModbusRequest.ReadWriteMultipleRegisters(0x03, 0x06, 0x0E, new ushort[] { 0xFF, 0xFF, 0xFF });
        Assert.Equal(Hex("17 0003 0006 000E 0003 06 00FF 00FF 00FF"), Encode(request));
        Assert.Equal(new ushort[] { 0x00FE, 0x0ACD, 0x0001, 0x0003, 0x000D, 0x00FF },
            ModbusResponse.DecodeRegisters(1, request, Hex("17 0C 00FE 0ACD 0001 0003 000D 00FF")));
        var decoded = Decode("17 0003 0006 000E 0003 06 00FF 00FF 00FF");
        Assert.Equal((ushort)0x0E, decoded.WriteAddress);
        Assert.Equal(3, decoded.Registers.Length);
    }

    [Fact]
    public void Fc2B_0E_read_device_identification_section_6_21()
    {
        var request = ModbusRequest.ReadDeviceIdentification(1, 0);
        Assert.Equal(Hex("2B 0E 01 00"), Encode(request));

        // The section's example response. Its table prints 0x0D as the length of "Product code XX", which has 15
        // characters; we use the consistent 0x0F (an erratum of the example, not of the format).
        var company = Convert.ToHexString("Company identification"u8);
        var product = Convert.ToHexString("Product code XX"u8);
        var revision = Convert.ToHexString("V2.11"u8);
        var pdu = Hex($"2B 0E 01 01 00 00 03 00 16 {company} 01 0F {product} 02 05 {revision}");
        var identification = ModbusResponse.DecodeDeviceIdentification(1, request, pdu);
        Assert.Equal(0x01, identification.ConformityLevel);
        Assert.False(identification.MoreFollows);
        Assert.Equal(["Company identification", "Product code XX", "V2.11"], identification.Objects.Select(o => o.Value));

        var encoded = new byte[253];
        var length = ModbusResponse.EncodeDeviceIdentification(encoded, 1, 0x01, identification.Objects);
        Assert.Equal(pdu, encoded[..length]);
    }

    [Fact]
    public void Exception_response_section_7()
    {
        // Read coil 1186 (0x04A1) on a device without it: 81 02, illegal data address.
        var request = ModbusRequest.ReadCoils(0x04A1, 1);
        Assert.Equal(Hex("01 04A1 0001"), Encode(request));
        var error = Assert.Throws<ModbusDeviceException>(() => ModbusResponse.DecodeBits(7, request, Hex("81 02")));
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, error.Code);
        Assert.Equal(7, error.UnitId);
        Assert.Equal(0x01, error.FunctionCode);
        var response = new byte[2];
        ModbusResponse.EncodeException(response, 0x01, ModbusExceptionCode.IllegalDataAddress);
        Assert.Equal(Hex("81 02"), response);
    }

    [Theory]
    [InlineData("01 0000 0000", ModbusExceptionCode.IllegalDataValue)]    // quantity 0 (section 6.1 state diagram)
    [InlineData("01 0000 07D1", ModbusExceptionCode.IllegalDataValue)]    // 2001 coils
    [InlineData("03 0000 007E", ModbusExceptionCode.IllegalDataValue)]    // 126 registers
    [InlineData("05 0000 1234", ModbusExceptionCode.IllegalDataValue)]    // coil value neither FF00 nor 0000
    [InlineData("10 0001 0002 02 000A", ModbusExceptionCode.IllegalDataValue)] // byte count ≠ 2 × quantity
    [InlineData("0F 0013 000A 01 CD", ModbusExceptionCode.IllegalDataValue)]   // byte count ≠ ⌈quantity / 8⌉
    [InlineData("17 0000 0000 0000 0001 02 0001", ModbusExceptionCode.IllegalDataValue)]
    [InlineData("2B 0E 05 00", ModbusExceptionCode.IllegalDataValue)]     // read device id code 5
    [InlineData("2B 0D", ModbusExceptionCode.IllegalFunction)]            // another MEI type
    [InlineData("08 0000 A537", ModbusExceptionCode.IllegalFunction)]     // diagnostics: not implemented here
    public void Requests_the_specification_refuses_decode_to_the_exception_to_answer(string hex, ModbusExceptionCode code)
    {
        Assert.Equal(ModbusRequestDecodeStatus.Exception, ModbusRequest.TryDecode(Hex(hex), out _, out var actual));
        Assert.Equal(code, actual);
    }

    [Theory]
    [InlineData("")]
    [InlineData("03 0000")]
    [InlineData("03 0000 0001 00")]
    [InlineData("10 0001 0002 04 000A")]
    [InlineData("83 02")]
    public void Requests_too_short_or_too_long_to_answer_are_malformed(string hex)
    {
        Assert.Equal(ModbusRequestDecodeStatus.Malformed, ModbusRequest.TryDecode(Hex(hex), out _, out _));
    }

    [Fact]
    public void A_response_that_does_not_answer_the_request_is_a_protocol_error()
    {
        var request = ModbusRequest.ReadHoldingRegisters(0, 2);
        Assert.Throws<ModbusProtocolException>(() => ModbusResponse.DecodeRegisters(1, request, Hex("03 02 0001")));
        Assert.Throws<ModbusProtocolException>(() => ModbusResponse.DecodeRegisters(1, request, Hex("04 04 0001 0002")));
        Assert.Throws<ModbusProtocolException>(() => ModbusResponse.DecodeRegisters(1, request, Hex("03 04 0001 00")));
        Assert.Throws<ModbusProtocolException>(() =>
            ModbusResponse.CheckWriteResponse(1, ModbusRequest.WriteSingleRegister(1, 3), Hex("06 0001 0004")));
    }

    [Fact]
    public void Request_factories_refuse_quantities_outside_the_specification_with_a_clear_message()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ModbusRequest.ReadHoldingRegisters(0, 126));
        Assert.Contains("1 to 125", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => ModbusRequest.ReadCoils(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModbusRequest.ReadHoldingRegisters(65535, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModbusRequest.WriteMultipleRegisters(0, new ushort[124]));
    }
}
