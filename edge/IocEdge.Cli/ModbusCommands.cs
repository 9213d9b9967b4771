using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Cli;

/// <summary><c>iocedge modbus read|write|scan</c>, on the gateway's own Modbus masters.</summary>
internal static class ModbusCommands
{
    internal static readonly string[] Tables = ["holding-registers", "input-registers", "coils", "discrete-inputs"];
    internal static readonly string[] Types = ["uint16", "int16", "uint32", "int32", "int64", "float32", "float64", "hex"];

    public static Command Build(CliConsole console)
    {
        var modbus = new Command("modbus", "talk to Modbus devices directly (TCP, RTU/ASCII on a serial line, RTU over TCP)");
        modbus.Add(BuildRead(console));
        modbus.Add(BuildWrite(console));
        modbus.Add(ModbusScan.Build(console));
        return modbus;
    }

    private sealed class Common
    {
        public ModbusLinkOptions Link { get; } = new();
        public Option<int> Unit { get; } = new("--unit", "-u") { Description = "unit (slave) id: 1-247 on a serial line, 0-255 over TCP", DefaultValueFactory = _ => 1 };
        public Option<int> Baud { get; } = new("--baud", "-b") { Description = "baud rate of the serial line", DefaultValueFactory = _ => 9600 };
        public Option<string> Parity { get; } = new("--parity", "-P") { Description = "parity: N, E or O", DefaultValueFactory = _ => "N" };
        public Option<int> Address { get; } = new("--address", "-a") { Description = "first address, 0-based as on the wire (the manual's 40001 is 0)", DefaultValueFactory = _ => 0 };
        public Option<string> Type { get; } = new("--type", "-t") { Description = "how to show/encode registers: " + string.Join(", ", Types), DefaultValueFactory = _ => "uint16" };
        public Option<string> Order { get; } = new("--order") { Description = "word/byte order of 32/64-bit values: ABCD (big-endian), CDAB, BADC, DCBA", DefaultValueFactory = _ => "ABCD" };
        public Option<bool> Json { get; } = IocEdgeCli.JsonOption();

        public void AddTo(Command c)
        {
            Link.AddTo(c);
            c.Add(Unit);
            c.Add(Baud);
            c.Add(Parity);
            c.Add(Address);
            c.Add(Type);
            c.Add(Order);
            c.Add(Json);
            Type.AcceptOnlyFromAmong(Types);
            Order.AcceptOnlyFromAmong("ABCD", "CDAB", "BADC", "DCBA");
        }

        public (IModbusMaster Master, string Describe, byte Unit) Open(ParseResult p)
        {
            var unit = p.GetValue(Unit);
            if (unit is < 0 or > 255 || (p.GetValue(Link.Serial) is not null && unit > 247))
            {
                throw new UsageException($"--unit {unit}: use 1-247 on a serial line (0 is broadcast), 0-255 over TCP.");
            }

            var (tcp, tunnel, serial) = Link.Target(p);

            var parity = ModbusLinkOptions.ParseParity(p.GetValue(Parity)!);
            var stop = ModbusLinkOptions.ParseStopBits(p.GetValue(Link.StopBits));
            var ascii = p.GetValue(Link.Ascii);
            var timeout = TimeSpan.FromMilliseconds(p.GetValue(Link.TimeoutMs) ?? 1000);
            var master = ModbusLinkOptions.Create(tcp, tunnel, serial, ascii, p.GetValue(Baud), parity, stop, timeout, p.GetValue(Link.Retries));
            return (master, ModbusLinkOptions.Describe(tcp, tunnel, serial, ascii, p.GetValue(Baud), parity, stop), (byte)unit);
        }
    }

