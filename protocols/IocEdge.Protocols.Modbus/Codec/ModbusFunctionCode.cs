namespace IocEdge.Protocols.Modbus;

/// <summary>
/// The public function codes this stack speaks (Modbus Application Protocol Specification V1.1b3, section 5.1 and 6).
/// </summary>
public enum ModbusFunctionCode : byte
{
    /// <summary>FC 01, section 6.1.</summary>
    ReadCoils = 0x01,

    /// <summary>FC 02, section 6.2.</summary>
    ReadDiscreteInputs = 0x02,

    /// <summary>FC 03, section 6.3.</summary>
    ReadHoldingRegisters = 0x03,

    /// <summary>FC 04, section 6.4.</summary>
    ReadInputRegisters = 0x04,

    /// <summary>FC 05, section 6.5.</summary>
    WriteSingleCoil = 0x05,

    /// <summary>FC 06, section 6.6.</summary>
    WriteSingleRegister = 0x06,

    /// <summary>FC 0F, section 6.11.</summary>
    WriteMultipleCoils = 0x0F,

    /// <summary>FC 10, section 6.12.</summary>
    WriteMultipleRegisters = 0x10,

    /// <summary>FC 11, Report Server ID, section 6.13 ("serial line only" in the specification; this stack speaks it on every transport, as pymodbus and libmodbus do).</summary>
    ReportServerId = 0x11,

    /// <summary>FC 16, section 6.16.</summary>
    MaskWriteRegister = 0x16,

    /// <summary>FC 17, section 6.17.</summary>
    ReadWriteMultipleRegisters = 0x17,

    /// <summary>FC 2B (encapsulated interface transport); with MEI type 0E it is Read Device Identification, section 6.21.</summary>
    EncapsulatedInterfaceTransport = 0x2B,
}

/// <summary>Quantity and size limits of the Modbus Application Protocol Specification V1.1b3 (section 4.1 and 6).</summary>
public static class ModbusLimits
{
    /// <summary>Largest PDU: 256-byte serial ADU minus address and CRC (section 4.1).</summary>
    public const int MaxPduLength = 253;

    /// <summary>FC 01/02 quantity of bits, 1 to 2000 (0x7D0), sections 6.1 and 6.2.</summary>
    public const int MaxReadBits = 2000;

    /// <summary>FC 03/04 quantity of registers, 1 to 125 (0x7D), sections 6.3 and 6.4.</summary>
    public const int MaxReadRegisters = 125;

    /// <summary>FC 0F quantity of outputs, 1 to 1968 (0x7B0), section 6.11.</summary>
    public const int MaxWriteBits = 1968;

    /// <summary>FC 10 quantity of registers, 1 to 123 (0x7B), section 6.12.</summary>
    public const int MaxWriteRegisters = 123;

    /// <summary>FC 17 quantity to read, 1 to 125 (0x7D), section 6.17.</summary>
    public const int MaxReadWriteReadRegisters = 125;

    /// <summary>FC 17 quantity to write, 1 to 121 (0x79), section 6.17.</summary>
    public const int MaxReadWriteWriteRegisters = 121;

    /// <summary>
    /// FC 11 response: most bytes after the byte count (server id, run indicator status, additional data): a PDU is at
    /// most 253 bytes, minus the function code and the byte count (sections 4.1 and 6.13).
    /// </summary>
    public const int MaxServerIdReportDataLength = MaxPduLength - 2;

    /// <summary>MEI type of Read Device Identification inside FC 2B (section 6.21).</summary>
    public const byte MeiReadDeviceIdentification = 0x0E;
}
