using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Forwarding;
using IocEdge.Edge.Outbox;
using IocEdge.Protocols.Mqtt;
using Microsoft.Data.Sqlite;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Exceptions;

namespace IocEdge.Cli;

/// <summary>One row of the doctor's table.</summary>
/// <param name="Name">What was checked ("config", "modbus env1", "broker").</param>
/// <param name="Detail">What was found.</param>
/// <param name="Status">"pass", "fail", "unknown" (could not be determined: not a failure) or "skipped".</param>
/// <param name="Fix">What to do when it failed.</param>
internal sealed record DoctorCheck(string Name, string Status, string Detail, string? Fix = null);

/// <summary>
/// <c>iocedge doctor</c>: is this gateway ready to leave? Config, clock, disk, outbox, every Modbus slave, the broker
/// (CONNECT with the configured credentials, the CONNACK reason code by name). Each failing row carries its fix.
/// </summary>
internal static class DoctorCommand
{
    public const string Pass = "pass";
    public const string Fail = "fail";
    public const string Unknown = "unknown";
    public const string Skipped = "skipped";

    public static Command Build(CliConsole console)
    {
        var doctor = new Command("doctor", """
            Check this gateway: configuration valid; clock synchronised; disk free for the data directory; outbox
            health; each configured Modbus slave answers; the broker is reachable and accepts CONNECT with the
            configured credentials. A pass/fail table, each failure with its fix. Exit 1 when any check fails.
            On a serial line, stop the gateway first (two masters on one RS-485 line disturb each other).

            Examples:
              iocedge doctor
              iocedge doctor --config ./gateway.json --json
            """);
        var config = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        doctor.Add(config);
        doctor.Add(json);
        doctor.SetAction(async (p, ct) =>
        {
            var checks = await RunChecksAsync(console, p.GetValue(config)!, TimeProvider.System, ct).ConfigureAwait(false);
            var ok = checks.All(c => c.Status != Fail);
            if (p.GetValue(json))
            {
                Json.Write(console, new JsonObject
                {
                    ["ok"] = ok,
                    ["checks"] = new JsonArray(checks.Select(c => (JsonNode)new JsonObject
                    {
                        ["name"] = c.Name, ["status"] = c.Status, ["detail"] = c.Detail, ["fix"] = c.Fix,
                    }).ToArray()),
                });
            }
            else if (console.Narrow)
            {
                foreach (var c in checks)
                {
                    console.Out.WriteLine($"{c.Status.ToUpperInvariant()} {c.Name}: {c.Detail}");
                    if (c.Fix is not null && c.Status == Fail)
                    {
                        console.Out.WriteLine("  fix: " + c.Fix);
                    }
                }
            }
            else
            {
                console.Rows(["check", "result", "detail", "fix"],
                    checks.Select(c => (IReadOnlyList<string>)[c.Name, c.Status.ToUpperInvariant(), c.Detail, c.Status == Fail ? c.Fix ?? string.Empty : string.Empty]));
            }

            if (!p.GetValue(json))
            {
                console.Out.WriteLine(ok ? "all checks passed" : $"{checks.Count(c => c.Status == Fail)} check(s) failed");
            }

            return ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
        });
        return doctor;
    }

    internal static async Task<List<DoctorCheck>> RunChecksAsync(CliConsole console, string path, TimeProvider time, CancellationToken ct)
    {
        var checks = new List<DoctorCheck>();
        var (options, problems) = GatewayConfig.TryLoad(path);
        if (options is null)
        {
            checks.Add(new("config", Fail, $"{path}: {problems.Count} problem(s); first: {(problems.Count > 0 ? problems[0] : string.Empty)}",
                $"run `iocedge config validate --config {path}` and fix each line it prints (or `iocedge init` to write one)"));
            checks.Add(new("the rest", Skipped, "needs a valid configuration"));
            return checks;
        }

        checks.Add(new("config", Pass, $"{path}: gateway {options.Id}"));

        var clock = ClockState.Check(console, time);
        checks.Add(new("clock", clock.State switch { ClockState.Synchronised => Pass, ClockState.NotSynchronised => Fail, _ => Unknown },
            $"{clock.State}: {clock.Detail}",
            "enable NTP: `sudo timedatectl set-ntp true` (systemd-timesyncd) and let it reach a time server (UDP 123); readings taken meanwhile are kept and corrected"));

        checks.Add(Disk(options));
        checks.Add(Outbox(options, time));

        foreach (var device in options.Modbus.Devices)
        {
            checks.Add(await ModbusAsync(options, device, ct).ConfigureAwait(false));
        }

        checks.AddRange(await BrokerAsync(options, time, ct).ConfigureAwait(false));
        return checks;
    }

