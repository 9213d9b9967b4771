using CsCheck;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Data;

/// <summary>
/// Golden vectors: the register layout inside one register is big-endian (MODBUS Application Protocol
/// Specification V1.1b3, section 4.2); float bit patterns are IEEE 754 binary32/binary64
/// (123.456f = 0x42F6E979, 123.456 = 0x405EDD2F1A9FBE77, checked with Python's struct.pack('>f'/'>d')).
/// The four orders are named after where bytes A..D of the big-endian value land (see ModbusValueCodec remarks).
/// </summary>
[Trait("Category", "Unit")]
public sealed class ModbusValueCodecTests
{
    public static TheoryData<ModbusByteOrder, ushort[]> Float123456 => new()
    {
        { ModbusByteOrder.ABCD, [0x42F6, 0xE979] },
        { ModbusByteOrder.CDAB, [0xE979, 0x42F6] },
        { ModbusByteOrder.BADC, [0xF642, 0x79E9] },
        { ModbusByteOrder.DCBA, [0x79E9, 0xF642] },
    };

    [Theory]
    [MemberData(nameof(Float123456))]
    public void Float32_123_456_matches_the_IEEE_754_pattern_in_each_order(ModbusByteOrder order, ushort[] registers)
    {
        Assert.Equal(123.456f, (float)ModbusValueCodec.Decode(registers, ModbusDataType.Float32, order));

        var encoded = new ushort[2];
        ModbusValueCodec.Encode(123.456f, ModbusDataType.Float32, order, encoded);
        Assert.Equal(registers, encoded);
    }

    public static TheoryData<ModbusByteOrder, ushort[]> Double123456 => new()
    {
        { ModbusByteOrder.ABCD, [0x405E, 0xDD2F, 0x1A9F, 0xBE77] },
        { ModbusByteOrder.CDAB, [0xBE77, 0x1A9F, 0xDD2F, 0x405E] },
        { ModbusByteOrder.BADC, [0x5E40, 0x2FDD, 0x9F1A, 0x77BE] },
        { ModbusByteOrder.DCBA, [0x77BE, 0x9F1A, 0x2FDD, 0x5E40] },
    };

    [Theory]
    [MemberData(nameof(Double123456))]
    public void Float64_123_456_matches_the_IEEE_754_pattern_in_each_order(ModbusByteOrder order, ushort[] registers)
    {
        Assert.Equal(123.456, ModbusValueCodec.Decode(registers, ModbusDataType.Float64, order));

        var encoded = new ushort[4];
        ModbusValueCodec.Encode(123.456, ModbusDataType.Float64, order, encoded);
        Assert.Equal(registers, encoded);
    }

    public static TheoryData<ModbusByteOrder, ushort[]> Int32Pattern => new()
    {
        { ModbusByteOrder.ABCD, [0x1234, 0x5678] },
        { ModbusByteOrder.CDAB, [0x5678, 0x1234] },
        { ModbusByteOrder.BADC, [0x3412, 0x7856] },
        { ModbusByteOrder.DCBA, [0x7856, 0x3412] },
    };

    [Theory]
    [MemberData(nameof(Int32Pattern))]
    public void Int32_0x12345678_lands_as_named_by_the_order(ModbusByteOrder order, ushort[] registers)
    {
        Assert.Equal(0x12345678, ModbusValueCodec.Decode(registers, ModbusDataType.Int32, order));
        Assert.Equal(0x12345678, ModbusValueCodec.Decode(registers, ModbusDataType.UInt32, order));
    }

    [Fact]
    public void Int64_spreads_the_pattern_over_four_registers()
    {
        ushort[] abcd = [0x0102, 0x0304, 0x0506, 0x0708];
        Assert.Equal(0x0102030405060708, ModbusValueCodec.Decode(abcd, ModbusDataType.Int64, ModbusByteOrder.ABCD));
        Assert.Equal(0x0102030405060708,
            ModbusValueCodec.Decode([0x0708, 0x0506, 0x0304, 0x0102], ModbusDataType.Int64, ModbusByteOrder.CDAB));
        Assert.Equal(0x0102030405060708,
            ModbusValueCodec.Decode([0x0201, 0x0403, 0x0605, 0x0807], ModbusDataType.Int64, ModbusByteOrder.BADC));
        Assert.Equal(0x0102030405060708,
            ModbusValueCodec.Decode([0x0807, 0x0605, 0x0403, 0x0201], ModbusDataType.Int64, ModbusByteOrder.DCBA));
        Assert.Equal(-1, ModbusValueCodec.Decode([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], ModbusDataType.Int64, ModbusByteOrder.ABCD));
    }

