using System.Diagnostics;
using System.Runtime.CompilerServices;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests.OutboxStore;

/// <summary>Issue 14, the store: start-up integrity, in-place schema, bounds and eviction, acknowledge by ranges, clock.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class OutboxStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("outbox-store");
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    public void Dispose() => _dir.Dispose();

    internal static Reading[] Cycle(int i, int channels = 100, bool withState = true) => Enumerable.Range(0, channels)
        .Select(c => withState && c == 0
            ? new Reading("door1/open", T0.AddSeconds(i), i % 2, "state", Quality.Good)
            : new Reading($"env{c}/pm2_5", T0.AddSeconds(i), i + c / 100.0, "ug/m3", Quality.Good))
        .ToArray();

    private string WriteAndClose(int readings)
    {
        var path = _dir.File("outbox.db");
        using var outbox = new SqliteOutbox(path);
        for (var i = 0; i < readings / 100; i++)
        {
            outbox.Append(Cycle(i));
        }

        return path;
    }

    [Fact]
    public void A_truncated_outbox_file_is_quarantined_a_new_stream_starts_and_appends_go_on()
    {
        var path = WriteAndClose(5000);
        string oldStream;
        using (var o = new SqliteOutbox(path))
        {
            oldStream = o.StreamId;
        }

        // truncate -s 50%: the first corrupt card. Before this change the constructor threw (exit 134).
        using (var f = new FileStream(path, FileMode.Open))
        {
            f.SetLength(f.Length / 2);
        }

        using var outbox = new SqliteOutbox(path, new OutboxOptions(), new FakeTimeProvider(T0));
        Assert.NotEqual(oldStream, outbox.StreamId);
        Assert.Equal(0, outbox.Count);
        Assert.Equal(1, outbox.Health().QuarantinedFiles);
        var kept = Assert.Single(Directory.GetFiles(Path.Combine(_dir.Path, "quarantine"), "outbox.db.*"));
        Assert.EndsWith("outbox.db.20261122T030000Z", kept, StringComparison.Ordinal);
        Assert.True(new FileInfo(kept).Length > 0, "the corrupt file is kept for recovery, never deleted");
        Assert.True(outbox.Append(Cycle(1)) > 0);
        Assert.Equal(100, outbox.Count);
    }

    [Fact]
    public void A_garbage_headed_outbox_file_is_quarantined_a_new_stream_starts_and_appends_go_on()
    {
        var path = WriteAndClose(1000);
        using (var f = new FileStream(path, FileMode.Open))
        {
            f.Write(Enumerable.Repeat((byte)0xA5, 100).ToArray());
        }

        using var outbox = new SqliteOutbox(path, new OutboxOptions(), new FakeTimeProvider(T0));
        Assert.Equal(0, outbox.Count);
        Assert.Equal(1, outbox.Health().QuarantinedFiles);
        Assert.True(outbox.Append(Cycle(1)) > 0);
    }

    [Fact]
    public void An_outbox_written_by_the_previous_schema_opens_in_place_with_every_reading_and_its_stream()
    {
        // OutboxFixtures/outbox-09cdab6.db: written by SqliteOutbox at commit 09cdab6 (12 appended, 3 acknowledged).
        var fixture = Path.Combine(FixtureDirectory(), "outbox-09cdab6.db");
        var path = _dir.File("outbox.db");
        File.Copy(fixture, path);

        using var outbox = new SqliteOutbox(path, new OutboxOptions(), new FakeTimeProvider(T0));
        Assert.Equal(File.ReadAllText(fixture + ".stream"), outbox.StreamId);
        Assert.Equal(9, outbox.Count);
        Assert.Equal(12, outbox.LastSequence);
        var rows = outbox.Peek(100);
        Assert.Equal(Enumerable.Range(4, 9).Select(i => (long)i), rows.Select(r => r.Sequence));
        Assert.Equal(3.5, rows[0].Reading.Value);
        Assert.Equal(13, outbox.Append(Cycle(0, channels: 1, withState: false)));
        Assert.Equal(0, outbox.Health().QuarantinedFiles);
    }

    private static string FixtureDirectory([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source))!, "OutboxFixtures");

    [Fact]
    public void Acknowledge_removes_exactly_the_given_sequences_in_contiguous_runs()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        outbox.Append(Cycle(0, channels: 10, withState: false));
        var all = outbox.Peek(10);
        outbox.Acknowledge([.. all.Take(4), .. all.Skip(5).Take(3), all[9]]);

        Assert.Equal([5L, 9], outbox.Peek(10).Select(r => r.Sequence));
        Assert.Equal(2, outbox.Count);
    }

    [Fact]
    public void The_byte_bound_evicts_the_oldest_telemetry_and_keeps_every_state_reading()
    {
        var options = new OutboxOptions { MaxBytes = 128 * 1024, MinFreeBytes = 0 };
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"), options, new FakeTimeProvider(T0));
        for (var i = 0; i < 200; i++)
        {
            outbox.Append(Cycle(i));
        }

        var health = outbox.Health();
        Assert.True(health.DroppedByReason.GetValueOrDefault("evicted_bytes") > 0, "eviction is counted");
        Assert.True(health.UsedBytes <= options.MaxBytes + 64 * 1024, $"used {health.UsedBytes} B");
        var left = outbox.Peek(100_000);
        Assert.Equal(200, left.Count(r => r.Reading.Unit == "state"));
        Assert.Equal(outbox.LastSequence, left[^1].Sequence);
        Assert.Equal(20_000 - health.DroppedByReason["evicted_bytes"], outbox.Count);
    }

    [Fact]
    public void Thin_eviction_removes_every_other_reading_per_channel_of_the_oldest_span()
    {
        var options = new OutboxOptions { MaxBytes = 128 * 1024, MinFreeBytes = 0, Eviction = OutboxEviction.Thin };
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"), options, new FakeTimeProvider(T0));
        for (var i = 0; i < 200; i++)
        {
            outbox.Append(Cycle(i));
        }

        var left = outbox.Peek(100_000);
        Assert.True(outbox.Health().DroppedByReason.GetValueOrDefault("evicted_bytes") > 0);
        // Every channel still has readings from the first cycles (thinned, not cut off).
        Assert.All(left.Where(r => r.Reading.Channel == "env1/pm2_5").Take(1), r => Assert.True(r.Reading.Timestamp < T0.AddSeconds(100)));
        Assert.Equal(200, left.Count(r => r.Reading.Unit == "state"));
    }

    [Fact]
    public void The_age_bound_evicts_readings_older_than_MaxAge_counted()
    {
        var time = new FakeTimeProvider(T0.AddSeconds(10));
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"), new OutboxOptions { MaxAge = TimeSpan.FromHours(1), MinFreeBytes = 0 }, time);
        outbox.Append(Cycle(0));
        time.Advance(TimeSpan.FromHours(2));
        outbox.Append(Cycle(7200));

        Assert.Equal(100, outbox.Health().DroppedByReason["evicted_age"]);
        Assert.Equal(100, outbox.Count);
    }

    [Fact]
    public void Readings_taken_before_clock_sync_are_corrected_from_the_monotonic_clock_in_the_same_boot()
    {
        // A Pi without RTC boots at its last shutdown time (here 2020); NTP then says 2026-11-22T03:00:05Z.
        var time = new SteppedClock { Wall = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), MonotonicMs = 1_000 };
        var clock = new FakeClockSync { BootId = "boot-a" };
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"), new OutboxOptions { MaxAge = TimeSpan.Zero, MinFreeBytes = 0 }, time, clock);
        outbox.Append([new Reading("env1/pm2_5", time.Wall, 1, "ug/m3", Quality.Good)]);
        Assert.Single(outbox.ClockUntrusted());

        time.MonotonicMs += 5_000;
        time.Wall = T0.AddSeconds(5);
        clock.IsSynchronized = true;
        outbox.Append([new Reading("env1/pm2_5", time.Wall, 2, "ug/m3", Quality.Good)]);

        var rows = outbox.Peek(10);
        Assert.Equal(T0, rows[0].Reading.Timestamp); // taken 5 s (monotonic) before the sync at T0+5 s
        Assert.Equal(T0.AddSeconds(5), rows[1].Reading.Timestamp);
        Assert.Empty(outbox.ClockUntrusted());
    }

    [Fact]
    public void Readings_of_another_boot_taken_before_clock_sync_are_flagged_not_corrected()
    {
        var path = _dir.File("outbox.db");
        var time = new SteppedClock { Wall = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), MonotonicMs = 1_000 };
        var old = time.Wall;
        using (var outbox = new SqliteOutbox(path, new OutboxOptions { MaxAge = TimeSpan.Zero, MinFreeBytes = 0 }, time, new FakeClockSync { BootId = "boot-a" }))
        {
            outbox.Append([new Reading("env1/pm2_5", time.Wall, 1, "ug/m3", Quality.Good)]);
        }

        time.Wall = T0;
        using var reopened = new SqliteOutbox(path, new OutboxOptions { MaxAge = TimeSpan.Zero, MinFreeBytes = 0 }, time,
            new FakeClockSync { BootId = "boot-b", IsSynchronized = true });
        reopened.Append([new Reading("env1/pm2_5", time.Wall, 2, "ug/m3", Quality.Good)]);

        Assert.Equal(new ClockUntrustedRange(1, 1, Uncorrectable: true), Assert.Single(reopened.ClockUntrusted()));
        Assert.Equal(old, reopened.Peek(1)[0].Reading.Timestamp);
        Assert.Equal(Quality.Good, reopened.Peek(1)[0].Reading.Quality);
    }

    internal sealed class SteppedClock : TimeProvider
    {
        public DateTimeOffset Wall { get; set; }

        public long MonotonicMs { get; set; }

        public override DateTimeOffset GetUtcNow() => Wall;

        public override long GetTimestamp() => MonotonicMs;

        public override long TimestampFrequency => 1000;
    }

    internal sealed class FakeClockSync : IClockSync
    {
        public bool IsSynchronized { get; set; }

        public string BootId { get; set; } = "boot";
    }
}

