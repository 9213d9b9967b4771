using System.Diagnostics;
using IocEdge.Aggregator.Storage;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Aggregator.Tests;

/// <summary>
/// Issue 15 "Start-up on a corrupt or full store: quarantine or a clear one-line error, never a crash loop", with real
/// files: a garbage header and a truncated store are moved to DataDirectory/quarantine/ and a fresh store starts; a full
/// disk (a 2 MB tmpfs, root only) stops the executable with one line and exit 73 (EX_CANTCREAT).
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "aggregator")]
public sealed class StoreStartupTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("store-startup");
    private string? _mount;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (_mount is not null)
        {
            Process.Start("umount", ["-l", _mount])!.WaitForExit();
        }

        _dir.Dispose();
    }

    private static ReadingBatch Batch(long first, int n) => new("gw-q", "s1", Enumerable.Range(0, n)
        .Select(i => new SequencedReading(first + i, new Reading("env1/pm2_5", T0.AddSeconds(first + i), i, "ug/m3", Quality.Good))).ToArray());

    private static void AssertQuarantinedAndFresh(string path, byte[] original)
    {
        using var store = new ReadingStore(path, NullLogger<ReadingStore>.Instance);

        Assert.Equal(1, store.Quarantined);
        var moved = Assert.Single(Directory.GetFiles(Path.Combine(Path.GetDirectoryName(path)!, "quarantine"), "aggregator.db.*"));
        Assert.Equal(original, File.ReadAllBytes(moved)); // kept as it was, for a post-mortem
        Assert.Equal(0, store.Count());
        Assert.Equal(10, store.Store([Batch(1, 10)], T0.AddMinutes(1))[0].Stored); // and the fresh store works
    }

    // A store of 20,000 readings, written and closed: its file and the file's bytes.
    private (string Path, byte[] Bytes) ClosedStoreOf20000Readings()
    {
        var path = _dir.File("data/aggregator.db");
        using (var store = new ReadingStore(path, NullLogger<ReadingStore>.Instance))
        {
            store.Store([Batch(1, 20_000)], T0.AddDays(1));
        }

        SqliteConnection.ClearAllPools();
        return (path, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_store_file_with_a_garbage_header_is_quarantined_and_a_fresh_store_starts()
    {
        var path = _dir.File("data/aggregator.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var garbage = new byte[8192];
        new Random(7).NextBytes(garbage);
        File.WriteAllBytes(path, garbage);

        AssertQuarantinedAndFresh(path, garbage);
    }

    [Fact]
    public void A_truncated_store_file_is_quarantined_and_a_fresh_store_starts()
    {
        var (path, bytes) = ClosedStoreOf20000Readings();
        Assert.True(bytes.Length > 100_000, $"the store should span many pages, not {bytes.Length} bytes");
        var half = bytes[..(bytes.Length / 2)];
        File.WriteAllBytes(path, half); // a power cut during a copy, a card that lost its tail

        AssertQuarantinedAndFresh(path, half);
    }

    // Another aggregator sharing the file checkpoints: it writes page 1 (the new page count) before the pages that
    // extend the file, so for an instant the file is shorter than its header says. That is not a lost tail: the live
    // store must not be quarantined (it once was, 1 open in 1,314 beside a checkpointing store).
    [Fact]
    public void A_store_whose_tail_another_aggregator_is_still_writing_is_not_quarantined()
    {
        var (path, bytes) = ClosedStoreOf20000Readings();
        var cut = bytes.Length - (3 * 4096);
        File.WriteAllBytes(path, bytes[..cut]);
        var extender = new Thread(() =>
        {
            Thread.Sleep(300);
            using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            f.Write(bytes.AsSpan(cut));
        });
        extender.Start();

        using (var store = new ReadingStore(path, NullLogger<ReadingStore>.Instance))
        {
            extender.Join();
            Assert.Equal(0, store.Quarantined);
            Assert.Equal(20_000L, store.Count());
        }

        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(path)!, "quarantine")));
    }

    [Fact]
    public async Task On_a_full_disk_the_executable_stops_with_one_line_and_exit_73_and_quarantines_nothing()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return; // mounting a tmpfs needs root (the project's CI runs as root)
        }

        _mount = Directory.CreateDirectory(_dir.File("full")).FullName;
        Assert.Equal(0, await RunAsync("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", _mount));
        var data = Directory.CreateDirectory(Path.Combine(_mount, "data")).FullName;
        using (var filler = new FileStream(Path.Combine(_mount, "filler"), FileMode.Create))
        {
            var block = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    filler.Write(block);
                }
            }
            catch (IOException)
            {
                // ENOSPC: the disk is full.
            }
        }

        var (code, _, err) = await AggregatorExecutable.RunAsync(AggregatorExecutable.OnLoopback(data)); // throws if it keeps running
        Assert.Equal(73, code); // sysexits.h EX_CANTCREAT, not 134 (abort)
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot open the store in " + data, line, StringComparison.Ordinal);
        Assert.Contains("full", line, StringComparison.OrdinalIgnoreCase);
        Assert.False(Directory.Exists(Path.Combine(data, "quarantine"))); // a full disk is not a corrupt store
    }

    [Fact]
    public async Task A_store_written_by_a_newer_aggregator_is_refused_in_one_line_exit_65_and_left_as_it_is()
    {
        var (path, _) = ClosedStoreOf20000Readings();
        using (var check = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            check.Open();
            using var read = check.CreateCommand();
            read.CommandText = "PRAGMA user_version";
            Assert.Equal((long)ReadingStore.SchemaVersion, (long)read.ExecuteScalar()!); // kept by this code
            read.CommandText = $"PRAGMA user_version = {ReadingStore.SchemaVersion + 1}"; // as a newer aggregator would leave it
            read.ExecuteNonQuery();
        }

        var bytes = File.ReadAllBytes(path);

        // In the library: refused before anything is written, not quarantined.
        Assert.Throws<StoreSchemaTooNewException>(() => new ReadingStore(path, NullLogger<ReadingStore>.Instance));
        SqliteConnection.ClearAllPools();

        // The executable: one line naming the file and both versions, exit 65 (EX_DATAERR), not 73 nor a stack trace.
        var (code, _, err) = await AggregatorExecutable.RunAsync(AggregatorExecutable.OnLoopback(Path.GetDirectoryName(path)!));
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(65, code);
        Assert.Contains($"has store schema {ReadingStore.SchemaVersion + 1}, written by a newer aggregator; this one knows up to {ReadingStore.SchemaVersion}",
            line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(path)!, "quarantine")));
        Assert.Equal(bytes, File.ReadAllBytes(path)); // untouched
    }

    private static async Task<int> RunAsync(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }
}
