namespace IocEdge.Devices;

/// <summary>ADS1115 address-pointer values (TI SBAS444, "Register Map": Address Pointer Register).</summary>
public enum Ads1115Register : byte
{
    /// <summary>16-bit two's complement result of the last conversion.</summary>
    Conversion = 0x00,
    /// <summary>OS[15], MUX[14:12], PGA[11:9], MODE[8], DR[7:5], COMP_MODE[4], COMP_POL[3], COMP_LAT[2], COMP_QUE[1:0]. Reset 0x8583.</summary>
    Config = 0x01,
    LowThreshold = 0x02,
    HighThreshold = 0x03,
}

/// <summary>Input multiplexer (MUX[14:12]).</summary>
public enum Ads1115Input : byte
{
    Ain0MinusAin1 = 0,
    Ain0MinusAin3 = 1,
    Ain1MinusAin3 = 2,
    Ain2MinusAin3 = 3,
    /// <summary>AIN0 against GND (single-ended).</summary>
    Ain0 = 4,
    Ain1 = 5,
    Ain2 = 6,
    Ain3 = 7,
}

/// <summary>Programmable gain amplifier full-scale range (PGA[11:9]; SBAS444 "Full-Scale Range and LSB Size" table).</summary>
public enum Ads1115FullScale : byte
{
    /// <summary>±6.144 V, LSB 187.5 µV. The inputs still must stay within GND-0.3 V .. VDD+0.3 V.</summary>
    PlusMinus6144mV = 0,
    /// <summary>±4.096 V, LSB 125 µV.</summary>
    PlusMinus4096mV = 1,
    /// <summary>±2.048 V, LSB 62.5 µV (reset default).</summary>
    PlusMinus2048mV = 2,
    /// <summary>±1.024 V, LSB 31.25 µV.</summary>
    PlusMinus1024mV = 3,
    /// <summary>±0.512 V, LSB 15.625 µV.</summary>
    PlusMinus512mV = 4,
    /// <summary>±0.256 V, LSB 7.8125 µV (codes 5, 6 and 7).</summary>
    PlusMinus256mV = 5,
}

/// <summary>Data rate in samples per second (DR[7:5]).</summary>
public enum Ads1115DataRate : byte
{
    Sps8 = 0,
    Sps16 = 1,
    Sps32 = 2,
    Sps64 = 3,
    /// <summary>Reset default.</summary>
    Sps128 = 4,
    Sps250 = 5,
    Sps475 = 6,
    Sps860 = 7,
}
