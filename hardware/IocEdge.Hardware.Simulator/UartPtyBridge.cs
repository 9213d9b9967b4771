using System.IO.Ports;
using IocEdge.Hardware.SimulatedDevices;
using Microsoft.Extensions.Logging;

namespace IocEdge.Hardware.Simulator;

/// <summary>A simulated UART sensor the simulator puts on a serial device or pty.</summary>
public enum SimulatedUartDeviceKind
{
    /// <summary>Plantower PMS5003 particulate sensor (32-byte active-mode frames, 9600 8N1).</summary>
    Pms5003,

    /// <summary>Nova Fitness SDS011 particulate sensor (10-byte frames, 9600 8N1).</summary>
    Sds011,
}

/// <summary>A UART sensor served on <paramref name="PortPath"/> (one end of a socat pty pair; the gateway opens the other).</summary>
public sealed record SimulatedUartDevice(SimulatedUartDeviceKind Kind, string PortPath);

/// <summary>
/// Joins one of the simulated UART sensors of IocEdge.Hardware.SimulatedDevices to a real serial device or pty, so
/// that a driver in another process (the gateway) talks to it through <c>SerialPort</c> exactly as to the part: frames
/// the sensor transmits go out on the line, commands the driver writes reach the sensor.
/// </summary>
internal sealed class UartPtyBridge : IAsyncDisposable
{
    private readonly SerialPort _port;
    private readonly IDisposable _device;
    private readonly SimulatedUartStream _uart;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private Task _toLine = Task.CompletedTask;
    private Task _fromLine = Task.CompletedTask;

    private UartPtyBridge(SerialPort port, IDisposable device, SimulatedUartStream uart, ILogger logger)
    {
        _port = port;
        _device = device;
        _uart = uart;
        _logger = logger;
    }

    public static UartPtyBridge Start(SimulatedUartDevice spec, TimeProvider time, Func<ParticulateSample> source, ILogger logger)
    {
        // Both sensors talk 9600 8N1 (PMS5003 data manual; SDS011 control protocol V1.3). A pty ignores the rate.
        var port = new SerialPort(spec.PortPath, 9600, Parity.None, 8, StopBits.One) { Handshake = Handshake.None };
        port.Open();
        (IDisposable Device, SimulatedUartStream Uart) sensor = spec.Kind switch
        {
            SimulatedUartDeviceKind.Pms5003 => Make(new SimulatedPms5003(time, source)),
            SimulatedUartDeviceKind.Sds011 => Make(new SimulatedSds011(time, source)),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "Unknown UART device kind."),
        };
        var bridge = new UartPtyBridge(port, sensor.Device, sensor.Uart, logger);
        bridge._toLine = bridge.PumpToLineAsync();
        bridge._fromLine = bridge.PumpFromLineAsync();
        Log.UartDeviceServing(logger, spec.Kind, spec.PortPath);
        return bridge;

        static (IDisposable, SimulatedUartStream) Make(IDisposable device) => device switch
        {
            SimulatedPms5003 p => (p, p.Uart),
            SimulatedSds011 s => (s, s.Uart),
            _ => throw new InvalidOperationException(),
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _device.Dispose(); // ends the sensor's pending reads
        _port.Close(); // ends the line's pending reads
        try
        {
            await Task.WhenAll(_toLine, _fromLine).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }

        _port.Dispose();
        _stop.Dispose();
    }

    // Sensor → line: whatever the sensor transmits is written to the pty.
    private async Task PumpToLineAsync()
    {
        var buffer = new byte[256];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var n = await _uart.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                await _port.BaseStream.WriteAsync(buffer.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            if (!_stop.IsCancellationRequested)
            {
                Log.UartBridgeStopped(_logger, _port.PortName, ex);
            }
        }
    }

    // Line → sensor: commands the driver writes reach the sensor's command handler.
    private async Task PumpFromLineAsync()
    {
        var buffer = new byte[256];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var n = await _port.BaseStream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                await _uart.WriteAsync(buffer.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            if (!_stop.IsCancellationRequested)
            {
                Log.UartBridgeStopped(_logger, _port.PortName, ex);
            }
        }
    }
}
