using System.Device.I2c;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sources;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 13 item 2 (time), gateway part: intervals run on the monotonic clock (TimeProvider.GetTimestamp), so an NTP
/// step of the wall clock (a Pi without an RTC boots in 1970, or at the last shutdown's time, and jumps when NTP
/// answers) neither stretches nor cuts a wait. Wall time only stamps readings.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class WallClockStepTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    /// <summary>A UART that never sends a byte (a PMS5003 that is powered but asleep).</summary>
    private sealed class SilentUart : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => 0;
        public override long Position { get => 0; set { } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => 0;
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => 0;
        public override void SetLength(long value) { }
        public override void Write(byte[] buffer, int offset, int count) { }
    }

    private sealed class Buses(Stream uart) : IBusProvider
    {
        public I2cDevice OpenI2c(int bus, int address) => throw new IOException("no i2c here");

        public Stream OpenSerial(string path) => uart;
    }

    [Fact]
    public async Task A_wall_clock_stepped_back_an_hour_does_not_stretch_the_wait_for_a_silent_uart_sensor()
    {
        var fake = new FakeTimeProvider(T0);
        var clock = new SteppingClock(fake);
        var options = new SensorOptions { Id = "dust", Driver = SensorDriver.Pms5003, SerialPort = "/dev/ttyAMA0", PollPeriod = TimeSpan.FromSeconds(10) };
        var source = new SensorSource(options, new Buses(new SilentUart()), clock, NullLoggerFactory.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var e = source.RunAsync(cts.Token).GetAsyncEnumerator(cts.Token);

        var move = e.MoveNextAsync().AsTask();
        await Task.Delay(50);
        clock.Step = TimeSpan.FromHours(-1); // NTP steps the wall clock back while the source waits for a first frame
        var advanced = TimeSpan.Zero;
        while (!move.IsCompleted && advanced < TimeSpan.FromSeconds(11))
        {
            fake.Advance(TimeSpan.FromMilliseconds(100));
            advanced += TimeSpan.FromMilliseconds(100);
            await Task.WhenAny(move, Task.Delay(5));
        }

        // One poll period (10 s) of monotonic time later the poll reports comm_failure, as the datasheet's silent sensor
        // should; with a wall-clock deadline it would wait an hour more.
        Assert.True(move.IsCompleted, $"no reading after {advanced} of monotonic time");
        Assert.True(await move);
        Assert.All(e.Current, r => Assert.Equal(Quality.CommFailure, r.Quality));
        Assert.All(e.Current, r => Assert.Equal(T0 + advanced - TimeSpan.FromHours(1), r.Timestamp, TimeSpan.FromSeconds(1)));
        await cts.CancelAsync();
    }
}
