using System.Collections.Concurrent;
using IocEdge.Edge;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 13 item 3: the gateway with its real system providers (no simulated buses) and hardware that is not there: a
/// GPIO chip, a serial port (a Modbus RTU link and a PMS5003) and an I2C bus that do not exist. Every channel of those
/// reports comm_failure cycle after cycle, a Modbus TCP device on pymodbus keeps reporting good, and the log holds one
/// line per missing device naming its path and the fix, not one per poll.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait("Acceptance", "field-faults")]
public sealed class MissingHardwareTests : IDisposable
{
    private readonly TempDirectory _dir = new("missing-hw");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Missing_chip_ports_and_bus_report_comm_failure_every_cycle_with_one_log_line_each_while_a_working_device_stays_good()
    {
        // env-station profile: holding registers 0..3 = pm2_5, pm10 (×0.1 µg/m³), temperature, humidity (×0.1).
        await using var plc = await PyModbusServer.StartTcpAsync(new PyModbusServerOptions
        {
            Units = new Dictionary<byte, PyModbusUnit> { [1] = new() { HoldingRegisters = [452, 751, 295, 800] } },
        });
        const string missingRtu = "/dev/ttyIOCEDGE-rtu-missing";
        const string missingUart = "/dev/ttyIOCEDGE-pms-missing";
        var config = _dir.File("gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "Id": "gw-missing", "DataDirectory": "{{_dir.File("gw")}}",
              "Mqtt": { "Host": "127.0.0.1", "Port": {{FreePort.Next()}} },
              "Gpio": { "Device": "cab1", "Chip": 7, "ReportPeriod": "00:00:01",
                        "Inputs": [ { "Id": "door", "Pin": 17 } ],
                        "Counters": [ { "Id": "rain", "Kind": "RainGauge", "Pin": 22, "MillimetresPerTip": 0.2794 },
                                      { "Id": "wind", "Kind": "Anemometer", "Pin": 23, "KilometresPerHourPerHertz": 2.4 } ] },
              "Sensors": [
                { "Id": "air", "Driver": "Bme280", "I2cBus": 17, "Address": "0x76", "PollPeriod": "00:00:01" },
                { "Id": "dust", "Driver": "Pms5003", "SerialPort": "{{missingUart}}", "PollPeriod": "00:00:01" } ],
              "Modbus": {
                "Links": [
                  { "Id": "rs485-1", "Transport": "Rtu", "SerialPort": "{{missingRtu}}", "BaudRate": 9600, "Timeout": "00:00:00.2", "Retries": 1 },
                  { "Id": "tcp", "Transport": "Tcp", "Host": "127.0.0.1", "Port": {{plc.Port}}, "Timeout": "00:00:01" } ],
                "Devices": [
                  { "Id": "wx1", "Link": "rs485-1", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.5" },
                  { "Id": "env1", "Link": "tcp", "Profile": "env-station", "UnitId": 1, "PollPeriod": "00:00:00.5" } ] } } }
            """);
        var log = new CapturingLoggerProvider();
        using var host = GatewayHost.Build(["--config", config], b => b.Logging.AddProvider(log));
        await host.StartAsync();
        try
        {
            var outbox = host.Services.GetRequiredService<SqliteOutbox>();
            string[] failing = ["cab1/door", "cab1/rain_total", "cab1/rain_rate", "cab1/wind", "air/temperature", "air/pressure",
                "air/humidity", "dust/pm1", "dust/pm2_5", "dust/pm10", "wx1/pm2_5", "wx1/humidity"];
            Dictionary<string, List<Reading>> Pending() => outbox.Peek(100_000).Select(s => s.Reading)
                .GroupBy(r => r.Channel).ToDictionary(g => g.Key, g => g.ToList());

            // Cycle after cycle: at least four readings of each channel (the periods are 0.5 s and 1 s).
            await Eventually.True(() =>
            {
                var p = Pending();
                return failing.Append("env1/pm2_5").All(c => p.TryGetValue(c, out var l) && l.Count >= 4);
            }, TimeSpan.FromSeconds(30), "four cycles of every channel");

            var pending = Pending();
            foreach (var channel in failing)
            {
                Assert.All(pending[channel], r =>
                {
                    Assert.Equal(Quality.CommFailure, r.Quality);
                    Assert.Null(r.Value);
                });
            }

            Assert.All(pending["env1/pm2_5"], r => Assert.Equal((Quality.Good, (double?)45.2), (r.Quality, r.Value)));

            var lines = log.Lines.ToArray();
            string[] Naming(string path) => lines.Where(l => l.Contains(path, StringComparison.Ordinal)).ToArray();
            Assert.Equal(2, Naming(missingRtu).Concat(Naming(missingUart)).Count());
            Assert.Contains("enable_uart=1", Assert.Single(Naming(missingRtu)));
            Assert.Contains("no such device", Assert.Single(Naming(missingRtu)));
            Assert.Contains("enable_uart=1", Assert.Single(Naming(missingUart)));
            Assert.Contains("dtparam=i2c_arm=on", Assert.Single(Naming("/dev/i2c-17")));
            var gpio = Assert.Single(Naming("/dev/gpiochip7"));
            Assert.Contains("gpiodetect", gpio);
            Assert.DoesNotContain(lines, l => l.Contains("   at ", StringComparison.Ordinal)); // no stack trace
            Assert.DoesNotContain(lines, l => l.Contains("Access to the port", StringComparison.Ordinal));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>Every log line at Warning or above, with its exception's stack trace if any, as one string.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : "\n" + exception)}");
                }
            }
        }
    }
}
