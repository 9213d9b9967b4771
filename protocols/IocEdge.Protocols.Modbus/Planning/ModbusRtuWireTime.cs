namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Bytes and line time of read requests in RTU framing: what a poll plan costs on an RS-485 line. Pure arithmetic, used
/// to size poll periods and by the wire-time benchmark as the theoretical minimum.
/// </summary>
/// <remarks>
/// Frame sizes: an RTU ADU is address (1) + PDU + CRC (2) ("MODBUS over Serial Line V1.02", section 2.5.1). A read
/// request PDU is function (1) + start address (2) + quantity (2); the response PDU is function (1) + byte count (1) +
/// data, where data is 2 bytes a register (FC 03/04) or one bit a coil, rounded up to whole bytes (FC 01/02)
/// (MODBUS Application Protocol V1.1b3, sections 6.1-6.4). An exception response is address + 2 + CRC = 5 bytes.
/// Time: every character is start + 8 data + parity + stop bits; frames are separated by at least 3.5 character
/// times of silence, 1.75 ms above 19200 baud (serial line section 2.5.1.1). One exchange therefore takes at least
/// request + t3.5 (the slave sees the end of the request) + the slave's processing + response + t3.5 (the line is free
/// for the next request).
/// </remarks>
public static class ModbusRtuWireTime
{
    /// <summary>RTU bytes of the read request.</summary>
    public static int RequestBytes(ModbusReadRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return 1 + 5 + 2;
    }

    /// <summary>RTU bytes of the normal response.</summary>
    public static int ResponseBytes(ModbusReadRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var data = ModbusPollPlanner.IsBitTable(request.Kind) ? (request.Count + 7) / 8 : 2 * request.Count;
        return 1 + 2 + data + 2;
    }

    /// <summary>Time of one character: (1 start + 8 data + parity + stop bits) / baud.</summary>
    public static TimeSpan CharacterTime(int baudRate, bool parity = false, int stopBits = 1) =>
        TimeSpan.FromSeconds(CharacterSeconds(baudRate, parity, stopBits));

    /// <summary>The inter-frame silence t3.5: 3.5 character times, fixed at 1.75 ms above 19200 baud.</summary>
    public static TimeSpan T35(int baudRate, bool parity = false, int stopBits = 1) =>
        TimeSpan.FromSeconds(T35Seconds(baudRate, parity, stopBits));

    /// <summary>
    /// Shortest possible line time of the requests, one after another: characters of both frames, two t3.5 silences
    /// per exchange, and the slave's processing time before it answers.
    /// </summary>
    public static TimeSpan Minimum(IEnumerable<ModbusReadRequest> requests, int baudRate, TimeSpan slaveProcessing,
        bool parity = false, int stopBits = 1)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var character = CharacterSeconds(baudRate, parity, stopBits);
        var t35 = T35Seconds(baudRate, parity, stopBits);
        var seconds = 0.0;
        foreach (var r in requests)
        {
            seconds += character * (RequestBytes(r) + ResponseBytes(r)) + 2 * t35 + slaveProcessing.TotalSeconds;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static double CharacterSeconds(int baudRate, bool parity, int stopBits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(baudRate);
        if (stopBits is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(stopBits), stopBits, "An RTU character has 1 or 2 stop bits.");
        }

        return (1.0 + 8 + (parity ? 1 : 0) + stopBits) / baudRate;
    }

    private static double T35Seconds(int baudRate, bool parity, int stopBits) =>
        baudRate > 19200 ? 0.00175 : 3.5 * CharacterSeconds(baudRate, parity, stopBits);
}
