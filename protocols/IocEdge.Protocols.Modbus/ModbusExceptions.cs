namespace IocEdge.Protocols.Modbus;

/// <summary>Exception codes of the Modbus Application Protocol Specification V1.1b3, section 7.</summary>
public enum ModbusExceptionCode : byte
{
    IllegalFunction = 0x01,
    IllegalDataAddress = 0x02,
    IllegalDataValue = 0x03,
    ServerDeviceFailure = 0x04,
    Acknowledge = 0x05,
    ServerDeviceBusy = 0x06,
    MemoryParityError = 0x08,
    GatewayPathUnavailable = 0x0A,
    GatewayTargetDeviceFailedToRespond = 0x0B,
}

/// <summary>Base of every error the Modbus stack raises on purpose.</summary>
public class ModbusException : Exception
{
    public ModbusException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The slave answered with an exception response (function code | 0x80).</summary>
public sealed class ModbusDeviceException : ModbusException
{
    public ModbusDeviceException(byte unitId, byte functionCode, ModbusExceptionCode code)
        : base($"Unit {unitId} refused function 0x{functionCode:X2}: {code} (0x{(byte)code:X2}).")
    {
        UnitId = unitId;
        FunctionCode = functionCode;
        Code = code;
    }

    public byte UnitId { get; }

    public byte FunctionCode { get; }

    public ModbusExceptionCode Code { get; }
}

/// <summary>No valid answer within the request timeout, after every retry.</summary>
public sealed class ModbusTimeoutException : ModbusException
{
    public ModbusTimeoutException(byte unitId, byte functionCode, TimeSpan timeout, int attempts)
        : base($"Unit {unitId} did not answer function 0x{functionCode:X2} within {timeout.TotalMilliseconds:0} ms ({attempts} attempt(s)).")
    {
        UnitId = unitId;
        FunctionCode = functionCode;
        Timeout = timeout;
        Attempts = attempts;
    }

    public byte UnitId { get; }

    public byte FunctionCode { get; }

    public TimeSpan Timeout { get; }

    public int Attempts { get; }
}

/// <summary>A frame or PDU that breaks the specification (bad length, bad CRC/LRC, wrong echo…).</summary>
public sealed class ModbusProtocolException : ModbusException
{
    public ModbusProtocolException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The link (TCP connection, serial port) could not be opened or kept open, after every retry.</summary>
public sealed class ModbusConnectionException : ModbusException
{
    public ModbusConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
