using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using IocEdge.Edge;
using IocEdge.Edge.Configuration;
using Spectre.Console;

namespace IocEdge.Cli;

/// <summary>
/// <c>iocedge init</c>: writes a gateway configuration from flags, asking on a terminal for what is missing. The file
/// is checked by the gateway's own validation before it replaces anything, and an existing file is kept unless --force.
/// </summary>
internal static class InitCommand
{
    public static Command Build(CliConsole console)
    {
        var init = new Command("init", """
            Write a gateway configuration. Flags give the values; on a terminal, missing required ones (--id,
            --mqtt-host) are asked for. The result is checked as the gateway checks it before it is written; an existing
            file is never replaced without --force. Exit 1 when the file exists, 78 when the result is not valid.

            Examples:
              iocedge init --id gw-station-01 --mqtt-host 10.0.0.5
              iocedge init --config ./gateway.json --id gw-pole-07 --mqtt-host ioc.example.vn --mqtt-username gw-pole-07 \
                --mqtt-password SECRET --modbus-serial /dev/ttyUSB0 --baud 9600 --parity E --device wx1:weather-station:1
            """);
        var config = new Option<string>("--config") { Description = "the file to write", DefaultValueFactory = _ => GatewayHost.DefaultConfigPath, HelpName = "FILE" };
        var id = new Option<string?>("--id") { Description = "gateway id: lower-case letters, digits and '-' (gw-thuda-mot-07)" };
        var host = new Option<string?>("--mqtt-host") { Description = "the aggregator's (or broker's) host name or address" };
        var port = new Option<int>("--mqtt-port") { Description = "MQTT port", DefaultValueFactory = _ => 1883 };
        var user = new Option<string?>("--mqtt-username") { Description = "MQTT user name (from the aggregator's administrator)" };
        var password = new Option<string?>("--mqtt-password") { Description = "MQTT password" };
        var dataDir = new Option<string>("--data-dir") { Description = "where the outbox lives", DefaultValueFactory = _ => new GatewayOptions().DataDirectory, HelpName = "DIR" };
        var tcp = new Option<string?>("--modbus-tcp") { Description = "a Modbus TCP link: HOST[:PORT]", HelpName = "HOST[:PORT]" };
        var serial = new Option<string?>("--modbus-serial") { Description = "an RS-485 link (RTU): the serial device", HelpName = "DEV" };
        var baud = new Option<int>("--baud") { Description = "baud rate of --modbus-serial", DefaultValueFactory = _ => 9600 };
        var parity = new Option<string>("--parity") { Description = "parity of --modbus-serial: N, E or O", DefaultValueFactory = _ => "N" };
        var devices = new Option<string[]>("--device") { Description = "an instrument on the link: ID:PROFILE:UNIT (repeat the option for more)", HelpName = "ID:PROFILE:UNIT" };
        var force = new Option<bool>("--force") { Description = "replace an existing file" };
        foreach (var o in new Option[] { config, id, host, port, user, password, dataDir, tcp, serial, baud, parity, devices, force })
        {
            init.Add(o);
        }

        init.SetAction(p =>
        {
            var path = p.GetValue(config)!;
            if (File.Exists(path) && !p.GetValue(force))
            {
                console.Fail($"{path} exists; it was left as it is. Pass --force to replace it (or --config to write elsewhere).");
                return ExitCodes.CheckFailed;
            }

            var gatewayId = p.GetValue(id) ?? Ask(console, "Gateway id (e.g. gw-station-01)", "--id");
            var mqttHost = p.GetValue(host) ?? Ask(console, "Aggregator host (MQTT)", "--mqtt-host");
            var mqtt = new JsonObject { ["Host"] = mqttHost, ["Port"] = p.GetValue(port) };
            if (p.GetValue(user) is { } u)
            {
                mqtt["Username"] = u;
                mqtt["Password"] = p.GetValue(password) ?? (console.Interactive ? console.Ansi.Prompt(new TextPrompt<string>("MQTT password:").Secret()) : null);
            }

            var gateway = new JsonObject { ["Id"] = gatewayId, ["DataDirectory"] = p.GetValue(dataDir), ["Mqtt"] = mqtt };
            var deviceSpecs = p.GetValue(devices) ?? [];
            var tcpLink = p.GetValue(tcp);
            var serialLink = p.GetValue(serial);
            if (tcpLink is not null && serialLink is not null)
            {
                throw new UsageException("give one of --modbus-tcp and --modbus-serial (add further links by editing the file).");
            }

            if (deviceSpecs.Length > 0 || tcpLink is not null || serialLink is not null)
            {
                if (tcpLink is null && serialLink is null)
                {
                    throw new UsageException("--device needs a link: --modbus-tcp HOST[:PORT] or --modbus-serial DEV.");
                }

                JsonObject link;
                if (tcpLink is not null)
                {
                    var (h, pt) = ModbusLinkOptions.HostPort(tcpLink, 502);
                    link = new JsonObject { ["Id"] = "modbus-tcp", ["Transport"] = "Tcp", ["Host"] = h, ["Port"] = pt };
                }
                else
                {
                    link = new JsonObject
                    {
                        ["Id"] = "rs485-1", ["Transport"] = "Rtu", ["SerialPort"] = serialLink, ["BaudRate"] = p.GetValue(baud),
                        ["Parity"] = ModbusLinkOptions.ParityLetter(ModbusLinkOptions.ParseParity(p.GetValue(parity)!)), ["StopBits"] = 1,
                    };
                }

                var list = new JsonArray();
                foreach (var spec in deviceSpecs)
                {
                    var parts = spec.Split(':');
                    if (parts.Length != 3 || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var unit))
                    {
                        throw new UsageException($"--device '{spec}': write ID:PROFILE:UNIT, such as wx1:weather-station:1.");
                    }

                    list.Add(new JsonObject { ["Id"] = parts[0], ["Link"] = link["Id"]!.GetValue<string>(), ["Profile"] = parts[1], ["UnitId"] = unit });
                }

                gateway["Modbus"] = new JsonObject { ["Links"] = new JsonArray(link), ["Devices"] = list };
            }

            var text = new JsonObject { ["Gateway"] = gateway }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var temp = full + ".new";
            File.WriteAllText(temp, text);
            var (options, problems) = GatewayConfig.TryLoad(temp);
            if (options is null)
            {
                File.Delete(temp);
                console.Fail($"not written: the configuration would not be valid ({problems.Count} problem(s)):");
                foreach (var problem in problems)
                {
                    console.Error.WriteLine(problem.Replace(temp, path, StringComparison.Ordinal));
                }

                return ExitCodes.Config;
            }

            File.Move(temp, full, overwrite: true);
            console.Out.WriteLine($"wrote {path}: gateway {options.Id}, broker {options.Mqtt.Host}:{options.Mqtt.Port}, {options.Modbus.Devices.Count} Modbus device(s)");
            console.Out.WriteLine($"next: iocedge doctor --config {path}");
            return ExitCodes.Ok;
        });
        return init;
    }

    private static string Ask(CliConsole console, string question, string flag)
    {
        if (!console.Interactive)
        {
            throw new UsageException($"{flag} is missing (no terminal to ask on): pass {flag} VALUE.");
        }

        return console.Ansi.Ask<string>(Markup.Escape(question) + ":");
    }
}
