namespace IocEdge.Protocols.Mqtt.Tests;

/// <summary>
/// The edit distance behind every "did you mean" (the API's unknown channel, both configuration checks' unknown key):
/// a wrong suggestion sends a technician to the wrong channel or key.
/// </summary>
public sealed class EditDistanceTests
{
    [Theory]
    [InlineData("", "", 0)]
    [InlineData("", "pm2_5", 5)]
    [InlineData("env1/pm2_5", "env1/pm2_5", 0)]
    [InlineData("env1/pm25", "env1/pm2_5", 1)] // one deletion
    [InlineData("env1/pm2.5", "env1/pm2_5", 1)] // one substitution
    [InlineData("env1/mp2_5", "env1/pm2_5", 2)] // a transposition is two edits
    [InlineData("kitten", "sitting", 3)]
    [InlineData("Broker:Port", "BROKER:PORT", 8)] // ordinal: callers fold case themselves
    public void Counts_insertions_deletions_and_substitutions_in_either_order(string a, string b, int expected)
    {
        Assert.Equal(expected, Identifiers.EditDistance(a, b));
        Assert.Equal(expected, Identifiers.EditDistance(b, a));
    }
}
