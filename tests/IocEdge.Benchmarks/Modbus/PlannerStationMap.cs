using IocEdge.Protocols.Modbus;

namespace IocEdge.Benchmarks.Modbus;

/// <summary>
/// A realistic station on one RS-485 drop, as the planner and wire-time benchmarks read it: 60 values from one
/// logger (unit 1) in three register blocks with reserved gaps, mixed types.
/// <list type="bullet">
/// <item><description>Input registers 0-53, gas and particulate analyser: 19 float32 (CDAB) measurements and 2 uint32 counters,
/// with reserved holes at 8-9, 26-29 and 44-49.</description></item>
/// <item><description>Holding registers 1000-1052, weather station and noise meter: 19 scaled int16/uint16 and one uint32,
/// with unused runs of 9, 7 and 16 registers.</description></item>
/// <item><description>Holding registers 4000-4042, status and identity: 10 bit fields in two status words, 2 uint16,
/// 2 strings (serial number 8 registers, site code 4), 2 uint32, one int64, one float64 and one int16.</description></item>
/// </list>
/// </summary>
internal static class PlannerStationMap
{
    public const byte Unit = 1;

    public static ModbusPointDefinition[] Points { get; } = Build();

    private static ModbusPointDefinition[] Build()
    {
        var points = new List<ModbusPointDefinition>();

        void Add(string id, RegisterKind kind, ushort address, ModbusDataType type, double scale = 1,
            ModbusByteOrder order = ModbusByteOrder.ABCD, int bit = 0, int stringRegisters = 0) =>
            points.Add(new ModbusPointDefinition
            {
                Id = id, UnitId = Unit, Kind = kind, Address = address, DataType = type, Scale = scale, ByteOrder = order,
                BitIndex = bit, StringRegisters = stringRegisters,
            });

        // Block 1: analyser, input registers, float32 word-swapped (a common PLC order).
        string[] gases = ["pm1", "pm25", "pm10", "tsp"];
        for (var i = 0; i < gases.Length; i++)
        {
            Add($"aqm.{gases[i]}", RegisterKind.InputRegister, (ushort)(2 * i), ModbusDataType.Float32, order: ModbusByteOrder.CDAB);
        }

        string[] more = ["no", "no2", "nox", "so2", "co", "o3", "h2s", "nh3"];
        for (var i = 0; i < more.Length; i++)
        {
            Add($"aqm.{more[i]}", RegisterKind.InputRegister, (ushort)(10 + 2 * i), ModbusDataType.Float32, order: ModbusByteOrder.CDAB);
        }

        string[] cell = ["co2", "voc", "ch4", "flow", "cell_temp", "cell_pressure", "lamp"];
        for (var i = 0; i < cell.Length; i++)
        {
            Add($"aqm.{cell[i]}", RegisterKind.InputRegister, (ushort)(30 + 2 * i), ModbusDataType.Float32, order: ModbusByteOrder.CDAB);
        }

        Add("aqm.uptime", RegisterKind.InputRegister, 50, ModbusDataType.UInt32);
        Add("aqm.errors", RegisterKind.InputRegister, 52, ModbusDataType.UInt32);

        // Block 2: weather station and noise meter, holding registers, scaled 16-bit integers.
        const RegisterKind hr = RegisterKind.HoldingRegister;
        Add("wx.air_temp", hr, 1000, ModbusDataType.Int16, 0.1);
        Add("wx.rh", hr, 1001, ModbusDataType.UInt16, 0.1);
        Add("wx.pressure", hr, 1002, ModbusDataType.UInt16, 0.1);
        Add("wx.wind_speed", hr, 1003, ModbusDataType.UInt16, 0.01);
        Add("wx.wind_dir", hr, 1004, ModbusDataType.UInt16);
        Add("wx.gust", hr, 1005, ModbusDataType.UInt16, 0.01);
        Add("wx.rain_rate", hr, 1006, ModbusDataType.UInt16, 0.1);
        Add("wx.rain_total", hr, 1007, ModbusDataType.UInt32, 0.1);
        Add("wx.solar", hr, 1009, ModbusDataType.UInt16);
        Add("wx.uv", hr, 1010, ModbusDataType.UInt16, 0.1);
        Add("wx.dew_point", hr, 1020, ModbusDataType.Int16, 0.1);
        Add("wx.heat_index", hr, 1021, ModbusDataType.Int16, 0.1);
        Add("wx.visibility", hr, 1022, ModbusDataType.UInt16);
        Add("wx.battery", hr, 1030, ModbusDataType.UInt16, 0.01);
        Add("wx.panel", hr, 1031, ModbusDataType.UInt16, 0.01);
        Add("wx.enclosure_temp", hr, 1032, ModbusDataType.Int16, 0.1);
        Add("wx.enclosure_rh", hr, 1033, ModbusDataType.UInt16, 0.1);
        Add("noise.laeq", hr, 1050, ModbusDataType.UInt16, 0.1);
        Add("noise.lamax", hr, 1051, ModbusDataType.UInt16, 0.1);
        Add("noise.lamin", hr, 1052, ModbusDataType.UInt16, 0.1);

        // Block 3: status and identity.
        string[] status = ["power_fail", "door_open", "pump_fault", "heater_on", "calibrating", "maintenance"];
        for (var b = 0; b < status.Length; b++)
        {
            Add($"st.{status[b]}", hr, 4000, ModbusDataType.Bit, bit: b);
        }

        string[] alarms = ["high_pm25", "high_no2", "high_o3", "sensor_drift"];
        for (var b = 0; b < alarms.Length; b++)
        {
            Add($"alarm.{alarms[b]}", hr, 4001, ModbusDataType.Bit, bit: b);
        }

        Add("st.firmware", hr, 4002, ModbusDataType.UInt16);
        Add("st.model", hr, 4003, ModbusDataType.UInt16);
        Add("st.serial", hr, 4010, ModbusDataType.String, stringRegisters: 8);
        Add("st.site", hr, 4020, ModbusDataType.String, stringRegisters: 4);
        Add("st.last_calibration", hr, 4030, ModbusDataType.UInt32);
        Add("st.operating_hours", hr, 4032, ModbusDataType.UInt32);
        Add("st.pump_revolutions", hr, 4034, ModbusDataType.Int64);
        Add("st.flow_total", hr, 4038, ModbusDataType.Float64);
        Add("st.rssi", hr, 4042, ModbusDataType.Int16);

        return points.ToArray();
    }

    /// <summary>The registers each point occupies, for the planner.</summary>
    public static ModbusAddressRange[] Ranges { get; } = Points.Select(p => p.Range).ToArray();

    /// <summary>One request per value: what a naive poller sends.</summary>
    public static ModbusReadRequest[] OneRequestPerValue { get; } = Ranges
        .Select((r, i) => new ModbusReadRequest(r.Kind, r.Address, (ushort)r.Count, [i]))
        .ToArray();
}
