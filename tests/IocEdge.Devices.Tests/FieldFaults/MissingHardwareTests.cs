using System.IO.Ports;
using IocEdge.Testing;

namespace IocEdge.Devices.Tests.FieldFaults;

/// <summary>
/// Issue 13 "Field faults", item 3: a missing device says which path is missing and what to do, as a CommFailure.
/// These run on any Linux machine: the paths below do not exist.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class MissingHardwareTests
{
    private const string NoUart = "/dev/ttyAMA97";

    [Fact]
    public void The_runtime_alone_hides_a_missing_uart_behind_access_denied()
    {
        using var port = new SerialPort(NoUart, 9600);
        Assert.Throws<UnauthorizedAccessException>(port.Open); // why DeviceBuses checks the path first
    }

    [Fact]
    public void Missing_uart_is_a_comm_failure_naming_the_path_and_enable_uart()
    {
        var ex = Assert.Throws<SensorException>(() => DeviceBuses.OpenSerial(NoUart));

        Assert.Equal(SensorQuality.CommFailure, ex.Quality);
        Assert.StartsWith($"no such device {NoUart}: enable the UART (enable_uart=1 in config.txt)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_i2c_bus_is_a_comm_failure_naming_the_path_and_dtparam()
    {
        var ex = Assert.Throws<SensorException>(() => DeviceBuses.OpenI2c(97, 0x76));

        Assert.Equal(SensorQuality.CommFailure, ex.Quality);
        Assert.Contains("no such device /dev/i2c-97", ex.Message, StringComparison.Ordinal);
        Assert.Contains("dtparam=i2c_arm=on", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_gpio_chip_is_a_comm_failure_naming_the_chip()
    {
        var ex = Assert.Throws<SensorException>(() => DeviceBuses.OpenGpio(97));

        Assert.Equal(SensorQuality.CommFailure, ex.Quality);
        Assert.Contains("no such device /dev/gpiochip97", ex.Message, StringComparison.Ordinal);
        Assert.Contains("gpiodetect", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_ds18b20_folder_names_the_w1_path_and_keeps_the_runtime_error()
    {
        var driver = new Devices.Ds18b20("/sys/bus/w1/devices/28-00000000dead");

        var ex = await Assert.ThrowsAsync<SensorException>(() => driver.ReadTemperatureAsync());

        Assert.Equal(SensorQuality.CommFailure, ex.Quality);
        Assert.Contains("/sys/bus/w1/devices/28-00000000dead/w1_slave", ex.Message, StringComparison.Ordinal);
        Assert.Contains("dtoverlay=w1-gpio", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
    }
}
