using IocEdge.Protocols.Modbus;

namespace IocEdge.Edge.Sources;

/// <summary>
/// Stands before a Modbus serial master (RTU/ASCII on an RS-485 adapter or the Pi's UART) and diagnoses a port that
/// cannot be opened before the master tries: a path that does not exist fails the request at once with a
/// <see cref="ModbusConnectionException"/> naming the path and the fix (the runtime would report it as "Access to the
/// port is denied", with a stack trace on every attempt), and an access failure of the master is re-worded with its fix
/// (the dialout group). The poller turns either into comm_failure for the points asked; the cause is logged once per
/// change of state through <see cref="DeviceHealth"/>.
/// </summary>
internal sealed class SerialLinkCheck(IModbusMaster inner, string path, DeviceHealth health) : IModbusMaster
{
    /// <summary>What a technician does when the port is not there (Raspberry Pi config.txt, Linux device naming).</summary>
    internal static string Missing(string path) =>
        $"no such device {path}: plug in the RS-485 adapter or enable the UART (enable_uart=1 in the Pi's config.txt), " +
        "or fix the path (a USB adapter is /dev/ttyUSB0; prefer its /dev/serial/by-id/ name)";

    private async ValueTask<T> Call<T>(Func<ValueTask<T>> call)
    {
        if (!File.Exists(path))
        {
            var reason = Missing(path);
            health.Failed(reason);
            throw new ModbusConnectionException(reason);
        }

        try
        {
            var result = await call().ConfigureAwait(false);
            health.Recovered();
            return result;
        }
        catch (ModbusConnectionException ex) when (ex.InnerException is UnauthorizedAccessException)
        {
            var reason = $"{path}: access denied: add the gateway's user to the dialout group, and make sure no other " +
                         "program holds the port (the serial console: remove console=serial0,115200 from cmdline.txt)";
            health.Failed(reason);
            throw new ModbusConnectionException(reason, ex);
        }
        catch (Exception ex) when (ex is ModbusDeviceException or ModbusTimeoutException or ModbusProtocolException)
        {
            health.Recovered(); // the port is open; the slave's answer (or silence) is the poller's business
            throw;
        }
    }

    private async ValueTask Call(Func<ValueTask> call) => await Call(async () =>
    {
        await call().ConfigureAwait(false);
        return true;
    }).ConfigureAwait(false);

    public ValueTask<bool[]> ReadCoilsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadCoilsAsync(unitId, address, count, cancellationToken));

    public ValueTask<bool[]> ReadDiscreteInputsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadDiscreteInputsAsync(unitId, address, count, cancellationToken));

    public ValueTask<ushort[]> ReadHoldingRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadHoldingRegistersAsync(unitId, address, count, cancellationToken));

    public ValueTask<ushort[]> ReadInputRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadInputRegistersAsync(unitId, address, count, cancellationToken));

    public ValueTask WriteSingleCoilAsync(byte unitId, ushort address, bool value, CancellationToken cancellationToken = default) =>
        Call(() => inner.WriteSingleCoilAsync(unitId, address, value, cancellationToken));

    public ValueTask WriteSingleRegisterAsync(byte unitId, ushort address, ushort value, CancellationToken cancellationToken = default) =>
        Call(() => inner.WriteSingleRegisterAsync(unitId, address, value, cancellationToken));

    public ValueTask WriteMultipleCoilsAsync(byte unitId, ushort address, ReadOnlyMemory<bool> values, CancellationToken cancellationToken = default) =>
        Call(() => inner.WriteMultipleCoilsAsync(unitId, address, values, cancellationToken));

    public ValueTask WriteMultipleRegistersAsync(byte unitId, ushort address, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        Call(() => inner.WriteMultipleRegistersAsync(unitId, address, values, cancellationToken));

    public ValueTask MaskWriteRegisterAsync(byte unitId, ushort address, ushort andMask, ushort orMask, CancellationToken cancellationToken = default) =>
        Call(() => inner.MaskWriteRegisterAsync(unitId, address, andMask, orMask, cancellationToken));

    public ValueTask<ushort[]> ReadWriteMultipleRegistersAsync(byte unitId, ushort readAddress, ushort readCount,
        ushort writeAddress, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadWriteMultipleRegistersAsync(unitId, readAddress, readCount, writeAddress, values, cancellationToken));

    public ValueTask<IReadOnlyDictionary<byte, string>> ReadDeviceIdentificationAsync(byte unitId, byte readDeviceIdCode = 1,
        byte objectId = 0, CancellationToken cancellationToken = default) =>
        Call(() => inner.ReadDeviceIdentificationAsync(unitId, readDeviceIdCode, objectId, cancellationToken));

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