    private static DoctorCheck Disk(GatewayOptions options)
    {
        var dir = options.DataDirectory;
        var existing = dir;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
        {
            existing = parent;
        }

        var free = OutboxReadOnlyView.FreeBytes(existing);
        var floor = Math.Max(2 * options.Outbox.MinFreeBytes, 64L * 1024 * 1024);
        if (free < 0)
        {
            return new("disk", Unknown, $"free space of {existing} cannot be read");
        }

        var detail = $"{OutboxCommands.Size(free)} free for {dir}{(existing == dir ? string.Empty : $" (not created yet; measured at {existing})")}";
        return free >= floor
            ? new("disk", Pass, detail)
            : new("disk", Fail, detail + $", below {OutboxCommands.Size(floor)}",
                "free space on that filesystem (`sudo journalctl --vacuum-size=50M`, old files in /var/log); the gateway evicts its oldest readings below Gateway:Outbox:MinFreeBytes");
    }

    private static DoctorCheck Outbox(GatewayOptions options, TimeProvider time)
    {
        OutboxHealth? h;
        try
        {
            h = OutboxReadOnlyView.Read(options.DataDirectory);
        }
        catch (SqliteException ex)
        {
            return new("outbox", Fail, $"{options.OutboxPath} cannot be read: {ex.Message}",
                "restart the gateway: it moves a corrupt outbox to quarantine/ and starts a new one");
        }

        if (h is null)
        {
            return new("outbox", Pass, "no outbox yet (the gateway has not run with this data directory)");
        }

        var age = h.OldestPending is { } o ? time.GetUtcNow() - o : TimeSpan.Zero;
        var detail = $"{h.Pending} pending" + (h.Pending > 0 ? $", oldest {OutboxCommands.Age(age)}" : string.Empty)
                     + $", {OutboxCommands.Size(h.Bytes)}, {h.QuarantinedFiles} quarantined, {h.DroppedByReason.Values.Sum()} dropped";
        if (h.QuarantinedFiles > 0)
        {
            return new("outbox", Fail, detail,
                $"a corrupt outbox was set aside in {Path.Combine(options.DataDirectory, "quarantine")}: copy it off for recovery (sqlite3), then delete it there");
        }

        return age > TimeSpan.FromMinutes(15)
            ? new("outbox", Fail, detail, "readings are not leaving: see the broker row; `iocedge outbox status` for details")
            : new("outbox", Pass, detail);
    }

