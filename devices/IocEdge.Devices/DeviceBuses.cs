using System.Device.Gpio;
using System.Device.I2c;
using System.IO.Ports;

namespace IocEdge.Devices;

/// <summary>
/// Opens the gateway's real buses (on a Raspberry Pi) so that a missing or locked device says what is missing, in
/// words a technician can act on, instead of the runtime's generic error. Every failure is a
/// <see cref="SensorException"/> with <see cref="SensorQuality.CommFailure"/> naming the device path and the fix; the
/// runtime's exception, when there is one, is kept as <see cref="Exception.InnerException"/>.
/// </summary>
public static class DeviceBuses
{
    /// <summary>
    /// Opens a UART at <paramref name="baudRate"/> 8N1 and returns its stream (PMS5003 and SDS011: 9600).
    /// SerialPort.Open on Linux reports a path that does not exist as <see cref="UnauthorizedAccessException"/>
    /// ("Access to the port is denied"), so the path is checked first.
    /// </summary>
    /// <exception cref="SensorException">CommFailure: no such device, access denied, or the port cannot be opened.</exception>
    public static Stream OpenSerial(string path, int baudRate = 9600)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw SensorException.Comm(
                $"no such device {path}: enable the UART (enable_uart=1 in config.txt) or fix the path " +
                "(a USB adapter is /dev/ttyUSB0; prefer its /dev/serial/by-id/ name).");
        }

        var port = new SerialPort(path, baudRate, Parity.None, 8, StopBits.One);
        try
        {
            port.Open();
            return port.BaseStream;
        }
        catch (UnauthorizedAccessException ex)
        {
            port.Dispose();
            throw SensorException.Comm(
                $"{path}: access denied: add the gateway's user to the dialout group, and make sure no other program holds " +
                "the port (the serial console: remove console=serial0,115200 from cmdline.txt).", ex);
        }
        catch (IOException ex)
        {
            port.Dispose();
            throw SensorException.Comm($"{path}: cannot be opened ({ex.Message}).", ex);
        }
    }

    /// <summary>Opens the I2C device at <paramref name="address"/> on bus <paramref name="busId"/> (<c>/dev/i2c-{busId}</c>).</summary>
    /// <exception cref="SensorException">CommFailure: no such bus device, access denied, or the bus cannot be opened.</exception>
    public static I2cDevice OpenI2c(int busId, int address)
    {
        var path = $"/dev/i2c-{busId}";
        if (!File.Exists(path))
        {
            throw SensorException.Comm(
                $"no such device {path}: enable I2C (dtparam=i2c_arm=on in config.txt, then reboot) or fix the bus number " +
                "(the header's SDA/SCL, pins 3 and 5, are bus 1).");
        }

        try
        {
            return I2cDevice.Create(new I2cConnectionSettings(busId, address));
        }
        catch (UnauthorizedAccessException ex)
        {
            throw SensorException.Comm($"{path}: access denied: add the gateway's user to the i2c group.", ex);
        }
        catch (IOException ex)
        {
            throw SensorException.Comm($"{path}: cannot be opened ({ex.Message}).", ex);
        }
    }

    /// <summary>Opens GPIO chip <paramref name="chip"/> (<c>/dev/gpiochip{chip}</c>) through libgpiod.</summary>
    /// <exception cref="SensorException">CommFailure: no such chip, access denied, or libgpiod cannot open it.</exception>
    public static GpioController OpenGpio(int chip)
    {
        var path = $"/dev/gpiochip{chip}";
        if (!File.Exists(path))
        {
            throw SensorException.Comm(
                $"no such device {path}: fix the GPIO chip number (the header is gpiochip0 on a Pi 4 and on a Pi 5 with " +
                "kernel 6.6.45 or later, gpiochip4 on a Pi 5 with an older kernel; list them with gpiodetect).");
        }

        try
        {
            return new GpioController(new System.Device.Gpio.Drivers.LibGpiodDriver(chip));
        }
        catch (UnauthorizedAccessException ex)
        {
            throw SensorException.Comm($"{path}: access denied: add the gateway's user to the gpio group.", ex);
        }
        catch (Exception ex) when (ex is IOException or PlatformNotSupportedException or DllNotFoundException)
        {
            throw SensorException.Comm($"{path}: cannot be opened through libgpiod ({ex.Message}): install libgpiod2.", ex);
        }
    }
}