    [Fact]
    public void Sixteen_bit_values_only_care_about_the_byte_swap()
    {
        Assert.Equal(-2, ModbusValueCodec.Decode([0xFFFE], ModbusDataType.Int16, ModbusByteOrder.ABCD));
        Assert.Equal(-2, ModbusValueCodec.Decode([0xFFFE], ModbusDataType.Int16, ModbusByteOrder.CDAB));
        Assert.Equal(-2, ModbusValueCodec.Decode([0xFEFF], ModbusDataType.Int16, ModbusByteOrder.BADC));
        Assert.Equal(-2, ModbusValueCodec.Decode([0xFEFF], ModbusDataType.Int16, ModbusByteOrder.DCBA));
        Assert.Equal(65534, ModbusValueCodec.Decode([0xFFFE], ModbusDataType.UInt16, ModbusByteOrder.ABCD));
    }

    [Fact]
    public void Scale_and_offset_give_the_engineering_value_and_encode_inverts_them()
    {
        // A typical analyser: temperature in tenths of a degree, signed; water level in mm with a datum offset.
        Assert.Equal(-12.3, ModbusValueCodec.Decode([unchecked((ushort)-123)], ModbusDataType.Int16, ModbusByteOrder.ABCD, 0.1), 9);
        Assert.Equal(1.5, ModbusValueCodec.Decode([2000], ModbusDataType.UInt16, ModbusByteOrder.ABCD, 0.001, -0.5), 9);

        var r = new ushort[1];
        ModbusValueCodec.Encode(234.5, ModbusDataType.Int16, ModbusByteOrder.ABCD, r, 0.1);
        Assert.Equal(2345, r[0]);
        ModbusValueCodec.Encode(1.5, ModbusDataType.UInt16, ModbusByteOrder.ABCD, r, 0.001, -0.5);
        Assert.Equal(2000, r[0]);
    }

    [Fact]
    public void Encoding_an_integer_rounds_half_away_from_zero()
    {
        var r = new ushort[1];
        ModbusValueCodec.Encode(2.5, ModbusDataType.Int16, ModbusByteOrder.ABCD, r);
        Assert.Equal(3, r[0]);
        ModbusValueCodec.Encode(-2.5, ModbusDataType.Int16, ModbusByteOrder.ABCD, r);
        Assert.Equal(unchecked((ushort)-3), r[0]);
        ModbusValueCodec.Encode(7.4, ModbusDataType.UInt16, ModbusByteOrder.ABCD, r);
        Assert.Equal(7, r[0]);
    }

    [Theory]
    [InlineData(ModbusDataType.Int16, 32768)]
    [InlineData(ModbusDataType.Int16, -32769)]
    [InlineData(ModbusDataType.UInt16, 65536)]
    [InlineData(ModbusDataType.UInt16, -1)]
    [InlineData(ModbusDataType.Int32, 2147483648)]
    [InlineData(ModbusDataType.UInt32, 4294967296)]
    [InlineData(ModbusDataType.UInt32, -0.6)]
    [InlineData(ModbusDataType.Int64, 9.3e18)]
    [InlineData(ModbusDataType.Int16, double.NaN)]
    [InlineData(ModbusDataType.Int32, double.PositiveInfinity)]
    [InlineData(ModbusDataType.Float32, 1e39)]
    [InlineData(ModbusDataType.Bit, 2)]
    public void Out_of_range_values_are_refused_with_a_message_naming_the_type(ModbusDataType type, double value)
    {
        var r = new ushort[4];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ModbusValueCodec.Encode(value, type, ModbusByteOrder.ABCD, r));
        Assert.Contains(type.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Equal(new ushort[4], r);
    }