    private static Command BuildRead(CliConsole console)
    {
        var read = new Command("read", """
            Read coils, discrete inputs, input registers or holding registers of one unit and show them as the chosen
            data type. An exception response is printed by name (ILLEGAL DATA ADDRESS...), exit 1; no answer, exit 69.

            Examples:
              iocedge modbus read --tcp 192.168.10.20 -u 1 -a 0 -c 4
              iocedge modbus read --serial /dev/ttyUSB0 -b 9600 -P E -u 3 --table input-registers -a 100 -c 2 -t float32 --order CDAB
              iocedge modbus read --serial /dev/ttyAMA0 -u 2 --table coils -a 0 -c 8 --json
            """);
        var c = new Common();
        c.AddTo(read);
        var table = new Option<string>("--table") { Description = "holding-registers (FC 03), input-registers (FC 04), coils (FC 01), discrete-inputs (FC 02)", DefaultValueFactory = _ => "holding-registers" };
        table.AcceptOnlyFromAmong(Tables);
        var count = new Option<int>("--count", "-c") { Description = "how many values of --type (or bits) to read", DefaultValueFactory = _ => 1 };
        read.Add(table);
        read.Add(count);
        read.SetAction(async (p, ct) =>
        {
            var (master, link, unit) = c.Open(p);
            await using var _ = master.ConfigureAwait(false);
            var t = p.GetValue(table)!;
            var type = p.GetValue(c.Type)!;
            var address = p.GetValue(c.Address);
            var n = p.GetValue(count);
            var bits = t is "coils" or "discrete-inputs";
            var width = bits || type is "hex" ? 1 : ModbusValueCodec.RegisterCount(DataType(type));
            var quantity = n * width;
            var limit = bits ? 2000 : 125; // V1.1b3 6.1-6.4
            if (n < 1 || quantity > limit || address is < 0 or > 65535 || address + quantity > 65536)
            {
                throw new UsageException($"--count {n} at --address {address}: one request reads 1-{limit} {(bits ? "bits" : "registers")} within 0-65535 (MODBUS Application Protocol V1.1b3, 6.1-6.4).");
            }

            try
            {
                var values = new JsonArray();
                var lines = new List<string>();
                if (bits)
                {
                    var got = t == "coils"
                        ? await master.ReadCoilsAsync(unit, (ushort)address, (ushort)n, ct).ConfigureAwait(false)
                        : await master.ReadDiscreteInputsAsync(unit, (ushort)address, (ushort)n, ct).ConfigureAwait(false);
                    for (var i = 0; i < got.Length; i++)
                    {
                        values.Add(new JsonObject { ["address"] = address + i, ["value"] = got[i] });
                        lines.Add(FormattableString.Invariant($"{address + i}: {(got[i] ? 1 : 0)}"));
                    }
                }
                else
                {
                    var regs = t == "holding-registers"
                        ? await master.ReadHoldingRegistersAsync(unit, (ushort)address, (ushort)quantity, ct).ConfigureAwait(false)
                        : await master.ReadInputRegistersAsync(unit, (ushort)address, (ushort)quantity, ct).ConfigureAwait(false);
                    var order = Enum.Parse<ModbusByteOrder>(p.GetValue(c.Order)!);
                    for (var i = 0; i < n; i++)
                    {
                        var slice = regs.AsSpan(i * width, width);
                        var raw = string.Join(' ', slice.ToArray().Select(r => r.ToString("X4", CultureInfo.InvariantCulture)));
                        if (type == "hex")
                        {
                            values.Add(new JsonObject { ["address"] = address + i, ["raw"] = raw });
                            lines.Add(FormattableString.Invariant($"{address + i}: 0x{raw}"));
                            continue;
                        }

                        var v = ModbusValueCodec.DecodeRaw(slice, DataType(type), order);
                        var text = type.StartsWith("float", StringComparison.Ordinal) ? v.ToString("R", CultureInfo.InvariantCulture) : v.ToString("0", CultureInfo.InvariantCulture);
                        values.Add(new JsonObject { ["address"] = address + (i * width), ["value"] = double.IsFinite(v) ? v : null, ["raw"] = raw });
                        lines.Add(FormattableString.Invariant($"{address + (i * width)}: {text}  (0x{raw})"));
                    }
                }

                if (p.GetValue(c.Json))
                {
                    Json.Write(console, new JsonObject
                    {
                        ["link"] = link, ["unit"] = unit, ["table"] = t, ["type"] = bits ? "bit" : type, ["values"] = values,
                    });
                }
                else
                {
                    console.Out.WriteLine($"unit {unit} {t} on {link}:");
                    foreach (var l in lines)
                    {
                        console.Out.WriteLine(l);
                    }
                }

                return ExitCodes.Ok;
            }
            catch (ModbusException ex)
            {
                return ModbusFailure.Report(console, ex, link);
            }
        });
        return read;
    }

