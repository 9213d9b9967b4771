using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Outbox;
using Microsoft.Data.Sqlite;

namespace IocEdge.Cli;

/// <summary><c>iocedge outbox status</c>: the outbox read with SQLite read-only, safe while the gateway runs.</summary>
internal static class OutboxCommands
{
    public static Command Build(CliConsole console)
    {
        var outbox = new Command("outbox", "the gateway's store of readings not yet acknowledged");
        var status = new Command("status", """
            Show the outbox: readings waiting, the oldest one's age, bytes on the card, dead letters, quarantined files,
            readings dropped by reason, and the clock state. Opens the file read-only (safe while the gateway runs).
            The data directory is --data-dir, else the configuration's Gateway:DataDirectory, else /var/lib/iocedge-gateway.
            Exit 1 when there is no outbox or it cannot be read.

            Examples:
              iocedge outbox status
              iocedge outbox status --data-dir /var/lib/iocedge-gateway --json
            """);
        var dataDir = new Option<string?>("--data-dir") { Description = "the gateway's data directory (holds outbox.db)", HelpName = "DIR" };
        var config = IocEdgeCli.ConfigOption();
        var json = IocEdgeCli.JsonOption();
        status.Add(dataDir);
        status.Add(config);
        status.Add(json);
        status.SetAction(p =>
        {
            var dir = p.GetValue(dataDir);
            if (dir is null)
            {
                var path = p.GetValue(config)!;
                dir = File.Exists(path) ? GatewayConfig.LoadOrFail(console, path).DataDirectory : new GatewayOptions().DataDirectory;
            }

            return Status(console, dir, p.GetValue(json), TimeProvider.System);
        });
        outbox.Add(status);
        return outbox;
    }

    internal static int Status(CliConsole console, string dir, bool json, TimeProvider time)
    {
        OutboxHealth? h;
        try
        {
            h = OutboxReadOnlyView.Read(dir);
        }
        catch (SqliteException ex)
        {
            console.Fail($"{Path.Combine(dir, "outbox.db")} cannot be read: {ex.Message} (the gateway quarantines a corrupt file at its next start).");
            return ExitCodes.CheckFailed;
        }

        if (h is null)
        {
            console.Fail($"no outbox at {Path.Combine(dir, "outbox.db")}: the gateway has not run with this data directory (check Gateway:DataDirectory or --data-dir).");
            return ExitCodes.CheckFailed;
        }

        var clock = ClockState.Check(console, time);
        var now = time.GetUtcNow();
        TimeSpan? age = h.OldestPending is { } o ? now - o : null;
        if (json)
        {
            var dropped = new JsonObject();
            foreach (var (reason, n) in h.DroppedByReason)
            {
                dropped[reason] = n;
            }

            Json.Write(console, new JsonObject
            {
                ["path"] = Path.Combine(dir, "outbox.db"),
                ["stream_id"] = h.StreamId,
                ["pending"] = h.Pending,
                ["oldest_pending"] = h.OldestPending?.ToString("O", CultureInfo.InvariantCulture),
                ["oldest_age_s"] = age is { } a ? Math.Round(a.TotalSeconds) : null,
                ["bytes"] = h.Bytes,
                ["used_bytes"] = h.UsedBytes,
                ["disk_free_bytes"] = h.DiskFreeBytes,
                ["dead_letters"] = h.DeadLettered,
                ["quarantined_files"] = h.QuarantinedFiles,
                ["dropped_by_reason"] = dropped,
                ["clock_untrusted"] = h.ClockUntrusted,
                ["clock"] = clock.State,
                ["clock_detail"] = clock.Detail,
            });
            return ExitCodes.Ok;
        }

        var w = console.Out;
        w.WriteLine($"outbox {Path.Combine(dir, "outbox.db")}");
        w.WriteLine($"stream: {h.StreamId}");
        w.WriteLine(FormattableString.Invariant($"pending: {h.Pending} reading(s)") + (age is { } x ? $", oldest {Age(x)} ago" : string.Empty));
        w.WriteLine($"bytes: {Size(h.Bytes)} on the card ({Size(h.UsedBytes)} live); disk free {(h.DiskFreeBytes >= 0 ? Size(h.DiskFreeBytes) : "unknown")}");
        w.WriteLine(FormattableString.Invariant($"dead letters: {h.DeadLettered}"));
        w.WriteLine(FormattableString.Invariant($"quarantined files: {h.QuarantinedFiles}") + (h.QuarantinedFiles > 0 ? $" (in {Path.Combine(dir, "quarantine")})" : string.Empty));
        w.WriteLine("dropped: " + (h.DroppedByReason.Count == 0 ? "none"
            : string.Join(", ", h.DroppedByReason.Select(kv => FormattableString.Invariant($"{kv.Key} {kv.Value}")))));
        w.WriteLine($"clock: {clock.State} ({clock.Detail}); " + FormattableString.Invariant($"readings with an untrusted time: {h.ClockUntrusted}"));
        return ExitCodes.Ok;
    }

    internal static string Age(TimeSpan t) =>
        t.TotalSeconds < 120 ? FormattableString.Invariant($"{Math.Max(0, t.TotalSeconds):0} s")
        : t.TotalMinutes < 120 ? FormattableString.Invariant($"{t.TotalMinutes:0} min")
        : t.TotalHours < 48 ? FormattableString.Invariant($"{t.TotalHours:0.0} h")
        : FormattableString.Invariant($"{t.TotalDays:0.0} days");

    internal static string Size(long bytes) =>
        bytes < 1024 ? FormattableString.Invariant($"{bytes} B")
        : bytes < 1024 * 1024 ? FormattableString.Invariant($"{bytes / 1024.0:0.0} KiB")
        : bytes < 1024L * 1024 * 1024 ? FormattableString.Invariant($"{bytes / 1048576.0:0.0} MiB")
        : FormattableString.Invariant($"{bytes / 1073741824.0:0.0} GiB");
}
