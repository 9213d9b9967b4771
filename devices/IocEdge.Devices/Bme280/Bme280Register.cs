namespace IocEdge.Devices;

/// <summary>BME280 registers (Bosch BST-BME280-DS002, section 5.3, Table 18 "Memory map").</summary>
public enum Bme280Register : byte
{
    /// <summary>calib00..calib25: dig_T1..dig_P9 and dig_H1 (0x88-0xA1).</summary>
    Calibration00 = 0x88,
    /// <summary>Chip id, 0x60 for a BME280 (0x58 = BMP280, 0x56/0x57 = BMP280 samples).</summary>
    ChipId = 0xD0,
    /// <summary>Write 0xB6 for a soft reset.</summary>
    Reset = 0xE0,
    /// <summary>calib26..calib41: dig_H2..dig_H6 (0xE1-0xE7 used).</summary>
    Calibration26 = 0xE1,
    /// <summary>osrs_h[2:0]; takes effect at the next write of ctrl_meas.</summary>
    CtrlHum = 0xF2,
    /// <summary>measuring[3], im_update[0].</summary>
    Status = 0xF3,
    /// <summary>osrs_t[7:5], osrs_p[4:2], mode[1:0].</summary>
    CtrlMeas = 0xF4,
    /// <summary>t_sb[7:5], filter[4:2], spi3w_en[0].</summary>
    Config = 0xF5,
    /// <summary>press_msb, press_lsb, press_xlsb, temp_msb, temp_lsb, temp_xlsb, hum_msb, hum_lsb (0xF7-0xFE).</summary>
    PressureMsb = 0xF7,
    TemperatureMsb = 0xFA,
    HumidityMsb = 0xFD,
}

/// <summary>Oversampling of one measurement (osrs_x codes, section 5.4.3-5.4.5).</summary>
public enum Bme280Oversampling : byte
{
    /// <summary>Measurement skipped: output is the reset value and is not reported.</summary>
    Skipped = 0,
    X1 = 1,
    X2 = 2,
    X4 = 3,
    X8 = 4,
    X16 = 5,
}

/// <summary>Sensor mode (section 3.3).</summary>
public enum Bme280Mode : byte
{
    Sleep = 0,
    /// <summary>One measurement per read, then back to sleep: the recommended mode for weather monitoring (3.5.1).</summary>
    Forced = 1,
    Normal = 3,
}

/// <summary>IIR filter coefficient (section 3.4.4).</summary>
public enum Bme280Filter : byte
{
    Off = 0,
    X2 = 1,
    X4 = 2,
    X8 = 3,
    X16 = 4,
}

/// <summary>Inactive time between conversions in normal mode (t_sb, Table 27).</summary>
public enum Bme280Standby : byte
{
    HalfMs = 0,
    Ms62Point5 = 1,
    Ms125 = 2,
    Ms250 = 3,
    Ms500 = 4,
    Ms1000 = 5,
    Ms10 = 6,
    Ms20 = 7,
}
