using System.IO.Ports;
using IocEdge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

/// <summary>
/// The simulator puts engineer B's simulated PMS5003 / SDS011 on one end of a socat pty pair; this test reads the
/// other end with System.IO.Ports as the gateway would, and decodes the frames by their datasheets.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "devices")]
public sealed class UartDevicesOnAPtyTests
{
    private static async Task<byte[]> ReadFrameAsync(SerialPort port, byte first, byte second, int length)
    {
        var buffer = new List<byte>();
        await Eventually.True(() =>
        {
            while (port.BytesToRead > 0)
            {
                buffer.Add((byte)port.ReadByte());
            }

            // Resynchronise on the start bytes, as a driver does.
            while (buffer.Count >= 2 && (buffer[0] != first || buffer[1] != second))
            {
                buffer.RemoveAt(0);
            }

            return buffer.Count >= length;
        }, TimeSpan.FromSeconds(10), "a sensor frame on the pty");
        return buffer.Take(length).ToArray();
    }

    private static SerialPort Open(string path)
    {
        var port = new SerialPort(path, 9600, Parity.None, 8, StopBits.One) { ReadTimeout = 2000 };
        port.Open();
        return port;
    }

    [Fact]
    public async Task A_simulated_PMS5003_sends_its_frames_and_obeys_commands_through_the_pty()
    {
        await using var line = await SocatPtyPair.StartAsync();
        var time = new FakeTimeProvider(TestProfiles.Afternoon);
        await using var sim = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            UartDevices = { new SimulatedUartDevice(SimulatedUartDeviceKind.Pms5003, line.PathA) },
        }, time);
        using var port = Open(line.PathB);

        time.Advance(TimeSpan.FromSeconds(1)); // active mode: one frame a period
        var frame = await ReadFrameAsync(port, 0x42, 0x4D, 32);

        // PMS5003 data manual, "Transport Protocol - Active Mode": length 28, data 2 = PM2.5 (CF=1), check = sum of bytes 0-29.
        Assert.Equal(28, (frame[2] << 8) | frame[3]);
        Assert.Equal(frame.Take(30).Sum(b => b), (frame[30] << 8) | frame[31]);
        var expected = sim.CurrentParticulateSample();
        Assert.Equal(Math.Round(expected.Pm25), (frame[6] << 8) | frame[7]);
        Assert.Equal(Math.Round(expected.Pm10), (frame[8] << 8) | frame[9]);
        Assert.InRange(expected.Pm25, 20, 80);

        // Host commands travel the other way: passive mode (0xE1 00) then a passive read (0xE2), LRC = sum of five bytes.
        byte[] passiveThenRead = [0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70, 0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71];
        port.Write(passiveThenRead, 0, passiveThenRead.Length);
        var answer = await ReadFrameAsync(port, 0x42, 0x4D, 32); // sent without any time passing: the read command did it
        Assert.Equal(frame[6..8], answer[6..8]);
    }

    [Fact]
    public async Task A_simulated_SDS011_sends_its_frames_through_the_pty()
    {
        await using var line = await SocatPtyPair.StartAsync();
        var time = new FakeTimeProvider(TestProfiles.Afternoon.AddHours(3));
        await using var sim = await StationSimulator.StartAsync(new StationSimulatorOptions
        {
            UartDevices = { new SimulatedUartDevice(SimulatedUartDeviceKind.Sds011, line.PathA) },
            Seed = 5,
        }, time);
        using var port = Open(line.PathB);

        time.Advance(TimeSpan.FromSeconds(1));
        var frame = await ReadFrameAsync(port, 0xAA, 0xC0, 10);

        // SDS011 control protocol V1.3: AA C0 PM2.5 (low, high, ×10) PM10 (low, high, ×10) ID ID checksum AB.
        Assert.Equal(0xAB, frame[9]);
        Assert.Equal(frame.Skip(2).Take(6).Sum(b => b) & 0xFF, frame[8]);
        var expected = sim.CurrentParticulateSample();
        Assert.Equal(expected.Pm25, (frame[2] | (frame[3] << 8)) / 10.0, 1);
        Assert.Equal(expected.Pm10, (frame[4] | (frame[5] << 8)) / 10.0, 1);
    }
}