/// <summary>Skips (with the reason) when the tests cannot mount a tmpfs.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!string.Equals(Environment.UserName, "root", StringComparison.Ordinal))
        {
            Skip = "needs root to mount a small tmpfs (mount -t tmpfs -o size=2m); CI and the dev container run as root";
        }
    }
}

/// <summary>A 2 MiB tmpfs mounted for one test and unmounted in Dispose.</summary>
internal sealed class SmallTmpfs : IDisposable
{
    public SmallTmpfs(string size = "2m")
    {
        Path = Directory.CreateTempSubdirectory("outbox-tmpfs-").FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a file until the filesystem refuses (ENOSPC); returns its path.</summary>
    public string Fill()
    {
        var filler = File("filler");
        var block = new byte[4096];
        using var f = new FileStream(filler, FileMode.Create);
        try
        {
            while (true)
            {
                f.Write(block);
                f.Flush();
            }
        }
        catch (IOException)
        {
        }

        return filler;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path);
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }
}

[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class OutboxFullCardTests
{
    [RootFact]
    public async Task Data_directory_on_a_tmpfs_that_fills_sampling_never_stops_eviction_is_counted_and_it_recovers()
    {
        using var fs = new SmallTmpfs();
        // No byte bound and no free-disk floor: the card itself runs out (SQLITE_FULL), as in the 2 MB test.
        using var outbox = new SqliteOutbox(fs.File("outbox.db"), new OutboxOptions { MaxBytes = 0, MinFreeBytes = 0 },
            TimeProvider.System);
        var source = new SyntheticSource(cycles: 600);
        var sampling = new SamplingService([source], outbox, TimeProvider.System, NullLogger<SamplingService>.Instance);
        await sampling.StartAsync(CancellationToken.None);
        await source.Done.Task.WaitAsync(TimeSpan.FromMinutes(3));
        await sampling.StopAsync(CancellationToken.None);

        var health = outbox.Health();
        Assert.Equal(0, sampling.Lost);
        Assert.Equal(60_000, sampling.Appended);
        Assert.True(health.DroppedByReason.GetValueOrDefault("evicted_disk") > 0, "eviction on a full card is counted");
        Assert.True(health.DiskErrors > 0, "the card did run out");
        var newest = outbox.ReadAfter(outbox.LastSequence - 1, 1);
        Assert.Equal(OutboxStoreTests.Cycle(599)[^1].Timestamp, Assert.Single(newest).Reading.Timestamp);
        Assert.Equal(600, outbox.Peek(100_000).Count(r => r.Reading.Unit == "state"));
        Assert.Equal(60_000 - health.DroppedByReason.Values.Sum() - health.RamBuffered, outbox.Count);
    }

    [RootFact]
    public void ENOSPC_in_acknowledge_does_not_throw_and_the_outbox_recovers_when_space_returns()
    {
        using var fs = new SmallTmpfs();
        var path = fs.File("outbox.db");
        long countBefore;
        using (var outbox = new SqliteOutbox(path, new OutboxOptions { MaxBytes = 0, MinFreeBytes = 0, MaxAge = TimeSpan.Zero }, TimeProvider.System))
        {
            for (var i = 0; i < 20; i++)
            {
                outbox.Append(OutboxStoreTests.Cycle(i));
            }

            var filler = fs.Fill(); // the card fills between append and acknowledge

            var batch = outbox.Peek(1000);
            outbox.Acknowledge(batch); // before: SqliteException (SQLITE_FULL) escaped and stopped the sender
            Assert.Equal(1001, outbox.Peek(1)[0].Sequence);
            Assert.Equal(1000, outbox.Count);

            for (var i = 20; i < 25; i++)
            {
                outbox.Append(OutboxStoreTests.Cycle(i)); // held in RAM or stored after eviction: never throws
            }

            File.Delete(filler); // space returns
            Assert.True(outbox.Append(OutboxStoreTests.Cycle(25)) > 0, "the outbox writes to the card again by itself");
            var h = outbox.Health();
            Assert.Equal(0, h.RamBuffered);
            Assert.Equal(2600, outbox.LastSequence + h.DroppedByReason.GetValueOrDefault("ram_overflow"));
            countBefore = outbox.Count;
            Assert.Equal(2600 - 1000 - h.DroppedByReason.Values.Sum(), countBefore);
        }

        using var reopened = new SqliteOutbox(path);
        Assert.Equal(countBefore, reopened.Count);
        Assert.True(reopened.Peek(1)[0].Sequence > 1000, "the acknowledged readings are gone from the card");
    }

    [RootFact]
    public void A_card_full_with_nothing_to_evict_holds_readings_in_RAM_and_writes_them_when_space_returns()
    {
        using var fs = new SmallTmpfs();
        using var outbox = new SqliteOutbox(fs.File("outbox.db"), new OutboxOptions { MaxBytes = 0, MinFreeBytes = 0, MaxAge = TimeSpan.Zero },
            TimeProvider.System);
        outbox.Append(OutboxStoreTests.Cycle(0));
        outbox.Acknowledge(outbox.Peek(1000)); // nothing left to evict
        var filler = fs.Fill();
        File.Delete(fs.File("outbox.db.reserve")); // no reserve either: the card stays full
        var filler2 = fs.File("filler2");
        using (var f = new FileStream(filler2, FileMode.Create))
        {
            try
            {
                while (true)
                {
                    f.Write(new byte[4096]);
                    f.Flush();
                }
            }
            catch (IOException)
            {
            }
        }

        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(0, outbox.Append(OutboxStoreTests.Cycle(i))); // held in RAM, never throws
        }

        Assert.Equal(300, outbox.Health().RamBuffered);
        File.Delete(filler);
        File.Delete(filler2); // space returns
        Assert.Equal(500, outbox.Append(OutboxStoreTests.Cycle(4))); // the RAM ring first, in order, then this cycle
        Assert.Equal(0, outbox.Health().RamBuffered);
        var rows = outbox.Peek(1000);
        Assert.Equal(Enumerable.Range(101, 400).Select(i => (long)i), rows.Select(r => r.Sequence));
        Assert.Equal(OutboxStoreTests.Cycle(1)[0].Timestamp, rows[0].Reading.Timestamp);
    }

    private sealed class SyntheticSource(int cycles) : IReadingSource
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "synthetic";

        public IReadOnlyList<string> Channels { get; } = ["env1/pm2_5"];

        public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            for (var i = 0; i < cycles; i++)
            {
                yield return OutboxStoreTests.Cycle(i);
                await Task.Yield();
            }

            Done.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