    [Fact]
    public void Integer_range_edges_encode()
    {
        var r = new ushort[4];
        ModbusValueCodec.Encode(-32768, ModbusDataType.Int16, ModbusByteOrder.ABCD, r);
        Assert.Equal(0x8000, r[0]);
        ModbusValueCodec.Encode(4294967295, ModbusDataType.UInt32, ModbusByteOrder.ABCD, r);
        Assert.Equal(new ushort[] { 0xFFFF, 0xFFFF }, r[..2]);
        ModbusValueCodec.Encode(-9223372036854775808.0, ModbusDataType.Int64, ModbusByteOrder.ABCD, r);
        Assert.Equal(new ushort[] { 0x8000, 0, 0, 0 }, r);
    }

    [Fact]
    public void Bad_arguments_get_a_clear_error()
    {
        Assert.Throws<ArgumentException>(() => ModbusValueCodec.Decode([1], ModbusDataType.Float32, ModbusByteOrder.ABCD));
        Assert.Throws<ArgumentException>(() => ModbusValueCodec.Decode([1], ModbusDataType.String, ModbusByteOrder.ABCD));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ModbusValueCodec.Encode(1, ModbusDataType.Int16, ModbusByteOrder.ABCD, new ushort[1], scale: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModbusValueCodec.RegisterCount(ModbusDataType.String));
    }

    [Fact]
    public void Float_NaN_passes_through_because_devices_use_it_for_no_value()
    {
        var r = new ushort[2];
        ModbusValueCodec.Encode(double.NaN, ModbusDataType.Float32, ModbusByteOrder.CDAB, r);
        Assert.True(double.IsNaN(ModbusValueCodec.Decode(r, ModbusDataType.Float32, ModbusByteOrder.CDAB)));
    }

    [Fact]
    public void Register_counts_per_type()
    {
        Assert.Equal(1, ModbusValueCodec.RegisterCount(ModbusDataType.Int16));
        Assert.Equal(1, ModbusValueCodec.RegisterCount(ModbusDataType.Bit));
        Assert.Equal(2, ModbusValueCodec.RegisterCount(ModbusDataType.Float32));
        Assert.Equal(2, ModbusValueCodec.RegisterCount(ModbusDataType.UInt32));
        Assert.Equal(4, ModbusValueCodec.RegisterCount(ModbusDataType.Int64));
        Assert.Equal(4, ModbusValueCodec.RegisterCount(ModbusDataType.Float64));
        Assert.Equal(8, ModbusValueCodec.RegisterCount(ModbusDataType.String, 8));
    }

    [Fact]
    public void Strings_put_the_first_character_in_the_high_byte_unless_byte_swapped()
    {
        var r = new ushort[3];
        ModbusValueCodec.EncodeString("ABC", ModbusByteOrder.ABCD, r);
        Assert.Equal(new ushort[] { 0x4142, 0x4300, 0x0000 }, r);
        Assert.Equal("ABC", ModbusValueCodec.DecodeString(r, ModbusByteOrder.ABCD));

        ModbusValueCodec.EncodeString("ABC", ModbusByteOrder.BADC, r);
        Assert.Equal(new ushort[] { 0x4241, 0x0043, 0x0000 }, r);
        Assert.Equal("ABC", ModbusValueCodec.DecodeString(r, ModbusByteOrder.DCBA));

        Assert.Equal("S?N", ModbusValueCodec.DecodeString([0x53C3, 0x4E00], ModbusByteOrder.ABCD));
        Assert.Throws<ArgumentException>(() => ModbusValueCodec.EncodeString("Hà Nội", ModbusByteOrder.ABCD, new ushort[4]));
        Assert.Throws<ArgumentException>(() => ModbusValueCodec.EncodeString("12345", ModbusByteOrder.ABCD, new ushort[2]));
    }

