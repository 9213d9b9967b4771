namespace IocEdge.Hardware.SimulatedDevices;

/// <summary>Mass concentrations in µg/m³ a simulated particulate sensor measures.</summary>
public readonly record struct ParticulateSample(double Pm1, double Pm25, double Pm10);
