using IocEdge.Protocols.Modbus;

namespace IocEdge.Cli;

/// <summary>Field-standard names for what a technician reads on a device's manual.</summary>
internal static class ModbusNames
{
    /// <summary>The exception name as MODBUS Application Protocol V1.1b3 section 7 writes it ("ILLEGAL DATA ADDRESS").</summary>
    public static string Exception(ModbusExceptionCode code) => code switch
    {
        ModbusExceptionCode.IllegalFunction => "ILLEGAL FUNCTION",
        ModbusExceptionCode.IllegalDataAddress => "ILLEGAL DATA ADDRESS",
        ModbusExceptionCode.IllegalDataValue => "ILLEGAL DATA VALUE",
        ModbusExceptionCode.ServerDeviceFailure => "SERVER DEVICE FAILURE",
        ModbusExceptionCode.Acknowledge => "ACKNOWLEDGE",
        ModbusExceptionCode.ServerDeviceBusy => "SERVER DEVICE BUSY",
        ModbusExceptionCode.MemoryParityError => "MEMORY PARITY ERROR",
        ModbusExceptionCode.GatewayPathUnavailable => "GATEWAY PATH UNAVAILABLE",
        ModbusExceptionCode.GatewayTargetDeviceFailedToRespond => "GATEWAY TARGET DEVICE FAILED TO RESPOND",
        _ => $"EXCEPTION 0x{(byte)code:X2}",
    };

    /// <summary>What usually causes the exception, and the fix.</summary>
    public static string Hint(ModbusExceptionCode code) => code switch
    {
        ModbusExceptionCode.IllegalFunction => "the device does not support this function on this table: try another --table (its manual lists them)",
        ModbusExceptionCode.IllegalDataAddress => "no such register/coil at this address or count: check the register map (0-based PDU address; manuals often print 40001 = address 0)",
        ModbusExceptionCode.IllegalDataValue => "the device refused the value or the count: check the range in its manual",
        ModbusExceptionCode.GatewayPathUnavailable or ModbusExceptionCode.GatewayTargetDeviceFailedToRespond =>
            "the Modbus gateway could not reach that unit id: check the unit id and the serial side of the gateway",
        ModbusExceptionCode.ServerDeviceBusy or ModbusExceptionCode.Acknowledge => "the device is busy: try again in a moment",
        _ => "see the device's manual",
    };
}
