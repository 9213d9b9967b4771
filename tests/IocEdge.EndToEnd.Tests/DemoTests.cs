using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using IocEdge.Testing;

namespace IocEdge.EndToEnd.Tests;

/// <summary>The README's run command, as a user runs it: a process that prints a URL where live values show.</summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "foundation")]
public sealed partial class DemoTests
{
    [GeneratedRegex(@"Open\s+(http://127\.0\.0\.1:\d+/)")]
    private static partial Regex UrlLine();

    [Fact]
    [Trait(Traits.Acceptance, "devices")]
    public async Task The_demo_prints_a_url_that_shows_every_instrument_live_within_ten_seconds()
    {
        using var dir = new TempDirectory("demo");
        // A folder the user already uses: starting afresh removes only what an earlier demo run wrote there.
        File.WriteAllText(Path.Combine(dir.Path, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(dir.Path, "aggregator"));
        File.WriteAllText(Path.Combine(dir.Path, "aggregator", "left-by-an-earlier-run.txt"), "old");
        var demo = Path.Combine(AppContext.BaseDirectory, "iocedge-demo.dll");
        await using var process = PeerProcess.Start("dotnet", [demo, "--http-port", "0", "--data", dir.Path]);

        var url = (await Eventually.Get(() => Task.FromResult(UrlLine().Match(process.Output) is { Success: true } m ? m.Groups[1].Value : null),
            TimeSpan.FromSeconds(60), "the demo to print its URL")).ToString();
        var printed = Stopwatch.StartNew();
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        // Every instrument of the simulated station, the pole's GPIO switches and counters and its bus sensors
        // show a good value.
        await Eventually.True(async () =>
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/latest", UriKind.Relative)));
            var good = doc.RootElement.GetProperty("readings").EnumerateArray()
                .Where(r => r.GetProperty("quality").GetString() == "good")
                .Select(r => r.GetProperty("channel").GetString()!.Split('/')[0]).ToHashSet();
            return good.SetEquals(["env1", "wx1", "gas1", "wq1", "pole1", "air", "dust"]);
        }, TimeSpan.FromSeconds(30), "every instrument's values at " + url);
        Assert.True(printed.Elapsed < TimeSpan.FromSeconds(10), $"values took {printed.Elapsed.TotalSeconds:0.0} s to show after the URL was printed");

        // History too, on any machine: the demo's gateway shares the aggregator's clock, so its readings are never
        // clock-untrusted (which would keep them out of latest values and history buckets), NTP or not.
        await Eventually.True(async () =>
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/channels", UriKind.Relative)));
            return doc.RootElement.GetProperty("channels").EnumerateArray()
                .Any(c => c.GetProperty("channel").GetString() == "env1/pm2_5" && c.GetProperty("last_ts").ValueKind == JsonValueKind.String);
        }, TimeSpan.FromSeconds(30), "a last_ts for env1/pm2_5 in /api/v1/channels");
        using (var history = JsonDocument.Parse(await http.GetStringAsync(new Uri(
            "api/v1/history?gateway=gw-demo-01&channel=env1/pm2_5&step=60&agg=avg", UriKind.Relative))))
        {
            Assert.NotEmpty(history.RootElement.GetProperty("points").EnumerateArray());
        }

        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir.Path, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "aggregator", "left-by-an-earlier-run.txt")));

        var page = await http.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("/api/v1/latest", page, StringComparison.Ordinal);
        Assert.False(process.HasExited, process.Output);
    }

    // A data folder the demo cannot use: one line naming --data, the problem and the fix, exit 73; no stack trace.
    [Fact]
    public async Task A_data_folder_the_demo_cannot_write_gets_one_line_and_exit_73()
    {
        var demo = Path.Combine(AppContext.BaseDirectory, "iocedge-demo.dll");
        var (code, output) = await PeerProcess.RunAsync("dotnet", [demo, "--http-port", "0", "--data", "/proc/iocedge-demo"], TimeSpan.FromSeconds(60));

        Assert.Equal(73, code);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("--data /proc/iocedge-demo: cannot use this folder", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    // Command-line mistakes: one line naming the option, the problem and the fix, exit 64 (EX_USAGE); no usage dump.
    [Theory]
    [InlineData("--http-port abc", "--http-port 'abc' is not a port number: give 1-65535, or 0 for a free one")]
    [InlineData("--http-port 70000", "--http-port '70000' is not a port number")]
    [InlineData("--http-port", "--http-port needs a port number")]
    [InlineData("--data", "--data needs a folder")]
    [InlineData("--verbose", "'--verbose' is not an option of iocedge-demo: see iocedge-demo --help")]
    public async Task A_command_line_mistake_gets_one_line_naming_the_option_and_exit_64(string arguments, string expected)
    {
        var demo = Path.Combine(AppContext.BaseDirectory, "iocedge-demo.dll");
        var (code, output) = await PeerProcess.RunAsync("dotnet", [demo, .. arguments.Split(' ')], TimeSpan.FromSeconds(60));

        Assert.Equal(64, code);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
    }

    // A port asked for with --http-port that is taken stops the demo (its URL would otherwise not be the one asked
    // for); nothing is started, nothing written.
    [Fact]
    public async Task An_http_port_asked_for_that_is_taken_gets_one_line_and_exit_69()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        using var dir = new TempDirectory("demo-port");
        var demo = Path.Combine(AppContext.BaseDirectory, "iocedge-demo.dll");

        var (code, output) = await PeerProcess.RunAsync("dotnet", [demo, "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--data", dir.Path], TimeSpan.FromSeconds(60));

        Assert.Equal(69, code);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"--http-port {port}: the port is in use", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "aggregator")));
    }
}
