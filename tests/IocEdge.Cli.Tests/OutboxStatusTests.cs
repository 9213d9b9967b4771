using System.Security.Cryptography;
using System.Text.Json;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Cli.Tests;

/// <summary>
/// Issue 16, `iocedge outbox status`: pending readings, oldest age, bytes, quarantined files, drops by reason and the
/// clock state, read from a real outbox file that the gateway (here: a SqliteOutbox) keeps open and writing.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "technician")]
public sealed class OutboxStatusTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli-outbox");

    public void Dispose() => _dir.Dispose();

    private static Reading[] Readings(int n, TimeSpan age) =>
        Enumerable.Range(0, n).Select(i => new Reading($"env1/p{i}", DateTimeOffset.UtcNow - age, i, "ug/m3", Quality.Good)).ToArray();

    private static string Hash(string path) => File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "-";

    [Fact]
    public async Task Reports_what_the_running_gateways_outbox_holds_without_writing_to_it()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir.Path, "outbox.db"));
        outbox.Append(Readings(3, TimeSpan.FromHours(3)));
        var before = (Hash(outbox.Path), Hash(outbox.Path + "-wal"));

        var r = await Cli.RunAsync("outbox", "status", "--data-dir", _dir.Path, "--json");
        Assert.True(r.Exit == 0, r.ToString());
        using (var doc = JsonDocument.Parse(r.Out))
        {
            var root = doc.RootElement;
            Assert.Equal(3, root.GetProperty("pending").GetInt64());
            Assert.Equal(outbox.StreamId, root.GetProperty("stream_id").GetString());
            Assert.InRange(root.GetProperty("oldest_age_s").GetDouble(), (3 * 3600) - 60, (3 * 3600) + 60);
            Assert.True(root.GetProperty("bytes").GetInt64() > 0);
            Assert.Equal(0, root.GetProperty("quarantined_files").GetInt32());
            Assert.Empty(root.GetProperty("dropped_by_reason").EnumerateObject());
            Assert.Equal("unknown", root.GetProperty("clock").GetString()); // neither timesyncd's flag nor timedatectl here
        }

        // Read-only: the database and its log are byte for byte what they were, and the gateway goes on writing.
        Assert.Equal(before, (Hash(outbox.Path), Hash(outbox.Path + "-wal")));
        Assert.True(outbox.Append(Readings(2, TimeSpan.Zero)) > 0);
        var after = await Cli.RunAsync("outbox", "status", "--data-dir", _dir.Path, "--json");
        using var doc2 = JsonDocument.Parse(after.Out);
        Assert.Equal(5, doc2.RootElement.GetProperty("pending").GetInt64());
    }

    [Fact]
    public async Task Text_output_names_quarantined_files_and_the_clock()
    {
        using (var outbox = new SqliteOutbox(Path.Combine(_dir.Path, "outbox.db")))
        {
            outbox.Append(Readings(1, TimeSpan.FromMinutes(5)));
        }

        Directory.CreateDirectory(Path.Combine(_dir.Path, "quarantine"));
        File.WriteAllText(Path.Combine(_dir.Path, "quarantine", "outbox.db.20261130T010203Z"), "garbage");
        var flag = _dir.File("synchronized");
        File.WriteAllText(flag, string.Empty);

        var r = await Cli.RunAsync(new Cli.Options { Width = 40, TimesyncFlag = flag }, "outbox", "status", "--data-dir", _dir.Path);
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("pending: 1 reading(s), oldest 5 min ago", r.Out, StringComparison.Ordinal);
        Assert.Contains("quarantined files: 1 (in " + Path.Combine(_dir.Path, "quarantine") + ")", r.Out, StringComparison.Ordinal);
        Assert.Contains("clock: synchronised", r.Out, StringComparison.Ordinal);
        Assert.Contains("dropped: none", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_outbox_is_a_failed_check_with_the_reason()
    {
        var r = await Cli.RunAsync("outbox", "status", "--data-dir", _dir.Path);
        Assert.Equal(1, r.Exit);
        Assert.Contains("no outbox at " + Path.Combine(_dir.Path, "outbox.db"), r.Err, StringComparison.Ordinal);
    }
}
