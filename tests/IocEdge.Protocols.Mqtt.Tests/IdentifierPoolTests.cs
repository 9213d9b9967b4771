using System.Text;

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
}
