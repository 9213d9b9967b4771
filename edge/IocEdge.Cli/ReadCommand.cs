using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Cli;

/// <summary>
/// <c>iocedge read CHANNEL</c>: one live reading of a configured channel through the gateway's own sources (Modbus
/// profile and poller, GPIO, sensor drivers), so what is shown is what the gateway would send.
/// </summary>
internal static class ReadCommand
{
    public static Command Build(CliConsole console)
    {
        var read = new Command("read", """
            Take one live reading of a configured channel ("device/point") through the gateway's own drivers and
            profiles: value, unit and quality, as the gateway would send it. Exit 0 for a value, 1 when the device
            answered without one (device_exception, invalid), 69 when it did not answer (comm_failure).
            On a serial line, stop the gateway first (two masters on one RS-485 line disturb each other).

            Examples:
              iocedge read env1/pm2_5
              iocedge read wq1/ph --config ./gateway.json --json
            """);
        var channel = new Argument<string>("CHANNEL") { Description = "the channel id, device/point (iocedge config validate --json lists them)" };
        var config = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        var timeout = new Option<int>("--wait") { Description = "seconds to wait for the reading", DefaultValueFactory = _ => 15, HelpName = "S" };
        read.Add(channel);
        read.Add(config);
        read.Add(json);
        read.Add(timeout);
        read.SetAction(async (p, ct) =>
        {
            var options = GatewayConfig.LoadOrFail(console, p.GetValue(config)!);
            var wanted = p.GetValue(channel)!;
            var reading = await TakeAsync(options, wanted, TimeSpan.FromSeconds(p.GetValue(timeout)), ct).ConfigureAwait(false);
            if (reading is null)
            {
                var known = GatewayConfig.Channels(options);
                throw new UsageException($"'{wanted}' is not a configured channel. Channels: {string.Join(", ", known.Take(30))}{(known.Count > 30 ? ", ..." : string.Empty)}");
            }

            var r = reading.Value.Reading;
            if (reading.Value.TimedOut)
            {
                console.Fail($"{wanted}: no reading within {p.GetValue(timeout)} s.");
                return ExitCodes.Unavailable;
            }

            var quality = QualityNames.ToWire(r.Quality);
            if (p.GetValue(json))
            {
                Json.Write(console, new JsonObject
                {
                    ["channel"] = r.Channel,
                    ["value"] = r.Value,
                    ["unit"] = r.Unit,
                    ["quality"] = quality,
                    ["ts"] = r.Timestamp.ToString("O", CultureInfo.InvariantCulture),
                });
            }
            else
            {
                var value = r.Value is { } v ? v.ToString("G", CultureInfo.InvariantCulture) + " " + r.Unit : "(no value)";
                console.Out.WriteLine($"{r.Channel} = {value} ({quality}) at {r.Timestamp.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC");
            }

            return r.Quality switch
            {
                Quality.Good or Quality.Stale or Quality.OutOfRange => ExitCodes.Ok,
                Quality.CommFailure => ExitCodes.Unavailable,
                _ => ExitCodes.CheckFailed,
            };
        });
        return read;
    }

    /// <summary>The first reading of <paramref name="channel"/>, TimedOut when none came in time; null when no source has the channel.</summary>
    internal static async Task<(Reading Reading, bool TimedOut)?> TakeAsync(GatewayOptions options, string channel, TimeSpan wait, CancellationToken ct)
    {
        var scratch = Directory.CreateTempSubdirectory("iocedge-read-");
        try
        {
            foreach (var (_, _, source) in Sources.Create(options, TimeProvider.System, scratch.FullName))
            {
                await using (source.ConfigureAwait(false))
                {
                    if (!source.Channels.Contains(channel, StringComparer.Ordinal))
                    {
                        continue;
                    }

                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    cts.CancelAfter(wait);
                    try
                    {
                        await foreach (var batch in source.RunAsync(cts.Token).ConfigureAwait(false))
                        {
                            foreach (var r in batch)
                            {
                                if (r.Channel == channel)
                                {
                                    return (r, false);
                                }
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                    }

                    return (new Reading(channel, TimeProvider.System.GetUtcNow(), null, string.Empty, Quality.CommFailure), true);
                }
            }

            return null;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }
}