    private static async Task<DoctorCheck> ModbusAsync(GatewayOptions options, ModbusDeviceOptions device, CancellationToken ct)
    {
        var name = $"modbus {device.Id}";
        var link = options.Modbus.Links.First(l => l.Id == device.Link);
        var where = link.Transport is ModbusTransport.Tcp or ModbusTransport.RtuOverTcp
            ? $"{link.Host}:{link.Port}" : $"{link.SerialPort} {link.BaudRate} {link.DataBits}{link.Parity}{link.StopBits}";
        if (link.Transport is ModbusTransport.Rtu or ModbusTransport.Ascii && link.SerialPort is { } port && !File.Exists(port))
        {
            return new(name, Fail, $"unit {device.UnitId}: {IocEdge.Edge.Sources.SerialLinkCheck.Missing(port)}",
                $"connect the RS-485 adapter or enable the UART, or correct Gateway:Modbus:Links ({link.Id}) SerialPort");
        }

        var channels = GatewayConfig.Channels(new GatewayOptions { Modbus = new() { Links = [link], Devices = [device] }, ProfilesDirectory = options.ProfilesDirectory });
        var channel = channels.Count > 0 ? channels[0] : null;
        if (channel is null)
        {
            return new(name, Unknown, "no readable point in its profile");
        }

        var one = new GatewayOptions { Id = options.Id, Modbus = new() { Links = [link], Devices = [device] }, ProfilesDirectory = options.ProfilesDirectory };
        var wait = (link.Timeout * (link.Retries + 1) * 2) + TimeSpan.FromSeconds(2);
        var got = await ReadCommand.TakeAsync(one, channel, wait, ct).ConfigureAwait(false);
        var scan = link.Transport is ModbusTransport.Tcp
            ? $"iocedge modbus scan --tcp {link.Host}:{link.Port} --units 1-32"
            : link.Transport is ModbusTransport.RtuOverTcp ? $"iocedge modbus scan --rtu-over-tcp {link.Host}:{link.Port}"
            : $"iocedge modbus scan --serial {link.SerialPort} --baud all --parity all";
        return got switch
        {
            { Reading.Quality: Quality.Good or Quality.Stale or Quality.OutOfRange } g =>
                new(name, Pass, $"unit {device.UnitId} on {where}: {g.Reading.Channel} = {g.Reading.Value} {g.Reading.Unit}"),
            { Reading.Quality: Quality.CommFailure } =>
                new(name, Fail, $"unit {device.UnitId} on {where} does not answer",
                    $"check power, wiring (A/B), unit id {device.UnitId} and line settings; `{scan}` finds what answers"),
            { } bad => new(name, Fail, $"unit {device.UnitId} on {where} answers, but {bad.Reading.Channel} is {QualityNames.ToWire(bad.Reading.Quality)}",
                $"check that profile '{device.Profile}' matches the instrument (`iocedge modbus read` its registers)"),
            null => new(name, Unknown, "no channel to read"),
        };
    }

    /// <summary>A client certificate expiring within this is a failure: renewing needs a token and a visit or a link.</summary>
    internal static readonly TimeSpan CertificateRenewalWarning = TimeSpan.FromDays(30);

