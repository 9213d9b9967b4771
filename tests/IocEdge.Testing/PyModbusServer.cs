using System.Globalization;
using System.Text.Json;

namespace IocEdge.Testing;

/// <summary>The initial register file of one unit of a <see cref="PyModbusServer"/> (PDU addresses from 0).</summary>
public sealed class PyModbusUnit
{
    public IReadOnlyList<ushort> HoldingRegisters { get; init; } = [];

    public IReadOnlyList<ushort> InputRegisters { get; init; } = [];

    public IReadOnlyList<bool> Coils { get; init; } = [];

    public IReadOnlyList<bool> DiscreteInputs { get; init; } = [];
}

/// <summary>What a <see cref="PyModbusServer"/> hosts.</summary>
public sealed class PyModbusServerOptions
{
    /// <summary>Unit id → initial values; default unit 1, all zero.</summary>
    public IReadOnlyDictionary<byte, PyModbusUnit> Units { get; init; } = new Dictionary<byte, PyModbusUnit> { [1] = new() };

    /// <summary>Items per table (addresses 0 … TableSize-1 exist; beyond is Illegal Data Address).</summary>
    public int TableSize { get; init; } = 1000;

    /// <summary>Read Device Identification objects 0x00-0x02 (vendor, product code, revision).</summary>
    public string VendorName { get; init; } = "pymodbus-peer";

    public string ProductCode { get; init; } = "PM";

    public string Revision { get; init; } = "3.0";
}

/// <summary>
/// A real Modbus slave we did not write: pymodbus 3.0 (Debian python3-pymodbus) under /usr/bin/python3, as a TCP server
/// on 127.0.0.1 and a free port, or as an RTU server on a serial device (a socat pty end). The script is written to a
/// temp folder; the process is stopped by pid on dispose (../shared/PEERS.md).
/// </summary>
public sealed class PyModbusServer : IAsyncDisposable
{
    // zero_mode=True: PDU address 0 is the first value (without it pymodbus shifts addresses by one).
    private const string Script = """
        import asyncio, json, sys, logging
        from pymodbus.server import StartAsyncTcpServer, StartAsyncSerialServer
        from pymodbus.transaction import ModbusRtuFramer
        from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
        from pymodbus.device import ModbusDeviceIdentification

        cfg = json.load(open(sys.argv[1]))
        size = cfg["size"]
        def block(values):
            values = list(values) + [0] * (size - len(values))
            return ModbusSequentialDataBlock(0, values)
        slaves = {}
        for unit, u in cfg["units"].items():
            slaves[int(unit)] = ModbusSlaveContext(
                hr=block(u["hr"]), ir=block(u["ir"]),
                co=block([1 if b else 0 for b in u["co"]]), di=block([1 if b else 0 for b in u["di"]]),
                zero_mode=True)
        context = ModbusServerContext(slaves=slaves, single=False)
        identity = ModbusDeviceIdentification(info_name={
            "VendorName": cfg["vendor"], "ProductCode": cfg["product"], "MajorMinorRevision": cfg["revision"]})

        async def main():
            if cfg["mode"] == "tcp":
                server = await StartAsyncTcpServer(context=context, identity=identity,
                    address=("127.0.0.1", cfg["port"]), defer_start=True)
                print("READY", flush=True)
                await server.serve_forever()
            else:
                server = await StartAsyncSerialServer(context=context, identity=identity, framer=ModbusRtuFramer,
                    port=cfg["device"], baudrate=cfg["baud"], bytesize=8, parity=cfg["parity"],
                    stopbits=cfg["stopbits"], timeout=0.05, defer_start=True)
                await server.start()
                if server.transport is None:
                    # pymodbus swallows the open error (e.g. EINVAL for parity E on a pty) and would sit idle.
                    print("FAILED to open " + cfg["device"], flush=True)
                    sys.exit(2)
                print("READY", flush=True)
                await server.serve_forever()

        asyncio.run(main())
        """;

    private readonly TempDirectory _dir;
    private readonly PeerProcess _process;

    private PyModbusServer(TempDirectory dir, PeerProcess process, int port)
    {
        _dir = dir;
        _process = process;
        Port = port;
    }

    /// <summary>The TCP port (0 for a serial server).</summary>
    public int Port { get; }

    public int Pid => _process.Pid;

    public string Output => _process.Output;

    /// <summary>Starts a Modbus TCP server on 127.0.0.1 and a free port; returns once it accepts connections.</summary>
    public static async Task<PyModbusServer> StartTcpAsync(PyModbusServerOptions? options = null, TimeSpan? startTimeout = null)
    {
        var port = FreePort.Next();
        var server = await StartAsync(options ?? new(), new Dictionary<string, object> { ["mode"] = "tcp", ["port"] = port }, port)
            .ConfigureAwait(false);
        try
        {
            await server._process.WaitForTcpAsync(port, startTimeout ?? TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>
    /// Starts an RTU server on <paramref name="device"/> (e.g. one end of a <see cref="SocatPtyPair"/>); returns once the
    /// script reports the port open. Parity "N", "E" or "O". Seen here: pymodbus 3.0 fails to open a pty with parity
    /// "E" (EINVAL from its serial transport, while plain pyserial manages); it then exits and this throws.
    /// </summary>
    public static async Task<PyModbusServer> StartRtuAsync(string device, PyModbusServerOptions? options = null,
        int baudRate = 9600, string parity = "N", int stopBits = 1, TimeSpan? startTimeout = null)
    {
        var server = await StartAsync(options ?? new(), new Dictionary<string, object>
        {
            ["mode"] = "rtu",
            ["device"] = device,
            ["baud"] = baudRate,
            ["parity"] = parity,
            ["stopbits"] = stopBits,
        }, 0).ConfigureAwait(false);
        try
        {
            await Eventually.True(() =>
            {
                if (server._process.HasExited)
                {
                    throw new InvalidOperationException($"pymodbus exited with {server._process.ExitCode}:\n{server.Output}");
                }

                return server.Output.Contains("READY", StringComparison.Ordinal);
            }, startTimeout ?? TimeSpan.FromSeconds(15), "pymodbus to open " + device).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    private static async Task<PyModbusServer> StartAsync(PyModbusServerOptions options, Dictionary<string, object> mode, int port)
    {
        var python = Tools.Require(Tools.Python, "python3-pymodbus");
        var dir = new TempDirectory("pymodbus");
        var script = dir.File("server.py");
        var config = dir.File("config.json");
        await File.WriteAllTextAsync(script, Script).ConfigureAwait(false);
        var cfg = new Dictionary<string, object>(mode)
        {
            ["size"] = options.TableSize,
            ["vendor"] = options.VendorName,
            ["product"] = options.ProductCode,
            ["revision"] = options.Revision,
            ["units"] = options.Units.ToDictionary(
                u => u.Key.ToString(CultureInfo.InvariantCulture),
                u => new Dictionary<string, object>
                {
                    ["hr"] = u.Value.HoldingRegisters,
                    ["ir"] = u.Value.InputRegisters,
                    ["co"] = u.Value.Coils,
                    ["di"] = u.Value.DiscreteInputs,
                }),
        };
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(cfg)).ConfigureAwait(false);
        var process = PeerProcess.Start(python, ["-u", script, config], dir.Path);
        return new PyModbusServer(dir, process, port);
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        _dir.Dispose();
    }
}
