namespace IocEdge.Edge.Configuration;

/// <summary>
/// The gateway's configuration file (section "Gateway"; see edge/README.md for a full example). Everything is checked
/// by <see cref="GatewayOptionsValidator"/> before any bus is opened.
/// </summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>This gateway's id: its MQTT client id and topic level (lower-case letters, digits, '-').</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>Where the outbox (and driver state such as pulse-counter totals) lives.</summary>
    public string DataDirectory { get; set; } = "/var/lib/iocedge-gateway";

    /// <summary>A folder of instrument profiles; empty uses the profiles shipped with the gateway.</summary>
    public string? ProfilesDirectory { get; set; }

    public GatewayMqttOptions Mqtt { get; set; } = new();

    public GatewayModbusOptions Modbus { get; set; } = new();

    public GpioOptions Gpio { get; set; } = new();

    public List<SensorOptions> Sensors { get; set; } = [];

    /// <summary>The outbox's bounds (section <c>Gateway:Outbox</c>).</summary>
    public OutboxOptions Outbox { get; set; } = new();

    /// <summary>Configuration pushed by the aggregator (section <c>Gateway:RemoteConfig</c>, contract §9).</summary>
    public Remote.RemoteConfigOptions RemoteConfig { get; set; } = new();

    public string OutboxPath => Path.Combine(DataDirectory, "outbox.db");
}

/// <summary>
/// The shapes of the configuration sections, kept apart from the options classes so that the configuration binding
/// source generator does not take them for settings.
/// </summary>
internal static class ConfigurationShapes
{
    /// <summary>
    /// The keys and value types of the "Gateway" section, for <see cref="ConfigurationCheck"/> (unknown keys, wrong types) without
    /// walking property types by reflection, which NativeAOT cannot do. A new options class used by a property must be
    /// added here too (a unit test checks this list against the classes).
    /// </summary>
    public static ConfigObject Gateway { get; } = ConfigObject.Of<GatewayOptions>(
        ConfigObject.Of<GatewayMqttOptions>(ConfigObject.Of<GatewayMqttTlsOptions>()),
        ConfigObject.Of<GatewayModbusOptions>(
            ConfigObject.Of<ModbusLinkOptions>(),
            ConfigObject.Of<ModbusDeviceOptions>(ConfigObject.Of<ModbusPointOptions>())),
        ConfigObject.Of<GpioOptions>(ConfigObject.Of<GpioInputOptions>(), ConfigObject.Of<GpioCounterOptions>(), ConfigObject.Of<GpioOutputOptions>()),
        ConfigObject.Of<SensorOptions>(),
        ConfigObject.Of<OutboxOptions>(),
        ConfigObject.Of<Remote.RemoteConfigOptions>());
}

public sealed class GatewayMqttOptions
{
    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 1883;

    public string? Username { get; set; }

