using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Benchmarks.Modbus;

/// <summary>
/// The pure codec, per operation: FC 03 request encode and response decode, with MBAP framing (TCP) and RTU framing
/// (CRC-16 computed on encode and checked on decode). The baseline copies a response ADU of the same size: the floor
/// any decoder has to pay to touch the bytes.
/// A short job (3 warm-ups, 3 iterations) run in process: the child-project build BenchmarkDotNet does by default
/// takes minutes on the shared machine, and ns/op of a pure codec does not need process isolation.
/// Run: dotnet run -c Release --project tests/IocEdge.Benchmarks -- --filter '*CodecBenchmarks*'
/// </summary>
[Config(typeof(CodecBenchmarkConfig))]
public class CodecBenchmarks
{
    private readonly byte[] _tx = new byte[ModbusAsciiFraming.MaxAduLength];
    private readonly byte[] _pdu = new byte[ModbusLimits.MaxPduLength];
    private readonly ushort[] _registers = new ushort[ModbusLimits.MaxReadRegisters];
    private byte[] _tcpResponse = [];
    private byte[] _rtuResponse = [];
    private byte[] _tcpRequest = [];
    private ModbusRequest _request;

    /// <summary>Registers read: a typical block and the largest one request can carry.</summary>
    [Params(10, 125)]
    public int Registers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _request = ModbusRequest.ReadHoldingRegisters(100, (ushort)Registers);
        var values = Enumerable.Range(0, Registers).Select(i => (ushort)(i * 257)).ToArray();
        var pdu = new byte[ModbusLimits.MaxPduLength];
        var pduLength = ModbusResponse.EncodeRegisters(pdu, ModbusFunctionCode.ReadHoldingRegisters, values);
        var adu = new byte[ModbusAsciiFraming.MaxAduLength];
        _tcpResponse = adu[..ModbusTcpFraming.Encode(adu, 7, 1, pdu.AsSpan(0, pduLength))];
        _rtuResponse = adu[..ModbusRtuFraming.Encode(adu, 1, pdu.AsSpan(0, pduLength))];
        _tcpRequest = adu[..ModbusTcpFraming.Encode(adu, 7, 1, _request.ToArray())];
    }

    [Benchmark(Baseline = true, Description = "copy response ADU (baseline)")]
    public int CopyResponse()
    {
        _tcpResponse.CopyTo(_tx, 0);
        return _tcpResponse.Length;
    }

    [Benchmark(Description = "TCP encode FC03 request")]
    public int EncodeTcpRequest()
    {
        var request = ModbusRequest.ReadHoldingRegisters(100, (ushort)Registers);
        var length = request.Encode(_tx.AsSpan(ModbusTcpFraming.HeaderLength));
        ModbusTcpFraming.WriteHeader(_tx, 7, 1, length);
        return length + ModbusTcpFraming.HeaderLength;
    }

    [Benchmark(Description = "RTU encode FC03 request (CRC)")]
    public int EncodeRtuRequest()
    {
        var request = ModbusRequest.ReadHoldingRegisters(100, (ushort)Registers);
        Span<byte> pdu = stackalloc byte[5];
        request.Encode(pdu);
        return ModbusRtuFraming.Encode(_tx, 1, pdu);
    }

    [Benchmark(Description = "TCP decode FC03 response into span")]
    public ushort DecodeTcpResponse()
    {
        ModbusTcpFraming.TryDecode(_tcpResponse, out _, out var unit, out var consumed);
        ModbusResponse.DecodeRegisters(unit, _request, _tcpResponse.AsSpan(ModbusTcpFraming.HeaderLength, consumed - ModbusTcpFraming.HeaderLength), _registers);
        return _registers[0];
    }

    [Benchmark(Description = "TCP decode FC03 response to ushort[]")]
    public ushort[] DecodeTcpResponseToArray()
    {
        ModbusTcpFraming.TryDecode(_tcpResponse, out _, out var unit, out var consumed);
        return ModbusResponse.DecodeRegisters(unit, _request, _tcpResponse.AsSpan(ModbusTcpFraming.HeaderLength, consumed - ModbusTcpFraming.HeaderLength));
    }

    [Benchmark(Description = "RTU decode FC03 response (CRC) into span")]
    public ushort DecodeRtuResponse()
    {
        ModbusRtuFraming.TryDecode(_rtuResponse, ModbusFrameDirection.Response, _pdu, out var frame, out _);
        ModbusResponse.DecodeRegisters(frame.UnitId, _request, _pdu.AsSpan(0, frame.PduLength), _registers);
        return _registers[0];
    }

    [Benchmark(Description = "server decode FC03 request (TCP)")]
    public ushort DecodeTcpRequest()
    {
        ModbusTcpFraming.TryDecode(_tcpRequest, out _, out _, out var consumed);
        ModbusRequest.TryDecode(_tcpRequest.AsSpan(ModbusTcpFraming.HeaderLength, consumed - ModbusTcpFraming.HeaderLength), out var request, out _);
        return request.Count;
    }
}

/// <summary>ShortRun, in process, with allocations and the median column.</summary>
public sealed class CodecBenchmarkConfig : ManualConfig
{
    public CodecBenchmarkConfig()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
    }
}
