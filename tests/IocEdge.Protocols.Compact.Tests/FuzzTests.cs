using CsCheck;

namespace IocEdge.Protocols.Compact.Tests;

/// <summary>
/// The decoder is total (contract §8.4): random bytes and mutated golden vectors (flipped, cut, inserted, duplicated,
/// a byte forced to 0xFF) either decode to a batch that re-encodes to a batch equal to it, or are refused; nothing
/// throws, and no input makes the decoder allocate in proportion to a length or count it claims.
/// </summary>
[Trait("Category", "Unit")]
[Trait("Acceptance", "outbox")]
public sealed class FuzzTests
{
    private static readonly byte[][] Seeds = [Golden.Load("readings-qualities.hex"), Golden.Load("readings-boot-epoch.hex")];

    private static readonly Gen<byte[]> Mutated =
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int[0, 5], Gen.Int[0, 1000], Gen.Byte.Array[1, 8])
            .Select((seed, kind, at, extra) =>
            {
                var frame = Seeds[seed].ToList();
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

    private static readonly Gen<byte[]> Inputs = Gen.Frequency((1, Gen.Byte.Array[0, 300]), (1, Gen.Byte.Array[1, 40].Select(b => { b[0] = 1; return b; })), (4, Mutated));

    [Fact]
    public void Any_bytes_decode_to_a_batch_that_re_encodes_faithfully_or_are_refused_without_throwing()
    {
        Inputs.Sample(bytes =>
        {
            if (CompactCodec.TryDecode(bytes, out var batch, out var error))
            {
                var again = CompactCodec.Decode(CompactCodec.Encode(batch));
                Assert.Equal(batch.StreamId, again.StreamId);
                Assert.Equal(batch.BootEpoch, again.BootEpoch);
                Assert.Equal(batch.Readings.Select(Bits), again.Readings.Select(Bits));
            }
            else
            {
                Assert.InRange(error.Offset, 0, bytes.Length);
                Assert.False(string.IsNullOrEmpty(error.Field));
            }
        }, iter: 50_000);
    }

    [Fact]
    public void Claimed_counts_and_lengths_never_buy_an_allocation_larger_than_the_bytes_present()
    {
        // Headers claiming the most units, channels and readings the varints can say, with almost nothing behind them.
        byte[][] claims =
        [
            [1, 1, (byte)'s', 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
            [1, 1, (byte)'s', 0, 1, 1, (byte)'V', 0x90, 0x4e, 0, 255],
            [.. Seeds[0][..99], 0x10, 0x27, 1, 0],
        ];
        foreach (var bytes in claims)
        {
            CompactCodec.TryDecode(bytes, out _, out _); // warm up (JIT, string interning)
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.False(CompactCodec.TryDecode(bytes, out _, out _));
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            // The tables and names of what is present, plus the error text: far below what a claimed 10 000 readings
            // (10 000 × 40 B) or 2^32 units would cost.
            Assert.InRange(allocated, 0, 8_192 + (bytes.Length * 64));
        }
    }

    private static (long, string, long, long?, string, CompactQuality) Bits(CompactReading r) =>
        (r.Sequence, r.Channel, r.TimestampMs, r.Value is { } v ? BitConverter.DoubleToInt64Bits(v) : null, r.Unit, r.Quality);
}
