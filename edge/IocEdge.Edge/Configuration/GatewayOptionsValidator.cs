using System.Globalization;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Mqtt;
using Microsoft.Extensions.Options;

namespace IocEdge.Edge.Configuration;

/// <summary>
/// Checks the whole configuration at start-up, before any bus is opened, and reports every problem at once, each with
/// the key (as it is written in the file, e.g. <c>Gateway:Modbus:Devices:1:UnitId</c>) and the fix.
/// </summary>
/// <param name="profiles">The instrument profiles devices name.</param>
/// <param name="time">The time a TLS client certificate must be valid at (default <see cref="TimeProvider.System"/>).</param>
public sealed class GatewayOptionsValidator(ProfileSource profiles, TimeProvider? time = null) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        void Error(FormattableString message) => errors.Add(message.ToString(CultureInfo.InvariantCulture));

        if (!Identifiers.IsValidGatewayId(options.Id))
        {
            Error($"Gateway:Id '{options.Id}' is not a gateway id: use lower-case letters, digits and '-', such as gw-thuda-mot-07.");
        }

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            Error($"Gateway:DataDirectory is empty: give a folder on persistent storage such as /var/lib/iocedge-gateway (the package's, which its systemd unit may write).");
        }

        ValidateMqtt(options.Mqtt, Error);
        errors.AddRange(Forwarding.MqttTls.Problems(options.Mqtt, (time ?? TimeProvider.System).GetUtcNow()));
        ValidateModbus(options, Error);
        ValidateGpio(options, Error);
        ValidateSensors(options, Error);
        ValidateOutbox(options.Outbox, Error);
        errors.AddRange(Remote.RemoteConfigOptions.Problems(options.RemoteConfig));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateMqtt(GatewayMqttOptions m, Action<FormattableString> error)
    {
        if (string.IsNullOrWhiteSpace(m.Host))
        {
            error($"Gateway:Mqtt:Host is empty: give the aggregator's (or broker's) host name or address.");
        }

        if (m.Port is < 1 or > 65535)
        {
            error($"Gateway:Mqtt:Port is {m.Port}: use 1-65535 (1883 is MQTT's port).");
        }

        if (m.BatchSize is < 1 or > ReadingBatchJson.MaxReadingsPerBatch)
        {
            error($"Gateway:Mqtt:BatchSize is {m.BatchSize}: use 1-{ReadingBatchJson.MaxReadingsPerBatch} (500 suits most links).");
        }

        if (m.KeepAlive < TimeSpan.FromSeconds(1))
        {
            error($"Gateway:Mqtt:KeepAlive is {m.KeepAlive}: use at least 00:00:01 (00:00:30 is usual).");
        }

        if (m.Timeout <= TimeSpan.Zero)
        {
            error($"Gateway:Mqtt:Timeout is {m.Timeout}: use a positive time such as 00:00:10.");
        }

        if (m.ReconnectDelayMin <= TimeSpan.Zero || m.ReconnectDelayMax < m.ReconnectDelayMin)
        {
            error($"Gateway:Mqtt:ReconnectDelayMin/Max are {m.ReconnectDelayMin}/{m.ReconnectDelayMax}: use 0 < Min <= Max (00:00:01 and 00:01:00).");
        }

        if (m.BatchMaxBytes < 1024)
        {
            error($"Gateway:Mqtt:BatchMaxBytes is {m.BatchMaxBytes}: use at least 1024 (262144 suits most links).");
        }

        if (m.BatchMaxAge < TimeSpan.Zero)
        {
            error($"Gateway:Mqtt:BatchMaxAge is {m.BatchMaxAge}: use 00:00:00 (send at once) or a positive time such as 00:00:05.");
        }

        if (m.MaxInFlight is < 1 or > 65535)
        {
            error($"Gateway:Mqtt:MaxInFlight is {m.MaxInFlight}: use 1-65535 (32 is usual).");
        }

        if (m.BackfillReadingsPerSecond < 0 || !double.IsFinite(m.BackfillReadingsPerSecond))
        {
            error($"Gateway:Mqtt:BackfillReadingsPerSecond is {m.BackfillReadingsPerSecond}: use 0 (as fast as the link allows) or a positive rate.");
        }

        if (m.HealthPeriod < TimeSpan.FromSeconds(1))
        {
            error($"Gateway:Mqtt:HealthPeriod is {m.HealthPeriod}: use at least 00:00:01 (00:01:00 is usual).");
        }

        if (!Enum.IsDefined(m.Payload))
        {
            error($"Gateway:Mqtt:Payload is {m.Payload}: use Json or Compact.");
        }
    }

    private static void ValidateOutbox(OutboxOptions o, Action<FormattableString> error)
    {
        if (o.MaxBytes < 0)
        {
            error($"Gateway:Outbox:MaxBytes is {o.MaxBytes}: use 0 (no limit) or a size in bytes such as 1073741824 (1 GiB).");
        }

        if (o.MaxAge < TimeSpan.Zero)
        {
            error($"Gateway:Outbox:MaxAge is {o.MaxAge}: use 00:00:00 (no limit) or a positive time such as 30.00:00:00.");
        }

        if (o.MinFreeBytes < 0)
        {
            error($"Gateway:Outbox:MinFreeBytes is {o.MinFreeBytes}: use 0 (no floor) or a size in bytes such as 16777216 (16 MiB).");
        }

        if (!Enum.IsDefined(o.Eviction))
        {
            error($"Gateway:Outbox:Eviction is {o.Eviction}: use Oldest or Thin.");
        }

        if (o.RamBufferReadings < 0)
        {
            error($"Gateway:Outbox:RamBufferReadings is {o.RamBufferReadings}: use 0 or more (20000 is the default).");
        }

        if (o.WalMaxBytes < 65536)
        {
            error($"Gateway:Outbox:WalMaxBytes is {o.WalMaxBytes}: use at least 65536 (1048576 is the default).");
        }

        if (o.CheckpointInterval <= TimeSpan.Zero)
        {
            error($"Gateway:Outbox:CheckpointInterval is {o.CheckpointInterval}: use a positive time such as 00:01:00.");
        }
    }

    /// <summary>BCM GPIO 0 and 1 carry the HAT ID EEPROM (ID_SD/ID_SC) and must stay free (Raspberry Pi HAT specification).</summary>
    private static readonly int[] ReservedPins = [0, 1];

    private static void ValidateGpio(GatewayOptions options, Action<FormattableString> error)
    {
        var g = options.Gpio;
        if (g.IsEmpty && g.Outputs.Count == 0)
        {
            return;
        }

        if (!Identifiers.IsValidChannelId(g.Device) || g.Device.Contains('/', StringComparison.Ordinal))
        {
            error($"Gateway:Gpio:Device '{g.Device}' is not a device name: use lower-case letters, digits, '-', '_' such as pole7.");
        }

        if (options.Modbus.Devices.Any(d => d.Id == g.Device))
        {
            error($"Gateway:Gpio:Device '{g.Device}' is also a Modbus device id: give the GPIO channels their own prefix.");
        }

        if (g.Chip is < 0 or > 15)
        {
            error($"Gateway:Gpio:Chip is {g.Chip}: use the gpiochip number (0 on a Raspberry Pi 4).");
        }

        if (g.ReportPeriod < TimeSpan.FromSeconds(1))
        {
            error($"Gateway:Gpio:ReportPeriod is {g.ReportPeriod}: use at least 00:00:01.");
        }

        var pins = new Dictionary<int, string>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        void Pin(string key, int pin)
        {
            if (pin is < 0 or > 27)
            {
                error($"{key}:Pin is {pin}: use a BCM GPIO number 2-27 (GPIO17 is header pin 11; see hardware/boards/).");
            }
            else if (ReservedPins.Contains(pin))
            {
                error($"{key}:Pin is {pin}: GPIO0/1 are reserved for the HAT ID EEPROM; use another pin (see hardware/boards/).");
            }
            else if (pins.TryGetValue(pin, out var other))
            {
                error($"{key}:Pin {pin} is already used by {other}: wire the two signals to different pins.");
            }
            else
            {
                pins[pin] = key;
            }
        }

        void Id(string key, string id, params string[] channels)
        {
            if (!Identifiers.IsValidChannelId(id) || id.Contains('/', StringComparison.Ordinal))
            {
                error($"{key}:Id '{id}' is not a name: use lower-case letters, digits, '_' such as door or rain.");
                return;
            }

            foreach (var c in channels)
            {
                if (!ids.Add(c))
                {
                    error($"{key}:Id '{id}' gives channel {g.Device}/{c}, which another input or counter already has: rename one.");
                }
            }
        }

        for (var i = 0; i < g.Inputs.Count; i++)
        {
            var input = g.Inputs[i];
            var key = $"Gateway:Gpio:Inputs:{i}";
            Id(key, input.Id, input.Id);
            Pin(key, input.Pin);
            if (input.Pull is not ("PullUp" or "PullDown" or "None"))
            {
                error($"{key}:Pull is '{input.Pull}': use PullUp, PullDown or None.");
            }

            if (input.Debounce < TimeSpan.Zero || input.Debounce > TimeSpan.FromSeconds(10))
            {
                error($"{key}:Debounce is {input.Debounce}: use 0 to 00:00:10 (50 ms suits a door contact).");
            }
        }

        for (var i = 0; i < g.Counters.Count; i++)
        {
            var c = g.Counters[i];
            var key = $"Gateway:Gpio:Counters:{i}";
            if (c.Kind == GpioCounterKind.RainGauge)
            {
                Id(key, c.Id, c.Id + "_total", c.Id + "_rate");
                if (!(c.MillimetresPerTip is > 0 and < 10))
                {
                    error($"{key}:MillimetresPerTip is {c.MillimetresPerTip}: use the gauge's bucket size (0.2794 for a 0.011 in bucket, 0.2 or 0.5 for metric gauges).");
                }
            }
            else if (c.Kind == GpioCounterKind.Anemometer)
            {
                Id(key, c.Id, c.Id);
                if (!(c.KilometresPerHourPerHertz is > 0 and < 100))
                {
                    error($"{key}:KilometresPerHourPerHertz is {c.KilometresPerHourPerHertz}: use the anemometer's factor (2.4 for the common cup anemometer).");
                }
            }
            else
            {
                error($"{key}:Kind '{c.Kind}' is unknown: use RainGauge or Anemometer.");
            }

            Pin(key, c.Pin);
            if (c.MinPulseInterval < TimeSpan.Zero || c.RateWindow < TimeSpan.FromSeconds(1))
            {
                error($"{key}: MinPulseInterval ({c.MinPulseInterval}) must be 0 or more and RateWindow ({c.RateWindow}) at least 00:00:01.");
            }
        }

        // Relay outputs (contract §10): their own names (not channels), pins shared with nothing else.
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < g.Outputs.Count; i++)
        {
            var o = g.Outputs[i];
            var key = $"Gateway:Gpio:Outputs:{i}";
            if (!Identifiers.IsValidChannelId(o.Id) || o.Id.Contains('/', StringComparison.Ordinal))
            {
                error($"{key}:Id '{o.Id}' is not a name: use lower-case letters, digits, '_' such as camera_power.");
            }
            else if (!outputs.Add(o.Id))
            {
                error($"{key}:Id '{o.Id}' is already another output's: rename one.");
            }

            Pin(key, o.Pin);
            if (o.MaxPulse <= TimeSpan.Zero || o.MaxPulse > TimeSpan.FromHours(1))
            {
                error($"{key}:MaxPulse is {o.MaxPulse}: use 00:00:00.001 to 01:00:00 (default 00:05:00).");
            }
        }

        if (g.Outputs.Count > 0 && (g.OutputLinkLossTimeout < TimeSpan.FromSeconds(1) || g.OutputLinkLossTimeout > TimeSpan.FromDays(1)))
        {
            error($"Gateway:Gpio:OutputLinkLossTimeout is {g.OutputLinkLossTimeout}: use 00:00:01 to 1.00:00:00 (default 00:05:00).");
        }
    }

    private static void ValidateSensors(GatewayOptions options, Action<FormattableString> error)
    {
        var taken = new HashSet<string>(options.Modbus.Devices.Select(d => d.Id), StringComparer.Ordinal);
        if (!options.Gpio.IsEmpty)
        {
            taken.Add(options.Gpio.Device);
        }

        var serialPorts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var l in options.Modbus.Links.Where(l => !string.IsNullOrEmpty(l.SerialPort)))
        {
            serialPorts.TryAdd(l.SerialPort!, $"Modbus link '{l.Id}'"); // two links on one port are reported by ValidateModbus
        }

        var i2c = new Dictionary<(int, int), string>();
        for (var i = 0; i < options.Sensors.Count; i++)
        {
            var s = options.Sensors[i];
            var key = $"Gateway:Sensors:{i}";
            if (!Identifiers.IsValidChannelId(s.Id) || s.Id.Contains('/', StringComparison.Ordinal))
            {
                error($"{key}:Id '{s.Id}' is not a name: use lower-case letters, digits, '-', '_' such as air or dust (it starts the sensor's channel ids).");
            }
            else if (!taken.Add(s.Id))
            {
                error($"{key}:Id '{s.Id}' is already a device, GPIO or sensor name: give each its own.");
            }

            if (s.PollPeriod < TimeSpan.FromSeconds(1))
            {
                error($"{key}:PollPeriod is {s.PollPeriod}: use at least 00:00:01.");
            }

            switch (s.Driver)
            {
                case SensorDriver.Bme280 or SensorDriver.CurrentLoop:
                    var (lo, hi, hint) = s.Driver == SensorDriver.Bme280
                        ? (0x76, 0x77, "a BME280 answers at 0x76 (SDO to GND) or 0x77 (SDO to VDDIO)")
                        : (0x48, 0x4B, "an ADS1115 answers at 0x48-0x4B depending on its ADDR pin");
                    if (s.ParsedAddress is not { } address || address < lo || address > hi)
                    {
                        error($"{key}:Address '{s.Address}' is not valid: {hint}; write it as \"0x{lo:X2}\".");
                    }
                    else if (i2c.TryGetValue((s.I2cBus, address), out var other))
                    {
                        error($"{key}:Address 0x{address:X2} on I2C bus {s.I2cBus} is already used by {other}: two chips cannot share an address on one bus.");
                    }
                    else
                    {
                        i2c[(s.I2cBus, address)] = key;
                    }

                    if (s.I2cBus is < 0 or > 20)
                    {
                        error($"{key}:I2cBus is {s.I2cBus}: use the bus number (1 for the header's GPIO2/GPIO3).");
                    }

                    if (s.Driver == SensorDriver.CurrentLoop)
                    {
                        if (string.IsNullOrWhiteSpace(s.Quantity) || !Identifiers.IsValidChannelId(s.Quantity) || s.Quantity.Contains('/', StringComparison.Ordinal))
                        {
                            error($"{key}:Quantity '{s.Quantity}' is missing or not a name: say what the instrument measures, such as water_level.");
                        }

                        if (s.Unit is null || !ProfileUnits.IsKnown(s.Unit))
                        {
                            var suggestion = ProfileUnits.Suggest(s.Unit) is { } u ? $" (did you mean '{u}'?)" : string.Empty;
                            error($"{key}:Unit '{s.Unit}' is not in the unit vocabulary{suggestion}: use one of {string.Join(", ", ProfileUnits.Symbols)}.");
                        }

                        if (s.ValueAt4mA is not { } v4 || s.ValueAt20mA is not { } v20 || v4 == v20)
                        {
                            error($"{key}:ValueAt4mA and ValueAt20mA must both be given and differ: the instrument's range (e.g. 0 and 5 for a 0-5 m level sensor).");
                        }

                        if (s.Input is < 0 or > 3)
                        {
                            error($"{key}:Input is {s.Input}: use 0-3 (AIN0-AIN3).");
                        }

                        if (s.ShuntOhms is < 10 or > 1000)
                        {
                            error($"{key}:ShuntOhms is {s.ShuntOhms}: use 10-1000 (250 turns 4-20 mA into 1-5 V).");
                        }
                    }

                    break;
                case SensorDriver.Pms5003 or SensorDriver.Sds011:
                    if (string.IsNullOrWhiteSpace(s.SerialPort))
                    {
                        error($"{key}:SerialPort is empty: a {s.Driver} needs its UART, such as /dev/serial0.");
                    }
                    else if (!serialPorts.TryAdd(s.SerialPort, key))
                    {
                        error($"{key}:SerialPort {s.SerialPort} is already used by {serialPorts[s.SerialPort]}: each UART sensor needs its own port.");
                    }

                    break;
                case SensorDriver.Ds18b20:
                    if (s.DeviceId is null || !System.Text.RegularExpressions.Regex.IsMatch(s.DeviceId, "^28-[0-9a-f]{12}$"))
                    {
                        error($"{key}:DeviceId '{s.DeviceId}' is not a DS18B20 id: use the folder name under {s.W1Root}, such as 28-0316a2799aff (ls {s.W1Root}).");
                    }

                    break;
                default:
                    error($"{key}:Driver '{s.Driver}' is unknown: use Bme280, Ds18b20, Pms5003, Sds011 or CurrentLoop.");
                    break;
            }
        }
    }

    private void ValidateModbus(GatewayOptions options, Action<FormattableString> error)
    {
        var links = new Dictionary<string, ModbusLinkOptions>(StringComparer.Ordinal);
        var serialPorts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Modbus.Links.Count; i++)
        {
            var l = options.Modbus.Links[i];
            var key = $"Gateway:Modbus:Links:{i}";
            if (!Identifiers.IsValidChannelId(l.Id) || l.Id.Contains('/', StringComparison.Ordinal))
            {
                error($"{key}:Id '{l.Id}' is not a name: use lower-case letters, digits, '-', '_' such as rs485-1.");
            }
            else if (!links.TryAdd(l.Id, l))
            {
                error($"{key}:Id '{l.Id}' is used by another link: give each link its own id.");
            }

            switch (l.Transport)
            {
                case ModbusTransport.Tcp or ModbusTransport.RtuOverTcp:
                    if (string.IsNullOrWhiteSpace(l.Host))
                    {
                        error($"{key}:Host is empty: a {l.Transport} link needs the instrument's or serial server's address.");
                    }

                    if (l.Port is < 1 or > 65535)
                    {
                        error($"{key}:Port is {l.Port}: use 1-65535 (502 is Modbus TCP's port).");
                    }

                    break;
                case ModbusTransport.Rtu or ModbusTransport.Ascii:
                    if (string.IsNullOrWhiteSpace(l.SerialPort))
                    {
                        error($"{key}:SerialPort is empty: a {l.Transport} link needs a serial device such as /dev/ttyAMA0.");
                    }
                    else if (serialPorts.TryGetValue(l.SerialPort, out var other))
                    {
                        error($"{key}:SerialPort {l.SerialPort} is already used by link '{other}': put both sets of devices on one link (one RS-485 line is one link).");
                    }
                    else
                    {
                        serialPorts[l.SerialPort] = l.Id;
                    }

                    if (l.BaudRate is < 300 or > 1_000_000)
                    {
                        error($"{key}:BaudRate is {l.BaudRate}: use the instrument's rate (9600 and 19200 are usual).");
                    }

                    if (l.Parity is not ("N" or "E" or "O"))
                    {
                        error($"{key}:Parity is '{l.Parity}': use N, E or O (Modbus RTU's default is E; many instruments ship with N).");
                    }

                    if (l.DataBits is not (7 or 8))
                    {
                        error($"{key}:DataBits is {l.DataBits}: use 8 (RTU) or 7 (ASCII).");
                    }

                    if (l.StopBits is not (1 or 2))
                    {
                        error($"{key}:StopBits is {l.StopBits}: use 1 or 2 (2 when there is no parity, per the serial-line specification).");
                    }

                    break;
                default:
                    error($"{key}:Transport '{l.Transport}' is unknown: use Tcp, RtuOverTcp, Rtu or Ascii.");
                    break;
            }

            if (l.Timeout <= TimeSpan.Zero || l.Retries is < 0 or > 10 || l.MaxGap is < 0 or > 124)
            {
                error($"{key}: Timeout ({l.Timeout}) must be positive, Retries ({l.Retries}) 0-10, MaxGap ({l.MaxGap}) 0-124.");
            }

            RequestLimits(key, l.MaxRegistersPerRequest, l.MaxBitsPerRequest, error);
        }

        if (options.Modbus.Devices.Count == 0)
        {
            return;
        }

        var (catalog, loadError) = profiles.Load(options.ProfilesDirectory);
        if (catalog is null)
        {
            error($"{loadError}");
            return;
        }

        var devices = new HashSet<string>(StringComparer.Ordinal);
        var unitsOnLink = new HashSet<(string, int)>();
        for (var i = 0; i < options.Modbus.Devices.Count; i++)
        {
            var d = options.Modbus.Devices[i];
            var key = $"Gateway:Modbus:Devices:{i}";
            if (!Identifiers.IsValidChannelId(d.Id) || d.Id.Contains('/', StringComparison.Ordinal))
            {
                error($"{key}:Id '{d.Id}' is not a device name: use lower-case letters, digits, '-', '_' such as env1 (it starts every channel id of the device).");
            }
            else if (!devices.Add(d.Id))
            {
                error($"{key}:Id '{d.Id}' is used by another device: give each device its own id.");
            }

            RequestLimits(key, d.MaxRegistersPerRequest, d.MaxBitsPerRequest, error);

            if (!links.TryGetValue(d.Link, out var link))
            {
                error($"{key}:Link '{d.Link}' names no link: use one of [{string.Join(", ", links.Keys)}] or add it under Gateway:Modbus:Links.");
            }
            else
            {
                var serial = link.Transport is ModbusTransport.Rtu or ModbusTransport.Ascii;
                if (serial ? d.UnitId is < 1 or > 247 : d.UnitId is < 0 or > 255)
                {
                    error($"{key}:UnitId is {d.UnitId}: use {(serial ? "1-247 on a serial line (0 is broadcast)" : "0-255 over TCP (1 or 255 are usual)")}.");
                }
                else if (!unitsOnLink.Add((d.Link, d.UnitId)))
                {
                    error($"{key}:UnitId {d.UnitId} is already used on link '{d.Link}': two devices on one line need different unit ids.");
                }
            }

            if (d.PollPeriod is { } period && period < TimeSpan.FromMilliseconds(100))
            {
                error($"{key}:PollPeriod is {period}: use at least 00:00:00.1, or leave it out to use the profile's periods.");
            }

            if (!catalog.TryGet(d.Profile, out var profile))
            {
                var known = string.Join(", ", catalog.Profiles.Select(p => p.Id));
                error($"{key}:Profile '{d.Profile}' is not a known instrument profile: use one of [{known}] or add a profile file to Gateway:ProfilesDirectory.");
                continue;
            }

            for (var j = 0; j < d.Points.Count; j++)
            {
                var p = d.Points[j];
                var pkey = $"{key}:Points:{j}";
                if (!profile.TryGetPoint(p.Name, out var point))
                {
                    error($"{pkey}:Name '{p.Name}' is not a point of profile '{profile.Id}': use one of [{string.Join(", ", profile.Points.Select(x => x.Name))}].");
                    continue;
                }

                if (p.Unit is not null && !string.Equals(p.Unit, point.Unit, StringComparison.Ordinal))
                {
                    var suggestion = ProfileUnits.IsKnown(p.Unit) ? string.Empty : $" ('{p.Unit}' is not in the unit vocabulary{(ProfileUnits.Suggest(p.Unit) is { } s ? $"; did you mean '{s}'?" : string.Empty)})";
                    error($"{pkey}:Unit is '{p.Unit}' but profile '{profile.Id}' reads {p.Name} in '{point.Unit}'{suggestion}: write '{point.Unit}', or use a profile for the instrument's actual unit.");
                }

                if (!(p.Deadband >= 0) || p.Heartbeat is { } hb && hb <= TimeSpan.Zero)
                {
                    error($"{pkey}: Deadband ({p.Deadband}) must be 0 or positive and Heartbeat ({p.Heartbeat}) positive.");
                }
            }
        }
    }

    /// <summary>Request size keys: 1-125 registers (FC 03/04) and 1-2000 bits (FC 01/02), MODBUS Application Protocol
    /// Specification V1.1b3, sections 6.1-6.4.</summary>
    private static void RequestLimits(string key, int? registers, int? bits, Action<FormattableString> error)
    {
        if (registers is < 1 or > 125)
        {
            error($"{key}:MaxRegistersPerRequest is {registers}: use 1-125 (the most registers the device serves in one read; the Modbus specification allows 125), or remove it.");
        }

        if (bits is < 1 or > 2000)
        {
            error($"{key}:MaxBitsPerRequest is {bits}: use 1-2000 (the most coils/discrete inputs the device serves in one read; the Modbus specification allows 2000), or remove it.");
        }
    }
}
