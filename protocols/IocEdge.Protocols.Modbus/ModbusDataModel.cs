namespace IocEdge.Protocols.Modbus;

/// <summary>The four Modbus data tables.</summary>
public enum RegisterKind
{
    Coil,
    DiscreteInput,
    InputRegister,
    HoldingRegister,
}

/// <summary>How a value is laid out over one or more 16-bit registers.</summary>
public enum ModbusDataType
{
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    Float32,
    Float64,
    /// <summary>ASCII text, two characters a register; the length is given in registers.</summary>
    String,
    /// <summary>One bit (0-15) of a register, or a coil / discrete input.</summary>
    Bit,
}

/// <summary>
/// Byte and word order of a multi-register value, named by where bytes A (most significant) to D land:
/// ABCD big-endian (the specification's own order), CDAB word-swapped, BADC byte-swapped, DCBA little-endian.
/// For 64-bit values the same pattern extends over four registers.
/// </summary>
public enum ModbusByteOrder
{
    ABCD,
    CDAB,
    BADC,
    DCBA,
}

/// <summary>The quality that travels with every polled value.</summary>
public enum PointQuality
{
    Good,
    /// <summary>The last good value, re-sent while the device has not been read again.</summary>
    Stale,
    /// <summary>The link or the slave did not answer.</summary>
    CommFailure,
    /// <summary>The slave answered with an exception response.</summary>
    DeviceException,
    /// <summary>The slave answered with a raw value that is not a measurement (a declared sentinel, a NaN/infinite float).</summary>
    Invalid,
    /// <summary>The decoded value lies outside the point's declared valid range.</summary>
    OutOfRange,
}
