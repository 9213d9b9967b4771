using System.Text;
using System.Text.Json;

namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>
/// The decoder shares one string per channel id and unit (IdentifierPool) and still refuses what contract §2/§4 refuse,
/// whether the value is pooled, escaped, or past the pool's capacity.
/// </summary>
public sealed class IdentifierPoolTests
{
    private static byte[] Message(string channelJson, string unitJson = "\"ug/m3\"") => Encoding.UTF8.GetBytes(
        "{\"v\":1,\"gateway\":\"gw-pool-01\",\"stream\":\"s1\",\"readings\":[{\"seq\":1,\"channel\":" + channelJson +
        ",\"ts\":\"2026-11-22T03:15:00Z\",\"value\":1.5,\"unit\":" + unitJson + ",\"quality\":\"good\"}]}");

    private static Reading Decode(byte[] payload)
    {
        Assert.True(ReadingBatchJson.TryDecode(payload, "gw-pool-01", out var batch, out var error), error);
        return batch!.Readings[0].Reading;
    }

    [Fact]
    public void Two_messages_naming_the_same_channel_and_unit_share_one_string_each()
    {
        var first = Decode(Message("\"env1/pool_a\""));
        var second = Decode(Message("\"env1/pool_a\""));
        // An escaped spelling of the same id is the same channel, and the same instance.
        var escaped = Decode(Message("\"env1\\/pool_a\""));

        Assert.Equal("env1/pool_a", first.Channel);
        Assert.Same(first.Channel, second.Channel);
        Assert.Same(first.Channel, escaped.Channel);
        Assert.Same(first.Unit, second.Unit);
    }

    [Theory]
    [InlineData("\"Env1/Upper\"", "\"ug/m3\"", "channel")] // contract §2: lower case
    [InlineData("\"env1/a b\"", "\"ug/m3\"", "channel")]
    [InlineData("\"env1/ok_channel\"", "\"unit with spaces\"", "unit")]
    [InlineData("\"env1/ok_channel\"", "\"abcdefghijklmnopq\"", "unit")] // 17 characters: one more than §4 allows
    public void An_invalid_channel_or_unit_is_refused_even_after_valid_ones_were_pooled(string channel, string unit, string field)
    {
        Decode(Message("\"env1/ok_channel\""));

        Assert.False(ReadingBatchJson.TryDecode(Message(channel, unit), "gw-pool-01", out _, out var error));
        Assert.Contains($"readings[0].{field}", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_full_pool_stops_growing_and_still_validates()
    {
        var pool = new IdentifierPool(static s => Identifiers.IsValidChannelId(s), capacity: 2);

        var a = pool.Add("env1/a");
        var b = pool.Add("env1/b");
        var c = pool.Add("env1/c"); // past capacity: returned, not kept

        Assert.Equal(2, pool.Count);
        Assert.Same(a, pool.Add(new string("env1/a".AsSpan())));
        Assert.Equal("env1/c", c);
        Assert.NotNull(b);
        Assert.Null(pool.Add("ENV1/not-valid"));
        Assert.Equal(2, pool.Count);
    }

    // The text as a raw (unescaped) JSON string token, as a gateway writes it: the table's path, not the escaped one.
    private static string? Read(IdentifierPool pool, string text)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes("\"" + text + "\""));
        reader.Read();
        return pool.Read(ref reader);
    }

    [Fact]
    public void Ids_that_meet_in_the_recently_read_table_each_come_back_as_themselves()
    {
        // 16 ids in a table of 32 slots, read in a shuffled order many times: several share a slot pair, and neighbours
        // differ in one byte, at the 8-byte boundaries of the table's hash, or only in length.
        var pool = new IdentifierPool(static s => Identifiers.IsValidChannelId(s), capacity: 16);
        string[] ids =
        [
            "env1/a", "env1/b", "env2/a", "env1/aa", "env1/pm2_5", "env1/pm2_6", "env2/pm2_5", "env1/pm10", "abcdefgh",
            "abcdefgi", "abcdefghabcdefgh", "abcdefghabcdefgi", "bbcdefghabcdefgh", "a", "b", "env1/relative_humidity",
        ];
        var pooled = ids.ToDictionary(id => id, id => pool.Add(id)!);
        var random = new Random(13);

        for (var round = 0; round < 200; round++)
        {
            var id = ids[random.Next(ids.Length)];
            var read = Read(pool, id);

            Assert.Equal(id, read);
            Assert.Same(pooled[id], read);
        }

        Assert.Equal(ids.Length, pool.Count);
    }

    [Fact]
    public void Many_more_ids_than_table_slots_still_come_back_as_themselves()
    {
        var pool = new IdentifierPool(static s => Identifiers.IsValidChannelId(s), capacity: 20_000);
        var ids = Enumerable.Range(0, 12_000).Select(i => $"dev{i % 97}/p{i}").ToArray();

        for (var pass = 0; pass < 3; pass++)
        {
            foreach (var id in ids)
            {
                Assert.Equal(id, Read(pool, id));
            }
        }

        Assert.Equal(ids.Length, pool.Count);
    }

    [Fact]
    public void An_invalid_id_is_refused_after_its_valid_twin_was_read_from_the_table()
    {
        var pool = new IdentifierPool(static s => Identifiers.IsValidChannelId(s), capacity: 16);
        Assert.Equal("env1/ok", Read(pool, "env1/ok"));
        Assert.Equal("env1/ok", Read(pool, "env1/ok")); // now in the table

        Assert.Null(Read(pool, "env1/OK"));
        Assert.Null(Read(pool, "env1/ok "));
        Assert.Null(Read(pool, "env1/"));
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void Non_ascii_strings_a_permissive_pool_accepts_come_back_as_themselves()
    {
        var pool = new IdentifierPool(static _ => true, capacity: 8);

        foreach (var text in new[] { "caf\u00e9", "café", "\uFFFD", "\uD83D\uDE00", "cafe" })
        {
            var expected = JsonSerializer.Deserialize<string>("\"" + text + "\"")!;
            Assert.Equal(expected, Read(pool, expected));
            Assert.Equal(expected, Read(pool, expected));
        }
    }
}
