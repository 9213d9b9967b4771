using System.Device.Gpio;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using IocEdge.Aggregator;
using IocEdge.Demo;
using IocEdge.Devices.Profiles;
using IocEdge.Edge;
using IocEdge.Edge.Outbox;
using IocEdge.Edge.Sources;
using IocEdge.Hardware.SimulatedDevices;
using Microsoft.Extensions.DependencyInjection;
using IocEdge.Hardware.Simulator;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The README's run command. Three real hosts in one process, talking over loopback sockets as they would across a
// city: the station simulator serves Modbus TCP, the gateway polls it and forwards over MQTT, the aggregator stores
// and serves HTTP.
DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
    return 64; // EX_USAGE (sysexits.h)
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

// One line per event: IocEdge's own at Information, the frameworks' only when something is wrong.
string[] QuietLogging =
[
    "--Logging:LogLevel:Default=Warning",
    "--Logging:LogLevel:IocEdge=Information",
    "--Logging:Console:FormatterName=simple",
    "--Logging:Console:FormatterOptions:SingleLine=true",
];
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
var log = loggers.CreateLogger("iocedge-demo");
try
{
    // Starting afresh removes only what a previous demo run wrote there (DemoOptions.OwnEntries): the folder may be
    // one the user gave (--data) and hold anything else.
    if (!options.Keep && DemoOptions.RemovePreviousRun(options.DataDirectory) is > 0 and var removed)
    {
        log.PreviousRunRemoved(options.DataDirectory, removed);
    }

    Directory.CreateDirectory(options.DataDirectory);
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
{
    await Console.Error.WriteLineAsync(
        $"--data {options.DataDirectory}: cannot use this folder ({ex.Message}); give a writable folder, e.g. --data ./.demo").ConfigureAwait(false);
    return 73; // EX_CANTCREAT (sysexits.h)
}

if (options.HttpPortGiven && options.HttpPort != 0 && !IsFree(options.HttpPort))
{
    // A port the user asked for is theirs to keep: using another would print a URL they did not expect.
    await Console.Error.WriteLineAsync(
        $"--http-port {options.HttpPort}: the port is in use (another demo or service?): stop it, or give another --http-port (0 picks a free one).")
        .ConfigureAwait(false);
    return 69; // EX_UNAVAILABLE (sysexits.h)
}

var httpPort = options.HttpPort == 0 || !IsFree(options.HttpPort) ? FreePort() : options.HttpPort;
if (options.HttpPort != 0 && httpPort != options.HttpPort)
{
    log.PortTaken(options.HttpPort, httpPort);
}

// 1. The simulated station: four instruments behind one Modbus TCP serial-server-style endpoint.
var catalog = ProfileCatalog.LoadBuiltIn();
string[] profiles = ["env-station", "weather-station", "gas-analyser", "water-sonde"];
var station = await StationSimulator.StartAsync(new StationSimulatorOptions
{
    Tcp = new IPEndPoint(IPAddress.Loopback, 0),
    Seed = Environment.ProcessId,
}.WithInstruments(profiles.Select((p, i) => new SimulatedInstrument(catalog.Get(p), (byte)(i + 1)))), TimeProvider.System, loggers)
    .ConfigureAwait(false);
await using (station.ConfigureAwait(false))
{
    log.StationStarted(station.TcpEndPoint!.ToString(), "1-4: " + string.Join(", ", profiles));

    // 2. The aggregator with its embedded broker.
    var mqttPort = FreePort();
    var aggregatorDir = Path.Combine(options.DataDirectory, "aggregator");
    var aggregator = AggregatorHost.Build(
    [
        $"--Aggregator:DataDirectory={aggregatorDir}",
        $"--Aggregator:HttpUrls=http://127.0.0.1:{httpPort}",
        $"--Aggregator:Mqtt:Port={mqttPort}",
        "--Aggregator:Mqtt:BindAddress=127.0.0.1",
        .. QuietLogging,
    ]);
    await using (aggregator.ConfigureAwait(false))
    {
        await aggregator.StartAsync().ConfigureAwait(false);
        log.AggregatorStarted(mqttPort, aggregatorDir);

        // 3. A gateway polling every instrument once a second.
        var configPath = Path.Combine(options.DataDirectory, "gateway.json");
        var devices = string.Join(",\n        ", profiles.Select((p, i) =>
            $$"""{ "Id": "{{DeviceName(p)}}", "Link": "station", "Profile": "{{p}}", "UnitId": {{i + 1}}, "PollPeriod": "00:00:01" }"""));
        await File.WriteAllTextAsync(configPath, $$"""
            {
              "Gateway": {
                "Id": "gw-demo-01",
                "DataDirectory": "{{Path.Combine(options.DataDirectory, "gateway")}}",
                "Mqtt": { "Host": "127.0.0.1", "Port": {{mqttPort}} },
                "Gpio": {
                  "Device": "pole1",
                  "ReportPeriod": "00:00:05",
                  "Inputs": [ { "Id": "door", "Pin": 17 }, { "Id": "flood", "Pin": 27 } ],
                  "Counters": [ { "Id": "rain", "Kind": "RainGauge", "Pin": 22 }, { "Id": "wind", "Kind": "Anemometer", "Pin": 23, "RateWindow": "00:00:10" } ]
                },
                "Sensors": [
                  { "Id": "air", "Driver": "Bme280", "I2cBus": 1, "Address": "0x76", "PollPeriod": "00:00:02" },
                  { "Id": "dust", "Driver": "Pms5003", "SerialPort": "/dev/serial0", "PollPeriod": "00:00:02" }
                ],
                "Modbus": {
                  "Links": [ { "Id": "station", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{station.TcpEndPoint.Port}} } ],
                  "Devices": [
                    {{devices}}
                  ]
                }
              }
            }
            """).ConfigureAwait(false);
        // The pole cabinet's GPIO header, simulated: a door that a technician opens now and then, a dry flood switch,
        // steady wet-season rain on the tipping bucket and a breeze on the anemometer.
        var gpio = new SimulatedGpioDriver(TimeProvider.System);
        foreach (var pin in new[] { 17, 27 })
        {
            gpio.SetInput(pin, PinValue.High); // contacts open: the pull-ups hold the pins high
        }

        using var rain = PulseTrain.RainGauge(gpio, 22, TimeProvider.System, () => 6.0);
        using var wind = PulseTrain.Anemometer(gpio, 23, TimeProvider.System, () => 2.5 + Math.Sin(Clock() / 20_000.0));
        using var door = TimeProvider.System.CreateTimer(_ => gpio.SetInput(17, Clock() / 1000 % 40 < 10 ? PinValue.Low : PinValue.High),
            null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        // The cabinet's own bus sensors, simulated to their datasheets: a BME280 on I2C-1 and a PMS5003 on the UART.
        var bme = new SimulatedBme280(TimeProvider.System, () => new AirConditions(
            29 + (3 * Math.Sin(Clock() / 60_000.0)), 1008.5, 78 - (5 * Math.Sin(Clock() / 60_000.0))));
        using var pms = new SimulatedPms5003(TimeProvider.System, () => new ParticulateSample(
            18 + Random.Shared.NextDouble() * 4, 38 + Random.Shared.NextDouble() * 8, 64 + Random.Shared.NextDouble() * 10));
        using var gateway = GatewayHost.Build(["--config", configPath, .. QuietLogging], b =>
        {
            b.Services.AddSingleton<IGpioControllerProvider>(new SimulatedGpio(gpio));
            b.Services.AddSingleton<IBusProvider>(new SimulatedBuses(bme, pms));
            b.Services.AddSingleton<IClockSync>(new SharedClockSync(new SystemClockSync(TimeProvider.System)));
        });
        await gateway.StartAsync().ConfigureAwait(false);
        log.GatewayStarted("gw-demo-01", configPath);

        Console.WriteLine();
        Console.WriteLine($"  IocEdge demo is running. Open  http://127.0.0.1:{httpPort}/");
        Console.WriteLine($"  API: http://127.0.0.1:{httpPort}/api/v1/latest   gateways: http://127.0.0.1:{httpPort}/api/v1/gateways");
        Console.WriteLine("  Press Ctrl+C to stop.");
        Console.WriteLine();

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        // The simulated signals stop first: the gateway's GPIO controller disposes the simulated chip as it stops.
        await door.DisposeAsync().ConfigureAwait(false);
        rain.Dispose();
        wind.Dispose();
        await gateway.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await aggregator.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }
}

return 0;

// Milliseconds on the monotonic clock, for the simulated signals' slow cycles (a wall-clock step must not jump them).
static double Clock() => TimeProvider.System.GetTimestamp() * 1000.0 / TimeProvider.System.TimestampFrequency;

static string DeviceName(string profile) => profile switch
{
    "env-station" => "env1",
    "weather-station" => "wx1",
    "gas-analyser" => "gas1",
    "water-sonde" => "wq1",
    _ => profile,
};

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

static bool IsFree(int port)
{
    try
    {
        using var l = new TcpListener(IPAddress.Loopback, port);
        l.Start();
        return true;
    }
    catch (SocketException)
    {
        return false;
    }
}

internal sealed class SimulatedGpio(SimulatedGpioDriver driver) : IGpioControllerProvider
{
    public GpioController Open(int chip) => new(driver);
}

internal sealed class SimulatedBuses(SimulatedBme280 bme, SimulatedPms5003 pms) : IBusProvider
{
    public System.Device.I2c.I2cDevice OpenI2c(int bus, int address) => bus == 1 && address == 0x76
        ? bme
        : throw new IOException($"No simulated device at I2C bus {bus} address 0x{address:X2}.");

    public Stream OpenSerial(string path) => path == "/dev/serial0"
        ? pms.Uart
        : throw new IOException($"No simulated device on {path}.");
}

internal static class StationOptionsExtensions
{
    public static StationSimulatorOptions WithInstruments(this StationSimulatorOptions options, IEnumerable<SimulatedInstrument> instruments)
    {
        foreach (var i in instruments)
        {
            options.Instruments.Add(i);
        }

        return options;
    }
}
