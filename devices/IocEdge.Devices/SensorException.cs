namespace IocEdge.Devices;

/// <summary>
/// The one error type every driver throws for a device or bus problem. <see cref="Quality"/> tells the
/// gateway whether the link failed (<see cref="SensorQuality.CommFailure"/>) or the device reported
/// something that is not a measurement (<see cref="SensorQuality.DeviceException"/>).
/// </summary>
public sealed class SensorException : Exception
{
    public SensorException(SensorQuality quality, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        if (quality == SensorQuality.Good)
        {
            throw new ArgumentOutOfRangeException(nameof(quality), "A sensor error cannot have Good quality.");
        }

        Quality = quality;
    }

    /// <summary>CommFailure, DeviceException, Invalid (a "no measurement" code) or OutOfRange.</summary>
    public SensorQuality Quality { get; }

    internal static SensorException Comm(string message, Exception? inner = null) =>
        new(SensorQuality.CommFailure, message, inner);

    internal static SensorException Device(string message, Exception? inner = null) =>
        new(SensorQuality.DeviceException, message, inner);

    internal static SensorException NoMeasurement(string message) => new(SensorQuality.Invalid, message);
}
