using System.Buffers.Binary;
using System.Net;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Hardware.Simulator.Tests;

internal static class TestProfiles
{
    /// <summary>2026-06-01 07:00 UTC = 14:00 in Vietnam (UTC+7).</summary>
    public static readonly DateTimeOffset Afternoon = new(2026, 6, 1, 7, 0, 0, TimeSpan.Zero);

    public static InstrumentProfile Single(double mean = 30, double amplitude = 4, double peakHour = 14, double noise = 0,
        double min = -10, double max = 60, double ratePerHour = 0, ModbusDataType type = ModbusDataType.Float32, double scale = 1)
    {
        return new InstrumentProfile
        {
            Id = "test-single",
            Name = "Test",
            Source = "invented: test",
            Points =
            [
                new ProfilePoint
                {
                    Name = "t", Quantity = "temperature", Unit = "degC", Register = RegisterKind.HoldingRegister, Address = 0,
                    Type = type, Scale = scale, Min = min, Max = max,
                    Simulation = new PointSimulation
                    {
                        Mean = mean, DailyAmplitude = amplitude, DailyPeakHour = peakHour, Noise = noise, RatePerHour = ratePerHour,
                    },
                },
                new ProfilePoint
                {
                    Name = "rh", Quantity = "humidity", Unit = "%RH", Register = RegisterKind.HoldingRegister, Address = 2,
                    Type = ModbusDataType.Float32, Min = 0, Max = 100,
                    Simulation = new PointSimulation { Mean = 70, DailyAmplitude = 15, DailyPeakHour = 5, Noise = 0 },
                },
            ],
        };
    }

    public static Task<StationSimulator> StartAsync(FakeTimeProvider time, TimeSpan? updatePeriod = null, int seed = 0,
        params (InstrumentProfile Profile, byte Unit)[] instruments)
    {
        var options = new StationSimulatorOptions
        {
            Tcp = new IPEndPoint(IPAddress.Loopback, 0),
            UpdatePeriod = updatePeriod ?? TimeSpan.FromMinutes(10),
            Seed = seed,
        };
        foreach (var (profile, unit) in instruments)
        {
            options.Instruments.Add(new SimulatedInstrument(profile, unit));
        }

        return StationSimulator.StartAsync(options, time);
    }

    /// <summary>
    /// Decodes a point's registers independently of the codec under test: bytes are put back into big-endian (ABCD)
    /// order and read with BinaryPrimitives, then scaled.
    /// </summary>
    public static double Decode(ProfilePoint p, ReadOnlySpan<ushort> registers)
    {
        if (p.Type == ModbusDataType.Bit)
        {
            return (registers[0] >> (p.Bit ?? 0)) & 1;
        }

        var n = p.RegisterCount;
        var bytes = new byte[2 * n];
        var wordSwap = p.ByteOrder is ModbusByteOrder.CDAB or ModbusByteOrder.DCBA;
        var byteSwap = p.ByteOrder is ModbusByteOrder.BADC or ModbusByteOrder.DCBA;
        for (var i = 0; i < n; i++)
        {
            var word = registers[wordSwap ? n - 1 - i : i];
            bytes[2 * i] = (byte)(byteSwap ? word & 0xFF : word >> 8);
            bytes[2 * i + 1] = (byte)(byteSwap ? word >> 8 : word & 0xFF);
        }

        double raw = p.Type switch
        {
            ModbusDataType.Int16 => BinaryPrimitives.ReadInt16BigEndian(bytes),
            ModbusDataType.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(bytes),
            ModbusDataType.Int32 => BinaryPrimitives.ReadInt32BigEndian(bytes),
            ModbusDataType.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(bytes),
            ModbusDataType.Int64 => BinaryPrimitives.ReadInt64BigEndian(bytes),
            ModbusDataType.Float32 => BinaryPrimitives.ReadSingleBigEndian(bytes),
            ModbusDataType.Float64 => BinaryPrimitives.ReadDoubleBigEndian(bytes),
            _ => throw new NotSupportedException(p.Type.ToString()),
        };
        return raw * p.Scale + p.Offset;
    }

    /// <summary>ASCII text, first character in the high byte (ABCD/CDAB), NUL-terminated.</summary>
    public static string DecodeText(ReadOnlySpan<ushort> registers)
    {
        var chars = new List<char>();
        foreach (var r in registers)
        {
            foreach (var b in new[] { r >> 8, r & 0xFF })
            {
                if (b == 0)
                {
                    return new string([.. chars]);
                }

                chars.Add((char)b);
            }
        }

        return new string([.. chars]);
    }

    /// <summary>Half a quantisation step (integers) or float32 precision.</summary>
    public static double Tolerance(ProfilePoint p, double value) => p.Type switch
    {
        ModbusDataType.Float32 => Math.Max(1e-6, Math.Abs(value) * 1e-6),
        ModbusDataType.Float64 => 1e-12,
        ModbusDataType.Bit => 0,
        _ => Math.Abs(p.Scale) / 2 + 1e-9,
    };
}
