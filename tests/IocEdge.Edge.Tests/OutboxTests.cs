using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;

namespace IocEdge.Edge.Tests;

[Trait(Traits.Category, Traits.Unit)]
public sealed class OutboxTests : IDisposable
{
    private readonly TempDirectory _dir = new("outbox");
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    public void Dispose() => _dir.Dispose();

    private static Reading[] Readings(int n, int from = 0) => Enumerable.Range(from, n)
        .Select(i => new Reading("env1/pm2_5", T0.AddSeconds(i), i, "ug/m3", Quality.Good)).ToArray();

    [Fact]
    public void Sequence_numbers_increase_and_are_never_reused_even_after_everything_was_acknowledged_and_reopened()
    {
        var path = _dir.File("outbox.db");
        string stream;
        using (var outbox = new SqliteOutbox(path))
        {
            stream = outbox.StreamId;
            Assert.Equal(5, outbox.Append(Readings(5)));
            outbox.Acknowledge(outbox.Peek(100));
            Assert.Equal(0, outbox.Count);
        }

        using var reopened = new SqliteOutbox(path);
        Assert.Equal(stream, reopened.StreamId);
        reopened.Append(Readings(3, 5));
        Assert.Equal([6L, 7, 8], reopened.Peek(100).Select(r => r.Sequence));
    }

    [Fact]
    public void A_new_outbox_file_is_a_new_stream()
    {
        using var a = new SqliteOutbox(_dir.File("a.db"));
        using var b = new SqliteOutbox(_dir.File("b.db"));

        Assert.NotEqual(a.StreamId, b.StreamId);
        Assert.True(Identifiers.IsValidStreamId(a.StreamId));
    }

    [Fact]
    public void Readings_survive_a_reopen_with_every_field_and_in_order()
    {
        var path = _dir.File("outbox.db");
        var written = new[]
        {
            new Reading("env1/pm2_5", T0.AddMilliseconds(123), 35.25, "ug/m3", Quality.Good),
            new Reading("wq1/do", T0.AddSeconds(1), null, "mg/L", Quality.CommFailure),
            new Reading("wq1/ph", T0.AddSeconds(2), 7.01, "pH", Quality.Stale),
        };
        using (var outbox = new SqliteOutbox(path))
        {
            outbox.Append(written);
        }

        using var again = new SqliteOutbox(path);
        Assert.Equal(3, again.Count);
        Assert.Equal(written, again.Peek(10).Select(r => r.Reading));
    }

    [Fact]
    public void Only_acknowledged_readings_leave_and_peek_is_oldest_first_in_batches()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        outbox.Append(Readings(250));

        var first = outbox.Peek(100);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), first.Select(r => r.Sequence));
        Assert.Equal(first, outbox.Peek(100)); // peeking does not remove
        outbox.Acknowledge(first);

        Assert.Equal(150, outbox.Count);
        Assert.Equal(101, outbox.Peek(1)[0].Sequence);
    }

    [Fact]
    public void Dead_lettered_readings_stop_blocking_but_stay_on_disk()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        outbox.Append(Readings(10));

        outbox.DeadLetter(outbox.Peek(4), "readings[0].ts: bad");

        Assert.Equal(6, outbox.Count);
        Assert.Equal(4, outbox.DeadLetterCount());
        Assert.Equal(5, outbox.Peek(1)[0].Sequence);
    }

    [Fact]
    public void Appending_raises_the_wake_up_event()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        var raised = 0;
        outbox.Appended += () => raised++;

        outbox.Append(Readings(2));
        outbox.Append([]);

        Assert.Equal(1, raised);
    }
}