    [Fact]
    public void Bit_fields_address_bits_0_to_15()
    {
        Assert.True(ModbusValueCodec.DecodeBit(0x8001, 0));
        Assert.True(ModbusValueCodec.DecodeBit(0x8001, 15));
        Assert.False(ModbusValueCodec.DecodeBit(0x8001, 7));
        Assert.Equal(0x8081, ModbusValueCodec.EncodeBit(0x8001, 7, true));
        Assert.Equal(0x0001, ModbusValueCodec.EncodeBit(0x8001, 15, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModbusValueCodec.DecodeBit(0, 16));

        var r = new ushort[] { 0xFF00 };
        ModbusValueCodec.Encode(1, ModbusDataType.Bit, ModbusByteOrder.ABCD, r);
        Assert.Equal(0xFF01, r[0]);
        Assert.Equal(1, ModbusValueCodec.Decode(r, ModbusDataType.Bit, ModbusByteOrder.ABCD));
    }

    private static readonly Gen<ModbusByteOrder> Orders = Gen.Enum<ModbusByteOrder>();

    [Fact]
    public void Any_register_pattern_survives_decode_then_encode_in_every_order_and_integer_type()
    {
        var types = Gen.OneOf(ModbusDataType.Int16, ModbusDataType.UInt16, ModbusDataType.Int32, ModbusDataType.UInt32);
        Gen.Select(types, Orders, Gen.UShort.Array[4]).Sample((type, order, registers) =>
        {
            var n = ModbusValueCodec.RegisterCount(type);
            var value = ModbusValueCodec.Decode(registers, type, order);
            var back = new ushort[n];
            ModbusValueCodec.Encode(value, type, order, back);
            Assert.Equal(registers[..n], back);
        });
    }

    [Fact]
    public void Any_float_round_trips_bit_exactly_in_every_order()
    {
        Gen.Select(Gen.Float, Orders).Sample((value, order) =>
        {
            var r = new ushort[2];
            ModbusValueCodec.Encode(value, ModbusDataType.Float32, order, r);
            var back = (float)ModbusValueCodec.Decode(r, ModbusDataType.Float32, order);
            Assert.Equal(BitConverter.SingleToUInt32Bits(value), BitConverter.SingleToUInt32Bits(back));
        });
        Gen.Select(Gen.Double, Orders).Sample((value, order) =>
        {
            var r = new ushort[4];
            ModbusValueCodec.Encode(value, ModbusDataType.Float64, order, r);
            var back = ModbusValueCodec.Decode(r, ModbusDataType.Float64, order);
            Assert.Equal(BitConverter.DoubleToUInt64Bits(value), BitConverter.DoubleToUInt64Bits(back));
        });
    }

    [Fact]
    public void Int64_values_within_2_pow_53_round_trip_exactly()
    {
        Gen.Select(Gen.Long[-(1L << 53), 1L << 53], Orders).Sample((value, order) =>
        {
            var r = new ushort[4];
            ModbusValueCodec.Encode(value, ModbusDataType.Int64, order, r);
            Assert.Equal(value, (long)ModbusValueCodec.Decode(r, ModbusDataType.Int64, order));
        });
    }

    [Fact]
    public void Scaled_integers_round_trip_to_within_half_a_step()
    {
        // Engineering value -> registers -> engineering value loses at most half of one raw step (scale / 2).
        var scales = Gen.OneOf(0.1, 0.01, 0.001, 0.5, 10.0);
        Gen.Select(Gen.Int[-32768, 32767], scales, Gen.Double[-100, 100], Gen.Double[-0.49, 0.49], Orders)
            .Sample((raw, scale, offset, jitter, order) =>
            {
                var engineering = (raw + jitter) * scale + offset;
                var r = new ushort[1];
                ModbusValueCodec.Encode(engineering, ModbusDataType.Int16, order, r, scale, offset);
                var back = ModbusValueCodec.Decode(r, ModbusDataType.Int16, order, scale, offset);
                Assert.True(Math.Abs(back - engineering) <= scale * 0.5 + 1e-9,
                    $"{engineering} came back as {back} (scale {scale}, offset {offset})");
            });
    }

    [Fact]
    public void Any_ascii_text_round_trips_in_every_order()
    {
        var text = Gen.String[Gen.Char[(char)1, (char)0x7F], 0, 20];
        Gen.Select(text, Orders).Sample((value, order) =>
        {
            var r = new ushort[10];
            ModbusValueCodec.EncodeString(value, order, r);
            Assert.Equal(value, ModbusValueCodec.DecodeString(r, order));
        });
    }
}
