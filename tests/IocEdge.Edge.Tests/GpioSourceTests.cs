using System.Device.Gpio;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sources;
using IocEdge.Hardware.SimulatedDevices;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>The gateway's GPIO channels on a simulated chip that behaves like the real one (edges, pulls, callbacks).</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class GpioSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new("gpio");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));

    public void Dispose() => _dir.Dispose();

    private sealed class Provider(SimulatedGpioDriver driver) : IGpioControllerProvider
    {
        public GpioController Open(int chip) => new(driver);
    }

    private static readonly GpioOptions Pole = new()
    {
        Device = "pole7",
        ReportPeriod = TimeSpan.FromSeconds(10),
        Inputs = [new() { Id = "door", Pin = 17 }, new() { Id = "flood", Pin = 27 }],
        Counters = [new() { Id = "rain", Kind = GpioCounterKind.RainGauge, Pin = 22 }, new() { Id = "wind", Kind = GpioCounterKind.Anemometer, Pin = 23 }],
    };

    private static async Task<IReadOnlyList<Reading>> NextAsync(IAsyncEnumerator<IReadOnlyList<Reading>> e)
    {
        var move = e.MoveNextAsync().AsTask();
        Assert.True(await move.WaitAsync(TimeSpan.FromSeconds(10)), "the source ended");
        return e.Current;
    }

    private void Tip(SimulatedGpioDriver driver, int pin, int times)
    {
        for (var i = 0; i < times; i++)
        {
            driver.SetInput(pin, PinValue.Low);
            _time.Advance(TimeSpan.FromMilliseconds(50));
            driver.SetInput(pin, PinValue.High);
            _time.Advance(TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact]
    public async Task A_door_opening_is_reported_at_once_and_rain_tips_add_up_in_the_next_report()
    {
        var driver = new SimulatedGpioDriver(_time);
        driver.SetInput(17, PinValue.High); // door closed: the contact is open, the pull-up holds the pin high
        driver.SetInput(27, PinValue.High);
        driver.SetInput(22, PinValue.High);
        driver.SetInput(23, PinValue.High);
        var source = new GpioSource(Pole, _dir.Path, new Provider(driver), _time, NullLoggerFactory.Instance);
        using var cts = new CancellationTokenSource();
        await using var e = source.RunAsync(cts.Token).GetAsyncEnumerator(cts.Token);

        var first = await NextAsync(e);
        Assert.Equal(["pole7/door", "pole7/flood", "pole7/rain_total", "pole7/rain_rate", "pole7/wind"], first.Select(r => r.Channel));
        Assert.Equal(0, first.Single(r => r.Channel == "pole7/door").Value);

        driver.SetInput(17, PinValue.Low); // the door opens
        _time.Advance(TimeSpan.FromMilliseconds(60)); // past the 50 ms debounce
        var opened = Assert.Single(await NextAsync(e));
        Assert.Equal(("pole7/door", (double?)1, "state"), (opened.Channel, opened.Value, opened.Unit));

        Tip(driver, 22, 5);
        _time.Advance(TimeSpan.FromSeconds(10)); // the next report
        var report = await NextAsync(e);
        Assert.Equal(5 * 0.2794, report.Single(r => r.Channel == "pole7/rain_total").Value!.Value, 6);
        Assert.Equal("mm", report.Single(r => r.Channel == "pole7/rain_total").Unit);
        Assert.Equal(1, report.Single(r => r.Channel == "pole7/door").Value);
        await cts.CancelAsync();
    }

    [Fact]
    public async Task The_rain_total_survives_a_gateway_restart()
    {
        var driver = new SimulatedGpioDriver(_time);
        driver.SetInput(22, PinValue.High);
        var options = new GpioOptions { Device = "wx", Counters = [new() { Id = "rain", Pin = 22 }] };

        await using (var e = new GpioSource(options, _dir.Path, new Provider(driver), _time, NullLoggerFactory.Instance)
                         .RunAsync(CancellationToken.None).GetAsyncEnumerator())
        {
            await NextAsync(e);
            Tip(driver, 22, 3);
        } // stopping flushes the total

        var again = new GpioSource(options, _dir.Path, new Provider(new SimulatedGpioDriver(_time)), _time, NullLoggerFactory.Instance);
        await using var e2 = again.RunAsync(CancellationToken.None).GetAsyncEnumerator();
        var first = await NextAsync(e2);
        Assert.Equal(3 * 0.2794, first.Single(r => r.Channel == "wx/rain_total").Value!.Value, 6);
    }

    [Fact]
    public void A_pin_used_twice_and_a_reserved_pin_are_refused_with_the_key()
    {
        var options = new GatewayOptions
        {
            Id = "gw-a",
            Gpio = new GpioOptions
            {
                Inputs = [new() { Id = "door", Pin = 17 }, new() { Id = "flood", Pin = 1 }],
                Counters = [new() { Id = "rain", Pin = 17 }],
            },
        };

        var result = new GatewayOptionsValidator(new ProfileSource()).Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("Gateway:Gpio:Counters:0:Pin 17 is already used by Gateway:Gpio:Inputs:0", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("Gateway:Gpio:Inputs:1:Pin is 1: GPIO0/1 are reserved", StringComparison.Ordinal));
    }
}
