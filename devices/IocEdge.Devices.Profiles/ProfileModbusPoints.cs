using IocEdge.Protocols.Modbus;

namespace IocEdge.Devices.Profiles;

/// <summary>Maps profile points to the Modbus poller's <see cref="ModbusPointDefinition"/> one to one.</summary>
public static class ProfileModbusPoints
{
    /// <summary>
    /// The poller's definition of <paramref name="point"/> on unit <paramref name="unitId"/>, with the id
    /// <paramref name="id"/> (e.g. "station1.pm2_5"). Reporting settings (deadband, heartbeat) stay at their defaults;
    /// set them with a <c>with</c> expression.
    /// </summary>
    public static ModbusPointDefinition ToModbusPoint(this ProfilePoint point, string id, byte unitId)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentException.ThrowIfNullOrEmpty(id);
        return new ModbusPointDefinition
        {
            Id = id,
            Name = point.Quantity,
            UnitId = unitId,
            Kind = point.Register,
            Address = checked((ushort)point.Address),
            DataType = point.Type,
            ByteOrder = point.ByteOrder,
            StringRegisters = point.Type == ModbusDataType.String ? point.Length ?? 0 : 0,
            BitIndex = point.Bit ?? 0,
            Scale = point.Scale,
            Offset = point.Offset,
            EngineeringUnit = point.Unit,
            PollPeriod = point.PollPeriod,
            Sentinels = point.Sentinels,
            ValidMin = point.ValidMin,
            ValidMax = point.ValidMax,
            Decimals = point.Decimals,
        };
    }

    /// <summary>Every point of the profile as poller definitions with ids "<paramref name="prefix"/>.&lt;point name&gt;".</summary>
    public static IReadOnlyList<ModbusPointDefinition> ToModbusPoints(this InstrumentProfile profile, string prefix, byte unitId)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return profile.Points.Select(p => p.ToModbusPoint($"{prefix}.{p.Name}", unitId)).ToArray();
    }
}
