using System.CommandLine;
using System.Device.Gpio;
using System.Globalization;
using IocEdge.Devices;
using IocEdge.Edge.Sources;

namespace IocEdge.Cli;

/// <summary><c>iocedge gpio watch PIN...</c>: print each level change of the given inputs, through the gateway's own GPIO access.</summary>
internal static class GpioCommand
{
    public static Command Build(CliConsole console)
    {
        var gpio = new Command("gpio", "the gateway's GPIO inputs");
        var watch = new Command("watch", """
            Print every level change of the given GPIO lines (BCM numbers) until Ctrl+C, to check door, flood and UPS
            contacts and pulse counters while wiring. Opens /dev/gpiochipN with libgpiod as the gateway does; stop the
            gateway first if it uses these pins. Exit 69 when the chip cannot be opened.

            Examples:
              iocedge gpio watch 17 27
              iocedge gpio watch --chip 0 --pull up 22
            """);
        var pins = new Argument<int[]>("PIN") { Description = "GPIO line numbers (BCM)", Arity = ArgumentArity.OneOrMore };
        var chip = new Option<int>("--chip") { Description = "the GPIO chip (/dev/gpiochipN)", DefaultValueFactory = _ => 0 };
        var pull = new Option<string>("--pull") { Description = "bias: none, up or down", DefaultValueFactory = _ => "none" };
        pull.AcceptOnlyFromAmong("none", "up", "down");
        watch.Add(pins);
        watch.Add(chip);
        watch.Add(pull);
        watch.SetAction(async (p, ct) =>
        {
            GpioController controller;
            var chipNumber = p.GetValue(chip);
            try
            {
                controller = new SystemGpioControllerProvider().Open(chipNumber);
            }
            catch (SensorException ex)
            {
                console.Fail(ex.Message);
                return ExitCodes.Unavailable;
            }
#pragma warning disable CA1031 // any other failure to open the chip is reported the same way: one line, exit 69
            catch (Exception ex)
#pragma warning restore CA1031
            {
                console.Fail($"/dev/gpiochip{chipNumber} cannot be opened: {ex.Message}");
                return ExitCodes.Unavailable;
            }

            using (controller)
            {
                var mode = p.GetValue(pull) switch { "up" => PinMode.InputPullUp, "down" => PinMode.InputPullDown, _ => PinMode.Input };
                var lines = p.GetValue(pins)!;
                var last = new Dictionary<int, PinValue>();
                foreach (var pin in lines)
                {
                    controller.OpenPin(pin, mode);
                    last[pin] = controller.Read(pin);
                    console.Out.WriteLine(FormattableString.Invariant($"GPIO{pin}: {(last[pin] == PinValue.High ? "high" : "low")}"));
                }

                // Polled every 5 ms on the TimeProvider: enough for contacts and for rain-gauge/anemometer pulses at wiring time.
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5), TimeProvider.System);
                try
                {
                    while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                    {
                        foreach (var pin in lines)
                        {
                            var v = controller.Read(pin);
                            if (v != last[pin])
                            {
                                last[pin] = v;
                                console.Out.WriteLine($"{TimeProvider.System.GetUtcNow().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} GPIO{pin.ToString(CultureInfo.InvariantCulture)}: {(v == PinValue.High ? "high" : "low")}");
                            }
                        }
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                }
            }

            return ExitCodes.Ok;
        });
        gpio.Add(watch);
        return gpio;
    }
}
