using System.Collections.Concurrent;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 13 "Field faults", item 1: a value that is not a finite number never reaches the outbox as a number, and no
/// single outbox row can stop forwarding (contract README §4: "value ... a finite number (JSON has no NaN or
/// infinity); null exactly when quality is comm_failure, device_exception or invalid"; §4.2 quality invalid).
/// </summary>
[Trait(Traits.Acceptance, "field-faults")]
public sealed class PoisonRowTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("poison");

    public void Dispose() => _dir.Dispose();

    private static Reading Good(int i) => new("env1/pm2_5", T0.AddSeconds(i), i, "ug/m3", Quality.Good);

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public void A_NaN_given_to_Append_is_stored_as_invalid_without_a_value_and_the_rest_of_the_cycle_is_kept()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));

        // The example: one cycle whose second reading is NaN (a float register's 0x7FC00000), then ±infinity.
        outbox.Append([Good(1), Good(2) with { Value = double.NaN }, Good(3) with { Value = double.PositiveInfinity },
            Good(4) with { Value = double.NegativeInfinity, Quality = Quality.Stale }, Good(5)]);

        var stored = outbox.Peek(10).Select(r => r.Reading).ToArray();
        Assert.Equal([1.0, null, null, null, 5.0], stored.Select(r => r.Value));
        Assert.Equal([Quality.Good, Quality.Invalid, Quality.Invalid, Quality.Invalid, Quality.Good], stored.Select(r => r.Quality));
        Assert.Equal(3, outbox.Invalidated);
        // Every stored reading encodes as contract v1 (§4 value rule), so the forwarder can send it.
        Assert.All(stored, r => Assert.Null(SqliteOutbox.Problem(r)));
    }

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public void A_value_with_comm_failure_is_dropped_and_a_good_reading_without_value_becomes_invalid()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));

        outbox.Append([Good(1) with { Quality = Quality.CommFailure }, Good(2) with { Value = null }]);

        var stored = outbox.Peek(10).Select(r => r.Reading).ToArray();
        Assert.Equal([(null, Quality.CommFailure), (null, Quality.Invalid)], stored.Select(r => (r.Value, r.Quality)));
    }

    [Theory]
    [Trait(Traits.Category, Traits.Unit)]
    [InlineData("value = 9e999", "value +Infinity is not a finite number")]
    [InlineData("value = -9e999", "value -Infinity is not a finite number")]
    [InlineData("channel = 'Env1 PM2.5'", "channel 'Env1 PM2.5' is not a channel id")]
    [InlineData("unit = 'micrograms per cubic metre'", "is not a unit of the vocabulary")]
    [InlineData("quality = 9", "quality 9 is not a contract quality")]
    [InlineData("quality = 700", "quality '700' is not a contract quality")]
    [InlineData("ts = 999999999999999999", "timestamp '999999999999999999' is not a time")]
    [InlineData("ts = 'yesterday'", "timestamp 'yesterday' is not a time")]
    [InlineData("value = 'high'", "value 'high' is not a number")]
    [InlineData("quality = 2", "quality comm_failure must carry a null value")]
    [InlineData("value = NULL", "quality good needs a value")]
    public void A_row_that_cannot_be_encoded_is_dead_lettered_with_its_reason_and_the_rows_around_it_are_sent(string corruption, string reason)
    {
        var path = _dir.File("outbox.db");
        using (var outbox = new SqliteOutbox(path))
        {
            outbox.Append([Good(1), Good(2), Good(3), Good(4)]);
        }

        Corrupt(path, $"UPDATE outbox SET {corruption} WHERE seq = 2");
        using var reopened = new SqliteOutbox(path);

        Assert.Equal([1L, 3, 4], reopened.Peek(10).Select(r => r.Sequence));
        var dead = Assert.Single(reopened.DeadLetters());
        Assert.Equal(2, dead.Sequence);
        Assert.Contains(reason, dead.Reason, StringComparison.Ordinal);
        Assert.Equal(3, reopened.Count);
    }

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public void A_page_of_nothing_but_bad_rows_does_not_look_like_an_empty_queue()
    {
        var path = _dir.File("outbox.db");
        using (var outbox = new SqliteOutbox(path))
        {
            outbox.Append(Enumerable.Range(1, 5).Select(Good).ToArray());
        }

        Corrupt(path, "UPDATE outbox SET value = 9e999 WHERE seq <= 3");
        using var reopened = new SqliteOutbox(path);

        Assert.Equal([4L, 5], reopened.Peek(2).Select(r => r.Sequence));
        Assert.Equal([1L, 2, 3], reopened.DeadLetters().Select(d => d.Sequence));
    }

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public void Dead_lettering_two_readings_moves_exactly_those_two_and_not_the_rows_between_them()
    {
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        outbox.Append(Enumerable.Range(1, 5).Select(Good).ToArray());
        var all = outbox.Peek(10);

        outbox.DeadLetter([all[0], all[4]], "refused");

        Assert.Equal([1L, 5], outbox.DeadLetters().Select(d => d.Sequence));
        Assert.Equal([2L, 3, 4], outbox.Peek(10).Select(r => r.Sequence));
    }

    /// <summary>The second example, as a technician would cause it: sqlite3 on the card, then the gateway.</summary>
    [Fact]
    [Trait(Traits.Category, Traits.Integration)]
    public async Task An_infinity_row_in_outbox_db_is_dead_lettered_and_every_other_row_reaches_a_real_broker()
    {
        var data = _dir.File("gw");
        using (var before = new SqliteOutbox(Path.Combine(data, "outbox.db")))
        {
            before.Append(Enumerable.Range(1, 10).Select(Good).ToArray());
        }

        var sqlite3 = Tools.Require("/usr/bin/sqlite3", "sqlite3");
        var (exit, output) = await PeerProcess.RunAsync(sqlite3,
            [Path.Combine(data, "outbox.db"), "UPDATE outbox SET value = 9e999 WHERE seq = 4;"], TimeSpan.FromSeconds(20));
        Assert.True(exit == 0, output);

        await using var broker = await Mosquitto.StartAsync();
        var received = new ConcurrentBag<long>();
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            if (ReadingBatchJson.TryDecode(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), "gw-poison", out var batch, out _))
            {
                foreach (var r in batch!.Readings)
                {
                    received.Add(r.Sequence);
                }
            }

            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).Build());
        await subscriber.SubscribeAsync(Topics.AllReadings, MqttQualityOfServiceLevel.AtLeastOnce);

        var config = _dir.File("gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "Id": "gw-poison", "DataDirectory": "{{data}}",
              "Mqtt": { "Host": "127.0.0.1", "Port": {{broker.Port}}, "BatchSize": 3 } } }
            """);
        using var host = GatewayHost.Build(["--config", config, "--Logging:LogLevel:Default=Warning"]);
        await host.StartAsync();
        var outbox = host.Services.GetRequiredService<SqliteOutbox>();

        await Eventually.True(() => received.Distinct().Count() == 9 && outbox.Count == 0, TimeSpan.FromSeconds(20),
            "the nine readable rows to reach the broker");
        Assert.Equal([1L, 2, 3, 5, 6, 7, 8, 9, 10], received.Distinct().Order());
        var dead = Assert.Single(outbox.DeadLetters());
        Assert.Equal(4, dead.Sequence);
        Assert.Contains("not a finite number", dead.Reason, StringComparison.Ordinal);
        await host.StopAsync();
        Assert.Equal(0, GatewayHost.ExitCodeOf(host));
    }

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public async Task A_source_that_throws_is_restarted_after_a_backoff_and_the_other_sources_keep_sampling()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(_dir.File("outbox.db"));
        var healthy = new ChannelReadingSource();
        var flaky = new FlakySource();
        using var sampling = new SamplingService([healthy, flaky], outbox, time, NullLogger<SamplingService>.Instance);
        await sampling.StartAsync(CancellationToken.None);

        await Eventually.True(() => flaky.Runs == 1 && sampling.SourceFailures == 1, TimeSpan.FromSeconds(5), "the first failure");
        healthy.Push([Good(1)]);
        await Eventually.True(() => outbox.Count == 1, TimeSpan.FromSeconds(5), "the healthy source's reading");
        Assert.Equal(1, flaky.Runs); // not yet restarted: the backoff (1 s) has not passed

        time.Advance(SamplingService.RestartDelayMin);
        await Eventually.True(() => outbox.Count == 2, TimeSpan.FromSeconds(5), "the restarted source's reading");
        Assert.Equal(2, flaky.Runs);
        await sampling.StopAsync(CancellationToken.None);
    }

    [Fact]
    [Trait(Traits.Category, Traits.Unit)]
    public async Task A_background_service_that_dies_stops_the_gateway_with_a_non_zero_exit_code()
    {
        var config = _dir.File("gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "Id": "gw-crash", "DataDirectory": "{{_dir.File("gw")}}", "Mqtt": { "Host": "127.0.0.1", "Port": 1 } } }
            """);
        using var host = GatewayHost.Build(["--config", config, "--Logging:LogLevel:Default=None"],
            b => b.Services.AddHostedService<Crashing>());

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(cts.Token);
        await host.WaitForShutdownAsync(cts.Token);

        Assert.False(cts.IsCancellationRequested, "the host stopped by itself");
        Assert.Equal(GatewayHost.ExitSoftware, GatewayHost.ExitCodeOf(host));
    }

    private static void Corrupt(string path, string sql)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        Assert.Equal(sql.Contains("<=", StringComparison.Ordinal) ? 3 : 1, cmd.ExecuteNonQuery());
    }

    private sealed class Crashing : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            throw new InvalidOperationException("a defect");
        }
    }

    private sealed class FlakySource : IReadingSource
    {
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        public string Name => "flaky";

        public IReadOnlyList<string> Channels { get; } = ["env2/pm2_5"];

        public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync(
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Interlocked.Increment(ref _runs) == 1)
            {
                throw new InvalidOperationException("a driver defect");
            }

            yield return [new Reading("env2/pm2_5", T0, 7, "ug/m3", Quality.Good)];
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
