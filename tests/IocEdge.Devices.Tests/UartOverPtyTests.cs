using System.IO.Ports;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests;

/// <summary>
/// The particulate drivers on a real serial port: System.IO.Ports.SerialPort on one end of a socat pty pair, the
/// simulated sensor bridged onto the other end. Proves the drivers' commands, timeouts and resynchronisation work on
/// SerialPort.BaseStream, not only on the in-memory line. The sensors run in query/passive mode, so no timer of ours
/// is involved: every wait is on socat.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "devices")]
public sealed class UartOverPtyTests
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Sds011_in_query_mode_answers_through_a_pty_and_noise_on_the_line_is_counted()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        using var host = Open(pty.PathA);
        using var deviceSide = Open(pty.PathB);
        var time = Clock.New();
        var pm = 12.3;
        using var sensor = new SimulatedSds011(time, () => new ParticulateSample(0, pm, pm * 2));
        using var stop = new CancellationTokenSource();
        var bridge = UartBridge.RunAsync(sensor.Uart, deviceSide.BaseStream, stop.Token);
        using var driver = new Devices.Sds011(host.BaseStream, time);

        await driver.SetQueryModeAsync(true).WaitAsync(PeerTimeout);
        var first = await driver.QueryAsync().WaitAsync(PeerTimeout);
        sensor.InjectGarbage([0xAA, 0x17, 0x00, 0xAB, 0x55]);
        sensor.CorruptNextFrames(1);
        sensor.EmitMeasurement();
        pm = 45.6;
        var second = await driver.QueryAsync().WaitAsync(PeerTimeout);

        Assert.True(sensor.IsQueryMode);
        Assert.Equal(12.3, first.Pm25);
        Assert.Equal(45.6, second.Pm25);
        Assert.Equal(91.2, second.Pm10);
        Assert.Equal(1, driver.Statistics.ChecksumErrors);
        Assert.Equal(0, sensor.CommandsRejected);
        await stop.CancelAsync();
        await bridge.WaitAsync(PeerTimeout);
    }

    [Fact]
    public async Task Pms5003_in_passive_mode_sends_a_frame_per_request_through_a_pty()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        using var host = Open(pty.PathA);
        using var deviceSide = Open(pty.PathB);
        var time = Clock.New();
        using var sensor = new SimulatedPms5003(time, () => new ParticulateSample(8, 15, 27));
        using var stop = new CancellationTokenSource();
        var bridge = UartBridge.RunAsync(sensor.Uart, deviceSide.BaseStream, stop.Token);
        using var driver = new Devices.Pms5003(host.BaseStream, time);

        await driver.SetPassiveModeAsync(true);
        await Eventually.True(() => sensor.IsPassive, PeerTimeout, "the PMS5003 to switch to passive mode");
        await driver.RequestFrameAsync();
        var readings = await driver.ReadAsync().WaitAsync(PeerTimeout);

        Assert.Equal([8.0, 15.0, 27.0], readings.Select(r => r.Value));
        Assert.All(readings, r => Assert.True(r.Ok, r.Error));
        await stop.CancelAsync();
        await bridge.WaitAsync(PeerTimeout);
    }

    [Fact]
    public async Task Silent_sensor_on_a_pty_times_out_on_the_fake_clock_as_a_comm_failure()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        using var host = Open(pty.PathA);
        var time = Clock.New();
        using var driver = new Devices.Sds011(host.BaseStream, time);

        var read = driver.ReadAsync(); // arms its 3 s deadline on the fake clock before it first awaits the port
        time.Advance(TimeSpan.FromSeconds(3));
        var readings = await read.WaitAsync(PeerTimeout);

        Assert.All(readings, r => Assert.Equal(SensorQuality.CommFailure, r.Quality));
        Assert.Contains("no valid frame within 3 s", readings[0].Error, StringComparison.Ordinal);
    }

    private static SerialPort Open(string path)
    {
        var port = new SerialPort(path, 9600, Parity.None, 8, StopBits.One);
        port.Open();
        return port;
    }
}
