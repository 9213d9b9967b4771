using CsCheck;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>Bad bytes are refused with the byte offset and the field (contract §8.4), never an exception.</summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "outbox")]
public sealed class RefusalTests
{
    private static readonly byte[] Qualities = Golden.Load("readings-qualities.hex");

    // Offsets in readings-qualities.hex (count them in the file's comments).
    private const int UnitsCountAt = 5;
    private const int ChannelsCountAt = 33;
    private const int ReadingsCountAt = 99;
    private const int FirstHeadAt = 108;

    private static CompactError Refuse(byte[] bytes)
    {
        Assert.False(CompactCodec.TryDecode(bytes, out var batch, out var error));
        Assert.Null(batch);
        return error;
    }

    private static byte[] With(int at, params byte[] bytes)
    {
        var copy = (byte[])Qualities.Clone();
        bytes.CopyTo(copy, at);
        return copy;
    }

    [Fact]
    public void Every_truncation_of_a_golden_vector_is_refused_at_or_before_its_end()
    {
        for (var length = 0; length < Qualities.Length; length++)
        {
            var error = Refuse(Qualities[..length]);
            Assert.InRange(error.Offset, 0, length);
            Assert.False(string.IsNullOrEmpty(error.Field));
        }
    }

    [Fact]
    public void Offsets_used_below_point_at_the_fields_the_golden_comments_name()
    {
        Assert.Equal(6, Qualities[UnitsCountAt]);
        Assert.Equal(6, Qualities[ChannelsCountAt]);
        Assert.Equal(9, Qualities[ReadingsCountAt]);
        Assert.Equal(0xe8, Qualities[FirstHeadAt]);
    }

    [Theory]
    [InlineData(0, new byte[] { 2 }, 0, "header.format")]
    [InlineData(1, new byte[] { 0 }, 1, "header.stream")]
    [InlineData(2, new byte[] { (byte)'A' }, 1, "header.stream")]
    [InlineData(UnitsCountAt, new byte[] { 0 }, UnitsCountAt, "units.count")]
    [InlineData(UnitsCountAt + 2, new byte[] { (byte)' ' }, UnitsCountAt + 1, "units[0]")]
    [InlineData(ChannelsCountAt + 1, new byte[] { 1 }, ChannelsCountAt + 1, "channels[0].prefix")]
    [InlineData(ChannelsCountAt + 3, new byte[] { (byte)'/' }, ChannelsCountAt + 2, "channels[0].name")]
    [InlineData(ChannelsCountAt + 13, new byte[] { 6 }, ChannelsCountAt + 13, "channels[0].unit")]
    [InlineData(ChannelsCountAt + 14, new byte[] { 10 }, ChannelsCountAt + 14, "channels[0].decimals")]
    [InlineData(ReadingsCountAt, new byte[] { 0, 0 }, ReadingsCountAt, "readings.count")]
    [InlineData(ReadingsCountAt, new byte[] { 0x11, 0x27 }, ReadingsCountAt, "readings.count")] // 10 001
    [InlineData(ReadingsCountAt + 2, new byte[] { 0 }, ReadingsCountAt + 2, "readings.base_seq")]
    [InlineData(FirstHeadAt, new byte[] { 0xee }, FirstHeadAt, "readings[0].quality")] // quality 6
    [InlineData(FirstHeadAt, new byte[] { 0xe0 }, FirstHeadAt, "readings[0].value")] // good without a value
    [InlineData(FirstHeadAt + 2, new byte[] { 0xea }, FirstHeadAt + 2, "readings[1].value")] // comm_failure with a value
    public void A_bad_field_is_refused_with_its_offset_and_name(int at, byte[] bytes, int offset, string field)
    {
        var error = Refuse(With(at, bytes));

        Assert.Equal((offset, field), (error.Offset, error.Field));
    }

    [Fact]
    public void A_channel_index_outside_the_table_is_refused()
    {
        // readings[8] names channel 5 explicitly; make it 6 (the table has 6 entries).
        var at = Qualities.Length - 10;
        Assert.Equal(0x05, Qualities[at]);
        var error = Refuse(With(at, 6));

        Assert.Equal((at, "readings[8].channel"), (error.Offset, error.Field));
    }

