using System.Globalization;
using System.Text;

namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>A fault a simulated DS18B20 can show in its <c>w1_slave</c> file.</summary>
public enum W1Fault
{
    None,
    /// <summary>Noise on the line: one scratchpad byte flipped, the kernel prints "crc=.. NO".</summary>
    CrcError,
    /// <summary>The conversion did not run: the temperature register holds its +85 °C reset value (0x0550).</summary>
    PowerOnReset,
    /// <summary>The data line is held low: every byte reads 0x00 (and the CRC of zeros is 0, so "YES").</summary>
    ShortedLow,
    /// <summary>
    /// No sensor answers but the kernel still lists it (DQ open, VDD or GND broken): the bus idles high through the
    /// pull-up, every byte reads 0xFF and the CRC of eight 0xFF bytes (0xC9) does not match, so "crc=c9 NO".
    /// </summary>
    Disconnected,
}

/// <summary>
/// A DS18B20 seen through the Linux w1 sysfs: it keeps <c>{w1Root}/{deviceId}/w1_slave</c> in the exact format of
/// the kernel's w1_therm driver ("xx xx .. : crc=xx YES|NO" then "xx xx .. t=millidegrees"), with the scratchpad
/// of the DS18B20 datasheet (temperature LSB/MSB, TH, TL, config with R1R0, reserved bytes, Dallas CRC-8).
/// The file is rewritten atomically (temp + rename) from the temperature source at every <see cref="Write"/> and,
/// when a refresh period is given, on a timer. <see cref="Unplug"/> removes the folder as the kernel does.
/// </summary>
public sealed class SimulatedDs18b20 : IDisposable
{
    private readonly string _folder;
    private readonly Func<double> _temperature;
    private readonly ITimer? _timer;
    private readonly Lock _gate = new();
    private int _resolutionBits = 12;
    private W1Fault _fault;
    private bool _unplugged;

    /// <param name="w1Root">Stands for /sys/bus/w1/devices.</param>
    /// <param name="deviceId">Folder name, family 28: e.g. <c>28-00000a1b2c3d</c>.</param>
    /// <param name="timeProvider">Drives the refresh timer.</param>
    /// <param name="temperature">°C at the moment the file is written.</param>
    /// <param name="refreshPeriod">Rewrite the file this often (null: only on <see cref="Write"/>).</param>
    public SimulatedDs18b20(string w1Root, string deviceId, TimeProvider timeProvider, Func<double> temperature,
        TimeSpan? refreshPeriod = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(w1Root);
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(temperature);
        if (!deviceId.StartsWith("28-", StringComparison.Ordinal))
        {
            throw new ArgumentException("A DS18B20 id starts with its family code 28-.", nameof(deviceId));
        }

        _folder = Path.Combine(w1Root, deviceId);
        _temperature = temperature;
        Write();
        if (refreshPeriod is { } period)
        {
            _timer = timeProvider.CreateTimer(_ => Write(), null, period, period);
        }
    }

    /// <summary>The device folder (what the driver is given).</summary>
    public string DevicePath => _folder;

    /// <summary>The current fault; takes effect at the next write.</summary>
    public W1Fault Fault
    {
        get
        {
            lock (_gate)
            {
                return _fault;
            }
        }

        set
        {
            lock (_gate)
            {
                _fault = value;
            }
        }
    }

