using System.Device.I2c;

namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>
/// Base of the simulated I2C chips: an <see cref="I2cDevice"/> a driver can be handed instead of
/// <c>I2cDevice.Create(new I2cConnectionSettings(1, 0x76))</c>. A chip can be made to stop answering
/// (<see cref="Unresponsive"/>), which fails every transfer with an <see cref="IOException"/> the way the Linux
/// i2c-dev driver reports a missing acknowledge (errno 121, "Remote I/O error").
/// </summary>
public abstract class SimulatedI2cDevice : I2cDevice
{
    private readonly I2cConnectionSettings _settings;
    private long _transfers;

    protected SimulatedI2cDevice(int busId, int address)
    {
        if (address is < 0x03 or > 0x77)
        {
            throw new ArgumentOutOfRangeException(nameof(address), address, "7-bit I2C addresses are 0x03-0x77.");
        }

        _settings = new I2cConnectionSettings(busId, address);
    }

    public override I2cConnectionSettings ConnectionSettings => _settings;

    /// <summary>When true the chip does not acknowledge its address (unplugged, wrong address, dead).</summary>
    public bool Unresponsive { get; set; }

    /// <summary>Completed transfers (a read, a write or a write-read counts once).</summary>
    public long Transfers => Interlocked.Read(ref _transfers);

    public override void Read(Span<byte> buffer)
    {
        Acknowledge();
        lock (SyncRoot)
        {
            OnRead(buffer);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Acknowledge();
        lock (SyncRoot)
        {
            OnWrite(buffer);
        }
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Acknowledge();
        lock (SyncRoot)
        {
            // A repeated start: the register pointer set by the write part is used by the read part.
            OnWrite(writeBuffer);
            OnRead(readBuffer);
        }
    }

    /// <summary>Held while a transfer runs; subclasses take it when they change their state from outside.</summary>
    protected Lock SyncRoot { get; } = new();

    /// <summary>The master wrote these bytes (first byte is normally a register pointer).</summary>
    protected abstract void OnWrite(ReadOnlySpan<byte> data);

    /// <summary>The master reads this many bytes from the current pointer.</summary>
    protected abstract void OnRead(Span<byte> data);

    private void Acknowledge()
    {
        if (Unresponsive)
        {
            throw new IOException(
                $"Error 121 performing I2C data transfer: no acknowledge from address 0x{_settings.DeviceAddress:X2} on bus {_settings.BusId}.");
        }

        Interlocked.Increment(ref _transfers);
    }
}