    [Fact]
    public void A_nan_or_infinite_float_is_refused_as_a_value()
    {
        var at = Qualities.Length - 8;
        var error = Refuse(With(at, BitConverter.GetBytes(double.NaN)));
        Assert.Equal((at, "readings[8].value"), (error.Offset, error.Field));

        error = Refuse(With(at, BitConverter.GetBytes(double.PositiveInfinity)));
        Assert.Equal("readings[8].value", error.Field);
    }

    [Fact]
    public void Trailing_bytes_and_a_count_claiming_more_than_is_present_are_refused()
    {
        Assert.Equal((Qualities.Length, "trailer"), (Refuse([.. Qualities, 0]).Offset, Refuse([.. Qualities, 0]).Field));
        Assert.Equal("readings.count", Refuse(With(ReadingsCountAt, 0x10, 0x27)).Field); // 10 000 claimed, 9 present
    }

    [Fact]
    public void A_sequence_or_timestamp_driven_out_of_range_by_a_delta_is_refused()
    {
        // Base seq 2^53, then +1.
        var b = CompactCodec.Encode(new CompactBatch("s", 0, [new CompactReading(CompactFormat.MaxSequence, "a", 0, 1, "V", CompactQuality.Good), new CompactReading(CompactFormat.MaxSequence - 1, "a", 0, 1, "V", CompactQuality.Good)]));
        b[^2] = 0x02; // seq delta zigzag(-1)=1 -> zigzag(+1)=2
        Assert.Equal("readings[1].seq", Refuse(b).Field);

        var t = CompactCodec.Encode(new CompactBatch("s", 0, [new CompactReading(1, "a", CompactFormat.MaxTimestampMs, 1, "V", CompactQuality.Good), new CompactReading(2, "a", CompactFormat.MaxTimestampMs - 1, 1, "V", CompactQuality.Good)]));
        t[^2] = 0x02; // ts delta zigzag(-1)=1 -> +1 ms past year 9999
        Assert.Equal("readings[1].ts", Refuse(t).Field);
    }

    [Fact]
    public void A_boot_epoch_needs_a_short_enough_stream_and_fits_32_bits()
    {
        var ok = CompactCodec.Encode(new CompactBatch(new string('a', 22), 0, [new CompactReading(1, "a", 0, 1, "V", CompactQuality.Good)]));
        ok[24] = 1; // epoch 0 -> 1 with a 22-character stream
        Assert.Equal((1, "header.stream"), (Refuse(ok).Offset, Refuse(ok).Field));

        var big = CompactCodec.Encode(new CompactBatch("s", uint.MaxValue, [new CompactReading(1, "a", 0, 1, "V", CompactQuality.Good)]));
        big[7] = 0x1f; // fifth byte of the epoch varint: 2^32-1 -> 2^35-1
        Assert.Equal((3, "header.epoch"), (Refuse(big).Offset, Refuse(big).Field));
    }

    [Fact]
    public void Decode_throws_only_the_documented_exception_with_the_same_error()
    {
        var ex = Assert.Throws<CompactFormatException>(() => CompactCodec.Decode(With(0, 2)));
        Assert.Equal((0, "header.format"), (ex.Error.Offset, ex.Error.Field));
        Assert.StartsWith("byte 0, header.format:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encoder_refuses_bad_input_with_a_message_naming_the_reading()
    {
        var good = new CompactReading(1, "a/b", 0, 1, "V", CompactQuality.Good);
        Assert.Contains("readings[1]", Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("s", 0, [good, good with { Value = double.NaN }]))).Message, StringComparison.Ordinal);
        Assert.Contains("readings[1]", Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("s", 0, [good, good with { Value = null }]))).Message, StringComparison.Ordinal);
        Assert.Contains("readings[0]", Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("s", 0, [good with { Quality = CompactQuality.Invalid }]))).Message, StringComparison.Ordinal);
        Assert.Contains("readings[0]", Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("s", 0, [good with { Sequence = 0 }]))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("S", 0, [good])));
        Assert.Throws<ArgumentException>(() => CompactCodec.Encode(new CompactBatch("s", 0, [])));
    }
}
