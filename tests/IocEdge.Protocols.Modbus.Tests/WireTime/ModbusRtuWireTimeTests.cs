using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.WireTime;

[Trait("Category", "Unit")]
public sealed class ModbusRtuWireTimeTests
{
    private static ModbusReadRequest Read(RegisterKind kind, ushort address, ushort count) => new(kind, address, count, [0]);

    [Fact]
    public void Frame_sizes_match_the_specification_examples()
    {
        // MODBUS Application Protocol V1.1b3 section 6.1: read coils 20-38 (19 coils) answers a byte count of 3.
        var coils = Read(RegisterKind.Coil, 19, 19);
        Assert.Equal(8, ModbusRtuWireTime.RequestBytes(coils));
        Assert.Equal(1 + 1 + 1 + 3 + 2, ModbusRtuWireTime.ResponseBytes(coils));

        // Section 6.3: read holding registers 108-110 (3 registers) answers a byte count of 6.
        var registers = Read(RegisterKind.HoldingRegister, 107, 3);
        Assert.Equal(8, ModbusRtuWireTime.RequestBytes(registers));
        Assert.Equal(1 + 1 + 1 + 6 + 2, ModbusRtuWireTime.ResponseBytes(registers));

        // 125 registers: the largest RTU response, 255 bytes (serial line spec 2.5.1: an RTU frame is at most 256 bytes).
        Assert.Equal(255, ModbusRtuWireTime.ResponseBytes(Read(RegisterKind.InputRegister, 0, 125)));
    }

    [Fact]
    public void Character_time_and_t35_follow_the_serial_line_specification()
    {
        // 9600 baud 8N1: 10 bits a character = 1.0417 ms; t3.5 = 3.646 ms (MODBUS over Serial Line V1.02, 2.5.1.1).
        Assert.Equal(1041.67, ModbusRtuWireTime.CharacterTime(9600).TotalMicroseconds, tolerance: 0.2);
        Assert.Equal(3645.83, ModbusRtuWireTime.T35(9600).TotalMicroseconds, tolerance: 0.2);
        // 8E1 is 11 bits a character.
        Assert.Equal(1145.83, ModbusRtuWireTime.CharacterTime(9600, parity: true).TotalMicroseconds, tolerance: 0.2);
        // Above 19200 baud t3.5 is fixed at 1.75 ms.
        Assert.Equal(1750, ModbusRtuWireTime.T35(38400).TotalMicroseconds, tolerance: 0.2);
    }

    [Fact]
    public void Minimum_adds_both_frames_two_silences_and_the_slave_s_processing_per_exchange()
    {
        ModbusReadRequest[] plan = [Read(RegisterKind.HoldingRegister, 0, 10), Read(RegisterKind.Coil, 0, 16)];
        var bytes = (8 + 25) + (8 + 7);
        var expected = 1041.6667 * bytes + 2 * 2 * 3645.8333 + 2 * 5000;
        Assert.Equal(expected, ModbusRtuWireTime.Minimum(plan, 9600, TimeSpan.FromMilliseconds(5)).TotalMicroseconds, tolerance: 0.5);
    }
}