    public string? Password { get; set; }

    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connect or publish may take before the link is considered down.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Readings per MQTT message (at most 10 000, the contract's limit).</summary>
    public int BatchSize { get; set; } = 500;

    public TimeSpan ReconnectDelayMin { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReconnectDelayMax { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Most bytes of one message's payload (default 262 144 = 256 KiB, well under MQTT's 256 MiB packet limit and the
    /// aggregator's default); a batch whose encoding is larger is halved until it fits.
    /// </summary>
    public int BatchMaxBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// How long a partial batch of new readings may wait for more before it leaves (default 0: at once, one message per
    /// poll cycle). On a metered link, a few seconds gather several poll cycles into one message.
    /// </summary>
    public TimeSpan BatchMaxAge { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// QoS 1 messages sent and not yet acknowledged by their PUBACK, at most (default 32, chosen by the drain measurement below; each
    /// connection lowers it to the broker's CONNACK Receive Maximum, MQTT 5 §3.3.4). The aggregator holds a PUBACK until
    /// its commit's fsync, so the window is what keeps a backlog drain moving during a commit: 8 drained 1,000,000
    /// readings at 0.72x of a bare mosquitto, 32 at 0.86-0.88x (docs/BENCHMARKS.md, "Outbox drain"). Memory: up to this many
    /// encoded batches (BatchMaxBytes each) are held until their PUBACK.
    /// </summary>
    public int MaxInFlight { get; set; } = 32;

    /// <summary>
    /// After an outage, how many backlog readings per second are sent behind the live ones (oldest first); 0 (default)
    /// sends the backlog as fast as the link takes it, still after every live reading.
    /// </summary>
    public double BackfillReadingsPerSecond { get; set; }

    /// <summary>The readings encoding: Json (contract §4, topic …/readings) or Compact (contract §8, topic …/readings/bin).</summary>
    public MqttPayload Payload { get; set; } = MqttPayload.Json;

    /// <summary>How often the health status (contract §5) is published while connected (default 60 s; also on connect).</summary>
    public TimeSpan HealthPeriod { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>TLS to the broker (section <c>Gateway:Mqtt:Tls</c>); off by default.</summary>
    public GatewayMqttTlsOptions Tls { get; set; } = new();
}

/// <summary>
/// TLS on the gateway's MQTT connection (<c>Gateway:Mqtt:Tls</c>): the broker's certificate is always verified (chain
/// and name); there is no switch that accepts an untrusted broker. Files are PEM (RFC 7468) and given as absolute
/// paths; every problem with them is reported at start-up (exit 78) by <see cref="GatewayOptionsValidator"/>.
/// </summary>
public sealed class GatewayMqttTlsOptions
{
    /// <summary>Connect with TLS (default false). The broker's TLS port is usually 8883 (IANA "secure-mqtt").</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// PEM file of the CA certificate(s) that signed the broker's certificate (the aggregator's CA, written by
    /// <c>iocedge provision --csr</c>). When set, only these CAs are trusted; when empty, the system trust store
    /// (/etc/ssl/certs) is.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>PEM client certificate for mutual TLS (its CN is the gateway id at the aggregator); goes with <see cref="KeyFile"/>.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key (PKCS#8, or SEC1/PKCS#1; not encrypted) of <see cref="CertificateFile"/>; mode 0600.</summary>
    public string? KeyFile { get; set; }

    /// <summary>The name the broker's certificate must carry (SNI and verification); empty: <see cref="GatewayMqttOptions.Host"/>.</summary>
    public string? ServerName { get; set; }
}

/// <summary>The encoding of the readings messages (<c>Gateway:Mqtt:Payload</c>).</summary>
public enum MqttPayload
{
    /// <summary>Readable JSON on <c>iocedge/v1/{id}/readings</c> (contract §4).</summary>
    Json,
    /// <summary>The compact binary codec on <c>iocedge/v1/{id}/readings/bin</c> (contract §8), for metered links.</summary>
    Compact,
}

public sealed class GatewayModbusOptions
{
    /// <summary>The physical or network links: one TCP connection, or one RS-485 line shared by several slaves.</summary>
    public List<ModbusLinkOptions> Links { get; set; } = [];

    /// <summary>The instruments, each on a link with a unit id and a profile.</summary>
    public List<ModbusDeviceOptions> Devices { get; set; } = [];
}

public enum ModbusTransport
{
    /// <summary>Modbus TCP (MBAP header), usually port 502.</summary>
    Tcp,
    /// <summary>RTU frames tunnelled over TCP by a serial server.</summary>
    RtuOverTcp,
    /// <summary>RTU over a serial port (RS-485).</summary>
    Rtu,
    /// <summary>ASCII over a serial port.</summary>
    Ascii,
}

public sealed class ModbusLinkOptions
{
    /// <summary>A name for the link, referred to by devices ("rs485-1", "station-tcp").</summary>
    public string Id { get; set; } = string.Empty;

    public ModbusTransport Transport { get; set; } = ModbusTransport.Tcp;

    /// <summary>TCP and RTU-over-TCP: the instrument's or serial server's address.</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = 502;

    /// <summary>RTU and ASCII: the serial device ("/dev/ttyAMA0", "/dev/ttyUSB0", "/dev/serial/by-id/…").</summary>
    public string? SerialPort { get; set; }

    public int BaudRate { get; set; } = 9600;

    /// <summary>N, E or O.</summary>
    public string Parity { get; set; } = "N";

    public int DataBits { get; set; } = 8;

    public int StopBits { get; set; } = 1;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    public int Retries { get; set; } = 2;

    /// <summary>Registers of unused space the planner may read across to save a request.</summary>
    public int MaxGap { get; set; } = 8;

    /// <summary>Most registers per read request (FC 03/04), 1-125 (MODBUS Application Protocol V1.1b3, 6.3-6.4), for
    /// every device on the link, or a gateway in front of them, that refuse larger reads; null = 125. The poller also learns a smaller limit from refusals.</summary>
    public int? MaxRegistersPerRequest { get; set; }

    /// <summary>Most coils/discrete inputs per read request (FC 01/02), 1-2000 (same specification, 6.1-6.2); null = 2000.</summary>
    public int? MaxBitsPerRequest { get; set; }
}

public sealed class ModbusDeviceOptions
{
    /// <summary>The device's name: the first level of its channel ids ("env1" gives "env1/pm2_5").</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>The <see cref="ModbusLinkOptions.Id"/> it hangs on.</summary>
    public string Link { get; set; } = string.Empty;

    /// <summary>The instrument profile's id ("env-station", "water-sonde").</summary>
    public string Profile { get; set; } = string.Empty;

    /// <summary>The Modbus unit (slave) id: 1-247 on a serial line, 0-255 over TCP.</summary>
    public int UnitId { get; set; } = 1;

    /// <summary>Overrides every point's poll period from the profile.</summary>
    public TimeSpan? PollPeriod { get; set; }

    /// <summary>Most registers per read request (FC 03/04), 1-125 (MODBUS Application Protocol V1.1b3, 6.3-6.4), for
    /// this device, when it that refuses larger reads; null = the profile's maxRegistersPerRequest, else the link's. The poller also learns a smaller limit from refusals.</summary>
    public int? MaxRegistersPerRequest { get; set; }

    /// <summary>Most coils/discrete inputs per read request (FC 01/02), 1-2000 (same specification, 6.1-6.2); null = 2000.</summary>
    public int? MaxBitsPerRequest { get; set; }


    /// <summary>
    /// Per-point settings; a device that lists points reads only those, one that lists none reads the whole profile.
    /// </summary>
    public List<ModbusPointOptions> Points { get; set; } = [];
}

public sealed class ModbusPointOptions
{
    /// <summary>The point's name in the profile ("pm2_5").</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The unit the IOC expects; start-up refuses a profile whose unit differs.</summary>
    public string? Unit { get; set; }

    /// <summary>Report only changes beyond this many units (and on heartbeat); 0 and no heartbeat reports every poll.</summary>
    public double Deadband { get; set; }

    public TimeSpan? Heartbeat { get; set; }
}
