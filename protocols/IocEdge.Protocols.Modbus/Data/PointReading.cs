namespace IocEdge.Protocols.Modbus;

/// <summary>
/// One point's result of one poll cycle. Every due point gets one, whatever happened on the wire: when the value could
/// not be read, <see cref="Value"/> (and <see cref="Text"/>) hold the last good value (NaN / null if there never was one)
/// and <see cref="Quality"/> says why.
/// </summary>
/// <param name="PointId">The point's <see cref="ModbusPointDefinition.Id"/>.</param>
/// <param name="Value">Engineering value (raw × scale + offset); NaN for a string point.</param>
/// <param name="Quality">Good, or why the value is not fresh.</param>
/// <param name="Timestamp">When the answer arrived (Good) or when the poller gave up on it, from the poller's TimeProvider.</param>
public sealed record PointReading(string PointId, double Value, PointQuality Quality, DateTimeOffset Timestamp)
{
    /// <summary>The text of a <see cref="ModbusDataType.String"/> point; null otherwise.</summary>
    public string? Text { get; init; }

    /// <summary>The slave's exception code when <see cref="Quality"/> is <see cref="PointQuality.DeviceException"/>
    /// (or a gateway's 0x0A/0x0B, reported as <see cref="PointQuality.CommFailure"/>).</summary>
    public ModbusExceptionCode? ExceptionCode { get; init; }
}
