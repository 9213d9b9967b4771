using System.Globalization;

namespace IocEdge.Edge.Configuration;

public enum SensorDriver
{
    /// <summary>Bosch BME280 on I2C: temperature, pressure, humidity.</summary>
    Bme280,
    /// <summary>Maxim DS18B20 on 1-Wire through the Linux w1_therm driver: temperature.</summary>
    Ds18b20,
    /// <summary>Plantower PMS5003 on a UART: PM1, PM2.5, PM10.</summary>
    Pms5003,
    /// <summary>Nova SDS011 on a UART: PM2.5, PM10.</summary>
    Sds011,
    /// <summary>A 4-20 mA instrument through a shunt on a TI ADS1115 input (I2C).</summary>
    CurrentLoop,
}

/// <summary>A sensor on one of the gateway's own buses (section Gateway:Sensors[]); channels are "{Id}/{quantity}".</summary>
public sealed class SensorOptions
{
    public string Id { get; set; } = string.Empty;

    public SensorDriver Driver { get; set; }

    public TimeSpan PollPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>I2C bus number (1 is the header's SDA1/SCL1 on GPIO2/3).</summary>
    public int I2cBus { get; set; } = 1;

    /// <summary>I2C address, "0x76" or "118": BME280 0x76/0x77, ADS1115 0x48-0x4B.</summary>
    public string? Address { get; set; }

    /// <summary>UART sensors: the serial device ("/dev/ttyAMA0", "/dev/serial0", "/dev/ttyUSB0").</summary>
    public string? SerialPort { get; set; }

    /// <summary>DS18B20: the w1 device id ("28-0316a2799aff").</summary>
    public string? DeviceId { get; set; }

    public string W1Root { get; set; } = "/sys/bus/w1/devices";

    /// <summary>CurrentLoop: the measured quantity ("water_level") and its unit ("m").</summary>
    public string? Quantity { get; set; }

    public string? Unit { get; set; }

    public double? ValueAt4mA { get; set; }

    public double? ValueAt20mA { get; set; }

    /// <summary>CurrentLoop: the ADS1115 input, 0-3 (AIN0-AIN3, single-ended).</summary>
    public int Input { get; set; }

    public double ShuntOhms { get; set; } = 250;

    /// <summary>The parsed <see cref="Address"/>, or null when it is missing or not a number.</summary>
    public int? ParsedAddress => Address is null
        ? null
        : Address.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.TryParse(Address.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var h) ? h : null
            : int.TryParse(Address, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : null;
}
