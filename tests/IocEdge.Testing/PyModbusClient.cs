using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IocEdge.Testing;

/// <summary>One read a <see cref="PyModbusClient"/> makes.</summary>
/// <param name="Unit">Unit (slave) id.</param>
/// <param name="Function">1 coils, 2 discrete inputs, 3 holding registers, 4 input registers.</param>
/// <param name="Address">0-based protocol address.</param>
/// <param name="Count">Items to read.</param>
public sealed record PyModbusRead(byte Unit, int Function, int Address, int Count);

/// <summary>What pymodbus got for one read: registers or bits, an exception code, or an error (timeout, no answer).</summary>
public sealed record PyModbusResult(ushort[]? Registers, bool[]? Bits, int? ExceptionCode, string? Error, double ElapsedMs)
{
    public bool Ok => Error is null && ExceptionCode is null;
}

/// <summary>
/// pymodbus 3.0 (Debian's python3-pymodbus, run with /usr/bin/python3) as a Modbus master: a real client we did not
/// write. One process makes a list of reads and prints what it got, so a test pays the interpreter start-up once.
/// </summary>
public static class PyModbusClient
{
    // The script prints one line "RESULT:<json>"; pymodbus's own logging goes to stderr and is ignored.
    private const string Script = """
        import json, sys, time, logging
        logging.disable(logging.CRITICAL)
        from pymodbus.client import ModbusTcpClient, ModbusSerialClient
        args = json.loads(sys.argv[1])
        if args["mode"] == "tcp":
            client = ModbusTcpClient(args["host"], port=args["port"], timeout=args["timeout"], retries=0)
        else:
            from pymodbus.transaction import ModbusRtuFramer, ModbusAsciiFramer
            framer = ModbusAsciiFramer if args["mode"] == "ascii" else ModbusRtuFramer
            client = ModbusSerialClient(args["device"], framer=framer, baudrate=args["baud"],
                                        bytesize=8 if args["mode"] == "rtu" else 7, parity=args["parity"],
                                        stopbits=1, timeout=args["timeout"], retries=0)
        client.connect()
        out = []
        for r in args["reads"]:
            t0 = time.monotonic()
            res = {}
            try:
                fn = {1: client.read_coils, 2: client.read_discrete_inputs,
                      3: client.read_holding_registers, 4: client.read_input_registers}[r["function"]]
                rr = fn(r["address"], r["count"], slave=r["unit"])
                if rr is None:
                    res["error"] = "no response"
                elif rr.isError():
                    code = getattr(rr, "exception_code", None)
                    if code is not None:
                        res["exception"] = int(code)
                    else:
                        res["error"] = str(rr)
                elif r["function"] in (1, 2):
                    res["bits"] = [bool(b) for b in rr.bits[: r["count"]]]
                else:
                    res["registers"] = list(rr.registers)
            except Exception as e:
                res["error"] = type(e).__name__ + ": " + str(e)
            res["ms"] = (time.monotonic() - t0) * 1000.0
            out.append(res)
        client.close()
        print("RESULT:" + json.dumps(out), flush=True)
        """;

    /// <summary>Reads over Modbus TCP from 127.0.0.1 (or <paramref name="host"/>).</summary>
    public static Task<IReadOnlyList<PyModbusResult>> ReadTcpAsync(int port, IEnumerable<PyModbusRead> reads,
        double timeoutSeconds = 2, string host = "127.0.0.1")
    {
        var args = new JsonObject { ["mode"] = "tcp", ["host"] = host, ["port"] = port };
        return RunAsync(args, reads, timeoutSeconds);
    }

    /// <summary>Reads over Modbus RTU on a serial device or pty (8 data bits, 1 stop bit).</summary>
    public static Task<IReadOnlyList<PyModbusResult>> ReadRtuAsync(string device, IEnumerable<PyModbusRead> reads,
        int baudRate = 9600, char parity = 'N', double timeoutSeconds = 2)
    {
        var args = new JsonObject
        {
            ["mode"] = "rtu", ["device"] = device, ["baud"] = baudRate, ["parity"] = parity.ToString(),
        };
        return RunAsync(args, reads, timeoutSeconds);
    }

    /// <summary>Reads over Modbus ASCII on a serial device or pty (7 data bits, 1 stop bit; on a pty the character
    /// format is not enforced).</summary>
    public static Task<IReadOnlyList<PyModbusResult>> ReadAsciiAsync(string device, IEnumerable<PyModbusRead> reads,
        int baudRate = 9600, char parity = 'N', double timeoutSeconds = 2)
    {
        var args = new JsonObject
        {
            ["mode"] = "ascii", ["device"] = device, ["baud"] = baudRate, ["parity"] = parity.ToString(),
        };
        return RunAsync(args, reads, timeoutSeconds);
    }

    private static async Task<IReadOnlyList<PyModbusResult>> RunAsync(JsonObject args, IEnumerable<PyModbusRead> reads,
        double timeoutSeconds)
    {
        Tools.Require(Tools.Python, "python3-pymodbus");
        // Seen with Debian's pymodbus 3.0.0: a TCP timeout below 1 s makes connect() fail at once
        // ("[Errno 115] Operation now in progress"), so a test would see a connection error, not a timeout.
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutSeconds, 1.0);
        var list = reads.ToList();
        args["timeout"] = timeoutSeconds;
        args["reads"] = new JsonArray(list.Select(r => (JsonNode)new JsonObject
        {
            ["unit"] = r.Unit, ["function"] = r.Function, ["address"] = r.Address, ["count"] = r.Count,
        }).ToArray());
        var budget = TimeSpan.FromSeconds(10 + list.Count * (timeoutSeconds + 0.5));
        var (exit, output) = await PeerProcess.RunAsync(Tools.Python, ["-c", Script, args.ToJsonString()], budget)
            .ConfigureAwait(false);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"pymodbus client exited with {exit} without a result:\n{output}");
        using var doc = JsonDocument.Parse(line["RESULT:".Length..]);
        return doc.RootElement.EnumerateArray().Select(e => new PyModbusResult(
            e.TryGetProperty("registers", out var regs) ? regs.EnumerateArray().Select(x => (ushort)x.GetInt32()).ToArray() : null,
            e.TryGetProperty("bits", out var bits) ? bits.EnumerateArray().Select(x => x.GetBoolean()).ToArray() : null,
            e.TryGetProperty("exception", out var ex) ? ex.GetInt32() : null,
            e.TryGetProperty("error", out var err) ? err.GetString() : null,
            e.GetProperty("ms").GetDouble())).ToArray();
    }

    /// <summary>Formats a result for an assertion message.</summary>
    public static string Describe(PyModbusResult r) => r.Registers is { } regs
        ? "[" + string.Join(", ", regs.Select(x => x.ToString("X4", CultureInfo.InvariantCulture))) + "]"
        : r.ExceptionCode is { } code ? $"exception {code}" : r.Error ?? "bits";
}