    private static Command BuildWrite(CliConsole console)
    {
        var write = new Command("write", """
            Write coils (FC 05 one, FC 0F several) or holding registers (FC 06 one register, FC 10 several) of one
            unit. Values are given in the chosen --type (registers) or as 0/1/on/off (coils).

            Examples:
              iocedge modbus write --tcp 192.168.10.20 -u 1 -a 10 1234
              iocedge modbus write --serial /dev/ttyUSB0 -u 3 -a 20 -t float32 --order CDAB 12.5
              iocedge modbus write --serial /dev/ttyUSB0 -u 3 --table coils -a 0 on off on
            """);
        var c = new Common();
        c.AddTo(write);
        var table = new Option<string>("--table") { Description = "holding-registers or coils", DefaultValueFactory = _ => "holding-registers" };
        table.AcceptOnlyFromAmong("holding-registers", "coils");
        var values = new Argument<string[]>("VALUE") { Description = "the values, in address order", Arity = ArgumentArity.OneOrMore };
        write.Add(table);
        write.Add(values);
        write.SetAction(async (p, ct) =>
        {
            var t = p.GetValue(table)!;
            var given = p.GetValue(values)!;
            var address = p.GetValue(c.Address);
            var type = p.GetValue(c.Type)!;
            bool[]? coils = null;
            ushort[]? regs = null;
            if (t == "coils")
            {
                coils = given.Select(ParseCoil).ToArray();
            }
            else
            {
                var width = type == "hex" ? 1 : ModbusValueCodec.RegisterCount(DataType(type));
                regs = new ushort[given.Length * width];
                var order = Enum.Parse<ModbusByteOrder>(p.GetValue(c.Order)!);
                for (var i = 0; i < given.Length; i++)
                {
                    if (type == "hex")
                    {
                        regs[i] = ushort.TryParse(given[i].Replace("0x", string.Empty, StringComparison.OrdinalIgnoreCase), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var h)
                            ? h : throw new UsageException($"'{given[i]}' is not a 16-bit hex word such as 0x1F40.");
                        continue;
                    }

                    if (!double.TryParse(given[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    {
                        throw new UsageException($"'{given[i]}' is not a number (use a dot for decimals).");
                    }

                    try
                    {
                        ModbusValueCodec.Encode(v, DataType(type), order, regs.AsSpan(i * width, width));
                    }
                    catch (ArgumentOutOfRangeException ex)
                    {
                        throw new UsageException($"'{given[i]}' does not fit {type}: {ex.Message.Split('\n')[0]}", ex);
                    }
                }
            }

            var quantity = coils?.Length ?? regs!.Length;
            if (address is < 0 or > 65535 || address + quantity > 65536 || quantity > (coils is null ? 123 : 1968))
            {
                throw new UsageException($"{quantity} value(s) at --address {address}: one write holds 1-123 registers or 1-1968 coils within 0-65535 (V1.1b3, 6.11-6.12).");
            }

            var (master, link, unit) = c.Open(p);
            await using var _ = master.ConfigureAwait(false);
            try
            {
                string fc;
                if (coils is not null)
                {
                    if (coils.Length == 1)
                    {
                        await master.WriteSingleCoilAsync(unit, (ushort)address, coils[0], ct).ConfigureAwait(false);
                        fc = "05";
                    }
                    else
                    {
                        await master.WriteMultipleCoilsAsync(unit, (ushort)address, coils, ct).ConfigureAwait(false);
                        fc = "0F";
                    }
                }
                else if (regs!.Length == 1)
                {
                    await master.WriteSingleRegisterAsync(unit, (ushort)address, regs[0], ct).ConfigureAwait(false);
                    fc = "06";
                }
                else
                {
                    await master.WriteMultipleRegistersAsync(unit, (ushort)address, regs, ct).ConfigureAwait(false);
                    fc = "10";
                }

                if (p.GetValue(c.Json))
                {
                    Json.Write(console, new JsonObject { ["link"] = link, ["unit"] = unit, ["table"] = t, ["address"] = address, ["count"] = quantity, ["function"] = "0x" + fc });
                }
                else
                {
                    console.Out.WriteLine($"wrote {quantity} {(coils is null ? "register(s)" : "coil(s)")} at {address} of unit {unit} on {link} (FC {fc})");
                }

                return ExitCodes.Ok;
            }
            catch (ModbusException ex)
            {
                return ModbusFailure.Report(console, ex, link);
            }
        });
        return write;
    }

    internal static ModbusDataType DataType(string type) => type switch
    {
        "int16" => ModbusDataType.Int16,
        "uint16" => ModbusDataType.UInt16,
        "int32" => ModbusDataType.Int32,
        "uint32" => ModbusDataType.UInt32,
        "int64" => ModbusDataType.Int64,
        "float32" => ModbusDataType.Float32,
        "float64" => ModbusDataType.Float64,
        _ => throw new UsageException($"--type {type}: use one of {string.Join(", ", Types)}."),
    };

    private static bool ParseCoil(string v) => v.ToUpperInvariant() switch
    {
        "1" or "ON" or "TRUE" => true,
        "0" or "OFF" or "FALSE" => false,
        _ => throw new UsageException($"coil value '{v}': use 1/0, on/off or true/false."),
    };
}