    /// <summary>9 to 12 bits (config register R1R0); takes effect at the next write.</summary>
    public int ResolutionBits
    {
        get
        {
            lock (_gate)
            {
                return _resolutionBits;
            }
        }

        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 9);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 12);
            lock (_gate)
            {
                _resolutionBits = value;
            }
        }
    }

    /// <summary>
    /// The temperature register for <paramref name="celsius"/> (datasheet Table 1, e.g. +25.0625 °C = 0x0191,
    /// -10.125 °C = 0xFF5E): two's complement, 1/16 °C, with the bits below the resolution cleared.
    /// </summary>
    public static short RawTemperature(double celsius, int resolutionBits = 12)
    {
        // The register holds -128..+127.9375 °C (two's complement, sign-extended, datasheet Figure 4); a part driven
        // beyond its -55..+125 °C measuring range still reports a number there, so the simulation does too.
        var clamped = Math.Clamp(celsius, -128, 127.9375);
        var undefined = 12 - resolutionBits;
        var raw = (int)Math.Round(clamped * 16, MidpointRounding.AwayFromZero);
        return (short)(raw >> undefined << undefined);
    }

    /// <summary>Dallas/Maxim CRC-8 (X^8 + X^5 + X^4 + 1).</summary>
    public static byte Crc8(ReadOnlySpan<byte> data)
    {
        byte crc = 0;
        foreach (var b in data)
        {
            var value = b;
            for (var i = 0; i < 8; i++)
            {
                var mix = (crc ^ value) & 0x01;
                crc >>= 1;
                if (mix != 0)
                {
                    crc ^= 0x8C;
                }

                value >>= 1;
            }
        }

        return crc;
    }

    /// <summary>The 9-byte scratchpad for a raw temperature (datasheet "Memory" map), CRC in byte 8.</summary>
    public static byte[] Scratchpad(short raw, int resolutionBits = 12)
    {
        var pad = new byte[9];
        pad[0] = (byte)raw;
        pad[1] = (byte)(raw >> 8);
        pad[2] = 0x4B; // TH (EEPROM default seen on parts)
        pad[3] = 0x46; // TL
        pad[4] = (byte)(0x1F | ((resolutionBits - 9) << 5)); // config: 0x1F, 0x3F, 0x5F, 0x7F
        pad[5] = 0xFF;
        pad[6] = (byte)(0x10 - (raw & 0x0F));
        pad[7] = 0x10;
        pad[8] = Crc8(pad.AsSpan(0, 8));
        return pad;
    }

    /// <summary>The file text as w1_therm prints it; the verdict compares the computed CRC with byte 8.</summary>
    public static string Format(ReadOnlySpan<byte> scratchpad)
    {
        var computed = Crc8(scratchpad[..8]);
        var bytes = new StringBuilder();
        foreach (var b in scratchpad)
        {
            bytes.Append(b.ToString("x2", CultureInfo.InvariantCulture)).Append(' ');
        }

        var raw = (short)(scratchpad[0] | (scratchpad[1] << 8));
        var millidegrees = raw * 1000 / 16; // the kernel's integer conversion (truncates toward zero)
        return string.Create(CultureInfo.InvariantCulture,
            $"{bytes}: crc={computed:x2} {(computed == scratchpad[8] ? "YES" : "NO")}\n{bytes}t={millidegrees}\n");
    }

    /// <summary>Writes the file now from the temperature source and the current fault.</summary>
    public void Write()
    {
        string text;
        lock (_gate)
        {
            byte[] pad;
            switch (_fault)
            {
                case W1Fault.ShortedLow:
                    pad = new byte[9];
                    break;
                case W1Fault.Disconnected:
                    pad = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
                    break;
                case W1Fault.PowerOnReset:
                    pad = Scratchpad(0x0550, _resolutionBits);
                    break;
                default:
                    pad = Scratchpad(RawTemperature(_temperature(), _resolutionBits), _resolutionBits);
                    if (_fault == W1Fault.CrcError)
                    {
                        pad[1] ^= 0x04; // a bit flipped on the wire
                    }

                    break;
            }

            text = Format(pad);
            if (_unplugged)
            {
                return;
            }
        }

        Directory.CreateDirectory(_folder);
        var temp = Path.Combine(_folder, ".w1_slave.tmp");
        File.WriteAllText(temp, text);
        File.Move(temp, Path.Combine(_folder, "w1_slave"), overwrite: true);
    }

    /// <summary>Removes the device folder, as the kernel does when the sensor stops answering.</summary>
    public void Unplug()
    {
        lock (_gate)
        {
            _unplugged = true;
        }

        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    /// <summary>Plugs the sensor back in: the folder reappears at once.</summary>
    public void Plug()
    {
        lock (_gate)
        {
            _unplugged = false;
        }

        Write();
    }

    public void Dispose() => _timer?.Dispose();
}
