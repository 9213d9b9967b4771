using System.IO.Ports;

namespace IocEdge.Protocols.Modbus;

/// <summary>Serial transmission mode ("MODBUS over Serial Line V1.02", section 2.5).</summary>
public enum ModbusSerialMode
{
    /// <summary>Binary frames with CRC-16, delimited by silence (section 2.5.1).</summary>
    Rtu,

    /// <summary>Hex text frames with LRC, ':' … CR LF (section 2.5.2).</summary>
    Ascii,
}

/// <summary>
/// The character format of a serial line and the RTU timings that follow from it
/// ("MODBUS over Serial Line V1.02", sections 2.5.1 and 2.5.1.1).
/// </summary>
public sealed record ModbusSerialLineSettings
{
    /// <summary>Bits per second (any positive value; 9600 and 19200 are the specification's defaults).</summary>
    public int BaudRate { get; init; } = 9600;

    /// <summary>Parity; the specification's default is even (section 2.5.1), 8N1 is what many devices ship with.</summary>
    public Parity Parity { get; init; } = Parity.None;

    /// <summary>Data bits: 8 for RTU, 7 or 8 for ASCII.</summary>
    public int DataBits { get; init; } = 8;

    /// <summary>Stop bits.</summary>
    public StopBits StopBits { get; init; } = StopBits.One;

    /// <summary>Bits on the wire per character: start + data + parity + stop.</summary>
    public double BitsPerCharacter => 1 + DataBits + (Parity == Parity.None ? 0 : 1) + StopBits switch
    {
        StopBits.Two => 2,
        StopBits.OnePointFive => 1.5,
        _ => 1,
    };

    /// <summary>Time to send one character.</summary>
    public TimeSpan CharacterTime => TimeSpan.FromTicks((long)Math.Round(BitsPerCharacter * TimeSpan.TicksPerSecond / BaudRate));

    /// <summary>
    /// t1.5, the longest silence allowed inside an RTU frame: 1.5 character times, fixed at 750 µs above 19200 baud
    /// (section 2.5.1.1).
    /// </summary>
    public TimeSpan T15 => BaudRate > 19200 ? TimeSpan.FromMicroseconds(750) : CharacterTime * 1.5;

    /// <summary>
    /// t3.5, the silence that separates RTU frames: 3.5 character times, fixed at 1.75 ms above 19200 baud
    /// (section 2.5.1.1).
    /// </summary>
    public TimeSpan T35 => BaudRate > 19200 ? TimeSpan.FromMicroseconds(1750) : CharacterTime * 3.5;

    /// <summary>Wire time of <paramref name="characters"/> characters.</summary>
    public TimeSpan TimeFor(int characters) => CharacterTime * characters;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting and how to fix it.</summary>
    public void Validate()
    {
        if (BaudRate <= 0)
        {
            throw new ArgumentException($"BaudRate must be positive (was {BaudRate}); typical values are 9600 and 19200.", nameof(BaudRate));
        }

        if (DataBits is not (7 or 8))
        {
            throw new ArgumentException($"DataBits must be 7 or 8 (was {DataBits}); RTU needs 8.", nameof(DataBits));
        }

        if (!Enum.IsDefined(Parity) || Parity is Parity.Mark or Parity.Space)
        {
            throw new ArgumentException($"Parity must be None, Even or Odd (was {Parity}).", nameof(Parity));
        }

        if (StopBits is not (StopBits.One or StopBits.Two or StopBits.OnePointFive))
        {
            throw new ArgumentException($"StopBits must be One or Two (was {StopBits}).", nameof(StopBits));
        }
    }
}
