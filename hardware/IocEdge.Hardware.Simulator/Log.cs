using System.Net;
using Microsoft.Extensions.Logging;

namespace IocEdge.Hardware.Simulator;

/// <summary>The simulator's log messages (event ids 4600-4699).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4600, Level = LogLevel.Information,
        Message = "Station simulator serving {Instruments} on Modbus TCP {EndPoint}")]
    public static partial void ListeningTcp(ILogger logger, string instruments, IPEndPoint endPoint);

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information,
        Message = "Station simulator serving {Instruments} on {Mode} {PortPath} ({BaudRate} baud, parity {Parity})")]
    public static partial void ListeningSerial(ILogger logger, string instruments, string mode, string portPath, int baudRate, string parity);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Information, Message = "Unit {UnitId}: fault {Kind} set ({Detail})")]
    public static partial void FaultSet(ILogger logger, byte unitId, SimulatorFaultKind kind, string detail);

    [LoggerMessage(EventId = 4603, Level = LogLevel.Information, Message = "Unit {UnitId}: faults cleared")]
    public static partial void FaultsCleared(ILogger logger, byte unitId);

    [LoggerMessage(EventId = 4604, Level = LogLevel.Error, Message = "Signal update failed; the registers keep their last values")]
    public static partial void UpdateFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4605, Level = LogLevel.Information, Message = "Station simulator stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 4606, Level = LogLevel.Debug, Message = "Signals updated at {Now:O}")]
    public static partial void Updated(ILogger logger, DateTimeOffset now);

    [LoggerMessage(EventId = 4607, Level = LogLevel.Information, Message = "Simulated {Kind} serving on {PortPath}")]
    public static partial void UartDeviceServing(ILogger logger, SimulatedUartDeviceKind kind, string portPath);

    [LoggerMessage(EventId = 4608, Level = LogLevel.Warning, Message = "UART bridge on {PortPath} stopped")]
    public static partial void UartBridgeStopped(ILogger logger, string portPath, Exception exception);
}
