using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Pms5003;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class Pms5003Tests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    [Fact]
    public void Frame_laid_out_as_in_the_data_manual_decodes_to_its_data_words()
    {
        // 0x42 0x4D, length 0x001C, data 1..13 big-endian, check = sum of bytes 0..29.
        byte[] frame =
        [
            0x42, 0x4D, 0x00, 0x1C,
            0x00, 0x05, 0x00, 0x0A, 0x00, 0x0F, // PM1, PM2.5, PM10 (CF=1)
            0x00, 0x04, 0x00, 0x09, 0x00, 0x0E, // PM1, PM2.5, PM10 (atmospheric)
            0x03, 0xE8, 0x01, 0x2C, 0x00, 0x64, 0x00, 0x0A, 0x00, 0x02, 0x00, 0x01, // particle counts
            0x00, 0x00, // reserved
            0x00, 0x00,
        ];
        var sum = frame.Take(30).Sum(b => b);
        frame[30] = (byte)(sum >> 8);
        frame[31] = (byte)sum;

        var status = Pms5003Frame.Decode(frame, out var decoded, out var consumed);

        Assert.Equal(FrameDecodeStatus.Frame, status);
        Assert.Equal(32, consumed);
        Assert.Equal(new Pms5003Frame(5, 10, 15, 4, 9, 14, 1000, 300, 100, 10, 2, 1), decoded);
        Assert.Equal(frame, decoded!.Encode());
    }

    [Fact]
    public void Host_command_matches_the_data_manual_lrc()
    {
        // Sleep: 42 4D E4 00 00, LRC = 0x42+0x4D+0xE4 = 0x0173.
        Assert.Equal(new byte[] { 0x42, 0x4D, 0xE4, 0x00, 0x00, 0x01, 0x73 }, Devices.Pms5003.Command(0xE4, 0x00));
    }

    [Fact]
    public async Task Active_mode_frames_give_pm1_pm25_pm10()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(12, 35, 58));
        using var driver = new Devices.Pms5003(sensor.Uart, time);

        var readings = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.Equal(
        [
            new SensorReading("pm1", 12, "ug/m3", SensorQuality.Good, null),
            new SensorReading("pm2_5", 35, "ug/m3", SensorQuality.Good, null),
            new SensorReading("pm10", 58, "ug/m3", SensorQuality.Good, null),
        ], readings);
    }

    [Fact]
    public async Task Garbage_and_bad_checksums_are_counted_and_dropped_and_the_next_frames_all_arrive()
    {
        var time = Clock.New();
        var n = 0;
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(n, ++n, n + 100));
        using var driver = new Devices.Pms5003(sensor.Uart, time);

        sensor.InjectGarbage([0x00, 0xFF, 0x42, 0x42, 0x13, 0x42, 0x4D, 0x7F, 0x00, 0x55]); // one impossible length
        sensor.CorruptNextFrames(2);
        sensor.EmitFrame(); // PM2.5 1, bad check
        sensor.EmitFrame(); // PM2.5 2, bad check
        sensor.EmitFrame(); // PM2.5 3
        sensor.InjectGarbage(new byte[17]);
        sensor.EmitFrame(); // PM2.5 4

        var first = await time.RunAsync(driver.ReadFrameAsync(), Step, Budget);
        var second = await time.RunAsync(driver.ReadFrameAsync(), Step, Budget);

        Assert.Equal(3, first.Pm25);
        Assert.Equal(4, second.Pm25);
        Assert.Equal(2, driver.Statistics.ChecksumErrors);
        Assert.Equal(1, driver.Statistics.MalformedFrames);
        Assert.Equal(2, driver.Statistics.Frames);
        // 10 noise + 2 x 32 bad frames + 17 noise bytes were dropped, not a byte of the good frames.
        Assert.Equal(10 + 64 + 17, driver.Statistics.BytesDiscarded);
    }

    [Fact]
    public void Random_noise_between_frames_never_loses_a_frame()
    {
        var random = new Random(4711);
        var stream = new List<byte>();
        var expected = new List<ushort>();
        for (var i = 0; i < 300; i++)
        {
            var noise = new byte[random.Next(0, 40)];
            random.NextBytes(noise);
            if (random.Next(4) == 0 && noise.Length > 2)
            {
                noise[random.Next(noise.Length - 1)] = 0x42; // false start bytes
            }

            stream.AddRange(noise);
            var pm25 = (ushort)random.Next(0, 1000);
            expected.Add(pm25);
            stream.AddRange(SimulatedPms5003.EncodeFrame(new ParticulateSample(pm25 / 2.0, pm25, pm25 * 2)));
        }

        var decoded = new List<ushort>();
        var buffer = stream.ToArray().AsSpan();
        while (buffer.Length > 0)
        {
            var status = Pms5003Frame.Decode(buffer, out var frame, out var consumed);
            if (status == FrameDecodeStatus.NeedMoreData)
            {
                break;
            }

            if (frame is not null)
            {
                decoded.Add(frame.Pm25);
            }

            buffer = buffer[consumed..];
        }

        Assert.Equal(expected, decoded);
    }

    [Fact]
    public async Task Frame_arriving_one_byte_at_a_time_is_reassembled()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => default, TimeSpan.FromHours(1));
        using var driver = new Devices.Pms5003(sensor.Uart, time);
        var read = driver.ReadFrameAsync();

        foreach (var b in SimulatedPms5003.EncodeFrame(new ParticulateSample(7, 8, 9)))
        {
            sensor.Uart.Transmit([b]);
            await Task.Yield();
        }

        var frame = await time.RunAsync(read, Step, Budget);
        Assert.Equal((ushort)8, frame.Pm25);
    }

    [Fact]
    public async Task Sleeping_sensor_times_out_as_comm_failure_and_reads_again_after_wake_up()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(1, 2, 3));
        using var driver = new Devices.Pms5003(sensor.Uart, time);

        await driver.SetSleepAsync(true);
        Assert.True(sensor.IsAsleep);
        var asleep = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.All(asleep, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
        Assert.Contains("no valid frame within 5 s", asleep[0].Error, StringComparison.Ordinal);

        await driver.SetSleepAsync(false);
        var awake = await time.RunAsync(driver.ReadAsync(), Step, Budget);
        Assert.All(awake, r => Assert.True(r.Ok, r.Error));
    }

    [Fact]
    public async Task Passive_mode_sends_a_frame_only_when_asked()
    {
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(4, 5, 6));
        using var driver = new Devices.Pms5003(sensor.Uart, time);
        await driver.SetPassiveModeAsync(true);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, sensor.FramesSent);

        await driver.RequestFrameAsync();
        var frame = await time.RunAsync(driver.ReadFrameAsync(), Step, Budget);

        Assert.Equal((ushort)5, frame.Pm25);
        Assert.Equal(1, sensor.FramesSent);
        Assert.Equal(0, sensor.CommandsRejected);
    }

    [Fact]
    public async Task Background_reader_keeps_the_newest_frame_and_reports_silence_after_max_age()
    {
        var time = Clock.New();
        var pm = 10.0;
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(pm, pm, pm));
        using var driver = new Devices.Pms5003(sensor.Uart, time);
        using var stop = new CancellationTokenSource();
        Assert.Equal(SensorQuality.CommFailure, driver.ReadLatest(TimeSpan.FromSeconds(10))[1].Quality);
        var run = driver.RunAsync(stop.Token);

        for (var i = 0; i < 30; i++)
        {
            pm = 10 + i;
            time.Advance(TimeSpan.FromSeconds(1));
            await Eventually.True(() => sensor.Uart.Pending == 0, TimeSpan.FromSeconds(5), "the reader to take the frame");
        }

        await Eventually.True(() => driver.ReadLatest(TimeSpan.FromSeconds(10))[1].Value == 39, TimeSpan.FromSeconds(5),
            "the newest frame (PM2.5 39) to be kept");
        Assert.Equal(30, driver.Statistics.Frames);

        await driver.SetSleepAsync(true);
        time.Step(TimeSpan.FromSeconds(11), TimeSpan.FromSeconds(1));
        var stale = driver.ReadLatest(TimeSpan.FromSeconds(10));
        Assert.All(stale, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
        Assert.Contains("no valid frame in the last 10 s", stale[0].Error, StringComparison.Ordinal);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Closed_port_is_a_comm_failure()
    {
        var time = Clock.New();
        var sensor = new SimulatedPms5003(time, () => default);
        using var driver = new Devices.Pms5003(sensor.Uart, time);
        sensor.Dispose();

        var readings = await driver.ReadAsync();

        Assert.Contains("serial port closed", readings[0].Error, StringComparison.Ordinal);
    }
}
