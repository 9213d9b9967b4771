using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests.OutboxStore;

/// <summary>
/// Issue 14, "bytes written to the card per reading ... kept low" and "clock: ... flagged for the aggregator". Card
/// wear is dominated by fsync'd commits (each re-dirties WAL pages and costs an fsync on the SD card): a poll cycle
/// must cost one commit, the acknowledgement of the previous batch riding in the append's transaction. Observed from
/// a second connection, as sqlite3 would open the file: <c>PRAGMA data_version</c> changes when another connection
/// committed (sqlite.org/pragma.html#pragma_data_version).
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class OutboxWearTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("outbox-wear");

    public void Dispose() => _dir.Dispose();

    private sealed class Observer : IDisposable
    {
        private readonly SqliteConnection _c;
        private long _version;

        public Observer(string path)
        {
            _c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            _c.Open();
            _version = Version();
        }

        private long Version() => Scalar("PRAGMA data_version");

        /// <summary>True when the outbox committed something since the last call.</summary>
        public bool Committed()
        {
            var v = Version();
            var changed = v != _version;
            _version = v;
            return changed;
        }

        /// <summary>Rows physically on the card (acknowledged ones whose delete is pending included).</summary>
        public long RowsOnCard() => Scalar("SELECT count(*) FROM outbox");

        private long Scalar(string sql)
        {
            using var cmd = _c.CreateCommand();
            cmd.CommandText = sql;
            return (long)cmd.ExecuteScalar()!;
        }

        public void Dispose() => _c.Dispose();
    }

    [Fact]
    public void A_poll_cycle_costs_one_commit_the_acknowledgement_rides_in_the_next_append()
    {
        var path = _dir.File("outbox.db");
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(path, new OutboxOptions { MinFreeBytes = 0 }, time);
        using var observer = new Observer(path);
        var commits = 0;
        long cursor = 0;
        for (var i = 0; i < 20; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(outbox.Append(OutboxStoreTests.Cycle(i)) > 0);
            commits += observer.Committed() ? 1 : 0;
            var sent = outbox.ReadAfter(cursor, 100);
            cursor = sent[^1].Sequence;
            outbox.Acknowledge(sent); // the link is up: PUBACK right after the append
            commits += observer.Committed() ? 1 : 0;
            Assert.Equal(0, outbox.Count); // acknowledged at once for every reader of the outbox
        }

        Assert.Equal(20, commits); // before: 40 (a commit for the append, another for the acknowledgement)
        Assert.Equal(100, observer.RowsOnCard()); // only the last cycle's rows wait for the next append's delete
        Assert.Empty(outbox.Peek(100));
    }

    [Fact]
    public void Without_appends_acknowledgements_reach_the_card_after_AckDeferLimit_and_the_empty_outbox_truncates_its_WAL()
    {
        var path = _dir.File("outbox.db");
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(path, new OutboxOptions { MinFreeBytes = 0 }, time);
        outbox.Append(OutboxStoreTests.Cycle(0));
        outbox.Append(OutboxStoreTests.Cycle(1));
        using var observer = new Observer(path);

        var all = outbox.Peek(200);
        outbox.Acknowledge(all.Take(100).ToList());
        Assert.Equal(200, observer.RowsOnCard());

        time.Advance(SqliteOutbox.AckDeferLimit); // a drain with the sampler idle: no append comes
        outbox.Acknowledge(all.Skip(100).ToList());
        Assert.Equal(0, observer.RowsOnCard());
        Assert.Equal(0, new FileInfo(path + "-wal").Length); // nothing waits: the WAL leaves the card too
    }

    [Fact]
    public void Readings_read_for_sending_are_marked_clock_untrusted_until_corrected_and_never_after()
    {
        var path = _dir.File("outbox.db");
        var options = new OutboxOptions { MaxAge = TimeSpan.Zero, MinFreeBytes = 0 };
        var time = new OutboxStoreTests.SteppedClock { Wall = T0.AddHours(-1), MonotonicMs = 1_000 };
        using (var before = new SqliteOutbox(path, options, time, new OutboxStoreTests.FakeClockSync { BootId = "boot-a" }))
        {
            before.Append([new Reading("env1/pm2_5", time.Wall, 1, "ug/m3", Quality.Good)]); // seq 1: never corrected
        }

        var clock = new OutboxStoreTests.FakeClockSync { BootId = "boot-b" };
        using var outbox = new SqliteOutbox(path, options, time, clock);
        outbox.Append([new Reading("env1/pm2_5", time.Wall, 2, "ug/m3", Quality.Good)]); // seq 2: this boot, not yet synced
        Assert.Equal([true, true], outbox.Peek(10).Select(r => r.ClockUntrusted)); // sent now, both travel marked

        time.MonotonicMs += 5_000;
        time.Wall = T0;
        clock.IsSynchronized = true;
        outbox.Append([new Reading("env1/pm2_5", time.Wall, 3, "ug/m3", Quality.Good)]); // corrects seq 2

        var rows = outbox.Peek(10);
        Assert.Equal([true, false, false], rows.Select(r => r.ClockUntrusted));
        Assert.Equal(T0.AddSeconds(-5), rows[1].Reading.Timestamp); // corrected from the monotonic clock
        Assert.Equal([false, false], outbox.ReadAfter(1, 10).Select(r => r.ClockUntrusted)); // a cursor past the range

        // Once the marked reading is acknowledged its range is forgotten: health counts waiting readings only.
        outbox.Acknowledge([rows[0]]);
        outbox.Append([new Reading("env1/pm2_5", time.Wall, 4, "ug/m3", Quality.Good)]);
        Assert.Empty(outbox.ClockUntrusted());
        Assert.Equal(0, outbox.Health().ClockUntrusted);
    }
}