    /// <summary>
    /// The broker row (CONNECT with the configured credentials), preceded by a "tls" row when Gateway:Mqtt:Tls is on: the
    /// handshake's result (broker certificate verified, or why not: CA unknown, name mismatch, expired, client certificate
    /// refused, no TLS on that port) and the days left on both certificates.
    /// </summary>
    private static async Task<List<DoctorCheck>> BrokerAsync(GatewayOptions options, TimeProvider time, CancellationToken ct)
    {
        var m = options.Mqtt;
        var where = $"{m.Host}:{m.Port}";
        var rows = new List<DoctorCheck>();
        using var client = new MqttClientFactory().CreateMqttClient();
        // A client id of its own: the gateway's id would take over (and drop) a running gateway's session.
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(m.Host, m.Port)
            .WithClientId(options.Id + ".doctor")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithTimeout(m.Timeout);
        if (!string.IsNullOrEmpty(m.Username))
        {
            builder.WithCredentials(m.Username, m.Password);
        }

        TlsSession? tls = null;
        try
        {
            if (m.Tls.Enabled)
            {
                try
                {
                    tls = MqttTls.CreateSession(m, time);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
                {
                    rows.Add(new("tls", Fail, $"the TLS files cannot be loaded: {ex.Message}", "run `iocedge config validate` and fix the Gateway:Mqtt:Tls lines it prints"));
                    rows.Add(new("broker", Skipped, "needs the TLS files"));
                    return rows;
                }

                tls.Apply(builder);
            }

            MqttClientConnectResultCode code;
            try
            {
                var result = await client.ConnectAsync(builder.Build(), ct).ConfigureAwait(false);
                code = result.ResultCode;
                if (code == MqttClientConnectResultCode.Success)
                {
                    await client.DisconnectAsync(cancellationToken: ct).ConfigureAwait(false);
                }
            }
            catch (MqttConnectingFailedException ex) when (RefusalIn(ex) is { } refused)
            {
                code = refused; // the server answered CONNACK with a failure reason code
            }
            catch (Exception ex) when (tls?.Explain(ex) is { } failure)
            {
                rows.Add(new("tls", Fail, $"{where}: {failure.Kind}: {failure.Detail}", failure.Fix));
                rows.Add(new("broker", Skipped, "needs a TLS session"));
                return rows;
            }
            catch (Exception ex) when (ex is MqttCommunicationException or SocketException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                rows.Add(new("broker", Fail, $"{where} unreachable: {(ex.InnerException ?? ex).Message}",
                    $"check Gateway:Mqtt:Host/Port, the network (`ping {m.Host}`), and that port {m.Port} is open on the aggregator"));
                return rows;
            }

            if (tls is not null)
            {
                rows.Add(TlsRow(tls, m, time));
            }

            var reason = FormattableString.Invariant($"CONNACK {code} (0x{(int)code:X2})");
            var who = tls?.ClientCertificate is { } c ? $"certificate {c.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false)}"
                : string.IsNullOrEmpty(m.Username) ? "anonymous" : m.Username;
            rows.Add(code == MqttClientConnectResultCode.Success
                ? new("broker", Pass, $"{where} accepted CONNECT as {who}: {reason}")
                : new("broker", Fail, $"{where} refused CONNECT: {reason}", BrokerFix(options)));
            return rows;
        }
        finally
        {
            tls?.Dispose();
        }
    }

    private static DoctorCheck TlsRow(TlsSession tls, GatewayMqttOptions m, TimeProvider time)
    {
        var now = time.GetUtcNow();
        static int Days(DateTime notAfter, DateTimeOffset now) => (int)Math.Floor((new DateTimeOffset(notAfter.ToUniversalTime()) - now).TotalDays);
        var trust = string.IsNullOrEmpty(m.Tls.CaFile) ? "the system trust store" : m.Tls.CaFile;
        var detail = tls.BrokerCertificate is { } broker
            ? $"broker certificate '{broker.Subject}' verified as {tls.ServerName} by {trust}, expires in {Days(broker.NotAfter, now)} days"
            : $"verified as {tls.ServerName} by {trust}";
        if (tls.ClientCertificate is not { } client)
        {
            return new("tls", Pass, detail + "; no client certificate");
        }

        var left = Days(client.NotAfter, now);
        detail += $"; client certificate '{client.Subject}' accepted, expires in {left} days";
        return left < CertificateRenewalWarning.TotalDays
            ? new("tls", Fail, detail, "renew the client certificate before it expires: a new token from the administrator, then `iocedge provision --csr` and a restart")
            : new("tls", Pass, detail);
    }

    /// <summary>The CONNACK reason code named in a connect failure, or null when the failure was not a CONNACK (no TCP, timeout).</summary>
    private static MqttClientConnectResultCode? RefusalIn(MqttConnectingFailedException ex) =>
        Enum.GetValues<MqttClientConnectResultCode>()
            .Where(c => c != MqttClientConnectResultCode.Success && ex.Message.Contains(c.ToString(), StringComparison.Ordinal))
            .OrderByDescending(c => c.ToString().Length)
            .Select(c => (MqttClientConnectResultCode?)c)
            .FirstOrDefault();

    private static string BrokerFix(GatewayOptions options) =>
        string.IsNullOrEmpty(options.Mqtt.Username)
            ? "the broker wants credentials: set Gateway:Mqtt:Username and Password (from the aggregator's administrator or `iocedge provision`)"
            : "check Gateway:Mqtt:Username and Password with the aggregator's administrator (a revoked or rotated credential is refused)";
}
