using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.Sds011;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class Sds011Tests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    [Fact]
    public void Datasheet_example_frame_decodes_to_123_6_and_261_8()
    {
        // SDS011 control protocol: AA C0 D4 04 3A 0A A1 60 1D AB = PM2.5 123.6, PM10 261.8, id A160.
        byte[] frame = [0xAA, 0xC0, 0xD4, 0x04, 0x3A, 0x0A, 0xA1, 0x60, 0x1D, 0xAB];

        var status = Sds011Frame.Decode(frame, out var decoded, out var consumed);

        Assert.Equal(FrameDecodeStatus.Frame, status);
        Assert.Equal(10, consumed);
        Assert.Equal(123.6, decoded!.Pm25);
        Assert.Equal(261.8, decoded.Pm10);
        Assert.Equal(0xA160, decoded.DeviceId);
        Assert.Equal(frame, SimulatedSds011.EncodeMeasurement(new ParticulateSample(0, 123.6, 261.8), 0xA160));
    }

    [Fact]
    public void Commands_match_the_protocol_examples()
    {
        // Sleep: AA B4 06 01 00 00..00 FF FF 05 AB; query data: AA B4 04 00..00 FF FF 02 AB.
        Assert.Equal(
            new byte[] { 0xAA, 0xB4, 0x06, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x05, 0xAB },
            Devices.Sds011.Command(6, 1, 0));
        Assert.Equal(
            new byte[] { 0xAA, 0xB4, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x02, 0xAB },
            Devices.Sds011.Command(4));
    }

    [Fact]
    public async Task Active_mode_measurement_gives_pm25_and_pm10_in_tenths()
    {
        var time = Clock.New();
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 42.3, 77.9));
        using var driver = new Devices.Sds011(sensor.Uart, time);

        var readings = await time.RunAsync(driver.ReadAsync(), Step, Budget);

        Assert.Equal(
        [
            new SensorReading("pm2_5", 42.3, "ug/m3", SensorQuality.Good, null),
            new SensorReading("pm10", 77.9, "ug/m3", SensorQuality.Good, null),
        ], readings);
    }

    [Fact]
    public async Task Query_mode_answers_only_queries()
    {
        var time = Clock.New();
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 10.5, 20.5));
        using var driver = new Devices.Sds011(sensor.Uart, time);

        await time.RunAsync(driver.SetQueryModeAsync(true), Step, Budget);
        Assert.True(sensor.IsQueryMode);
        var sentBefore = sensor.FramesSent;
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(sentBefore, sensor.FramesSent);

        var readings = await time.RunAsync(driver.ReadAsync(query: true), Step, Budget);

        Assert.Equal(10.5, readings[0].Value);
        Assert.Equal(20.5, readings[1].Value);
    }

    [Fact]
    public async Task Sleep_stops_measurements_and_work_restarts_them()
    {
        var time = Clock.New();
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 5, 9));
        using var driver = new Devices.Sds011(sensor.Uart, time);

        await time.RunAsync(driver.SetSleepAsync(true), Step, Budget);
        Assert.True(sensor.IsAsleep);
        var asleep = await time.RunAsync(driver.ReadAsync(), Step, Budget);
        Assert.All(asleep, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
        Assert.Contains("SDS011: no valid frame within 3 s", asleep[0].Error, StringComparison.Ordinal);

        await time.RunAsync(driver.SetSleepAsync(false), Step, Budget);
        var awake = await time.RunAsync(driver.ReadAsync(), Step, Budget);
        Assert.All(awake, r => Assert.True(r.Ok, r.Error));
    }

    [Fact]
    public async Task Working_period_is_set_and_acknowledged()
    {
        var time = Clock.New();
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 5, 9));
        using var driver = new Devices.Sds011(sensor.Uart, time);

        await time.RunAsync(driver.SetWorkingPeriodAsync(5), Step, Budget);

        Assert.Equal(5, sensor.WorkingPeriodMinutes);
        Assert.Equal(0, sensor.CommandsRejected);
    }

    [Fact]
    public async Task Noise_and_checksum_failures_are_counted_and_the_good_frame_after_them_is_read()
    {
        var time = Clock.New();
        var pm = 1.0;
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, pm, pm * 2));
        using var driver = new Devices.Sds011(sensor.Uart, time);

        sensor.InjectGarbage([0xAA, 0xAA, 0x01, 0xAB, 0xAA, 0xC0, 1, 2, 3, 4, 5, 6, 21, 0x00]); // one frame with a bad tail
        sensor.CorruptNextFrames(1);
        sensor.EmitMeasurement();
        pm = 33.3;
        sensor.EmitMeasurement();

        var m = await time.RunAsync(driver.ReadMeasurementAsync(), Step, Budget);

        Assert.Equal(33.3, m.Pm25);
        Assert.Equal(66.6, m.Pm10);
        Assert.Equal(1, driver.Statistics.ChecksumErrors);
        Assert.Equal(1, driver.Statistics.MalformedFrames);
        Assert.Equal(14 + 10, driver.Statistics.BytesDiscarded);
    }

    [Fact]
    public async Task Background_reader_ends_when_the_port_closes()
    {
        var time = Clock.New();
        var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, 7.5, 12.5));
        using var driver = new Devices.Sds011(sensor.Uart, time);
        var run = driver.RunAsync(CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.True(() => driver.ReadLatest(TimeSpan.FromSeconds(5))[0].Ok, TimeSpan.FromSeconds(5), "a measurement");
        Assert.Equal(7.5, driver.ReadLatest(TimeSpan.FromSeconds(5))[0].Value);
        sensor.Dispose();

        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
