namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// Puts a simulated UART device on a real serial line (one end of a socat pty pair, or a USB-serial adapter): bytes
/// the device transmits are written to the line, bytes arriving from the line reach the device's command handler.
/// The station simulator uses it to serve a simulated PMS5003/SDS011 on a pty; tests use it to drive the drivers
/// through <c>System.IO.Ports.SerialPort</c>.
/// </summary>
public static class UartBridge
{
    /// <summary>Copies both ways until <paramref name="cancellationToken"/> fires or either side ends.</summary>
    /// <param name="device">The simulated device's line (<c>SimulatedPms5003.Uart</c>, <c>SimulatedSds011.Uart</c>).</param>
    /// <param name="line">The real serial stream the device is attached to (e.g. <c>SerialPort.BaseStream</c>).</param>
    /// <param name="cancellationToken">Stops the bridge.</param>
    public static async Task RunAsync(SimulatedUartStream device, Stream line, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(line);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var toLine = PumpAsync(device, line, stop);
        var fromLine = PumpAsync(line, device, stop);
        try
        {
            await Task.WhenAll(toLine, fromLine).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped on request.
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationTokenSource stop)
    {
        var buffer = new byte[256];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var read = await from.ReadAsync(buffer, stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), stop.Token).ConfigureAwait(false);
                await to.FlushAsync(stop.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            // One side ended: stop the other direction too.
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }
}
