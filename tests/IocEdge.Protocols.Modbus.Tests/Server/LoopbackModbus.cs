using System.Net;
using IocEdge.Protocols.Modbus;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Protocols.Modbus.Tests.Server;

/// <summary>Our server on 127.0.0.1 and an ephemeral port, with unit 1 (and any others asked for), for master tests.</summary>
internal sealed class LoopbackModbus : IAsyncDisposable
{
    private LoopbackModbus(ModbusServer server, Dictionary<byte, ModbusDataStore> units, IPEndPoint endpoint,
        ModbusServerTransport transport)
    {
        Server = server;
        Units = units;
        Endpoint = endpoint;
        Transport = transport;
    }

    public ModbusServer Server { get; }

    public Dictionary<byte, ModbusDataStore> Units { get; }

    public ModbusDataStore Store => Units[1];

    public IPEndPoint Endpoint { get; }

    public ModbusServerTransport Transport { get; }

    public static async Task<LoopbackModbus> StartAsync(ModbusServerTransport transport = ModbusServerTransport.Tcp,
        TimeProvider? timeProvider = null, IModbusFaultInjector? faults = null, params byte[] unitIds)
    {
        var units = (unitIds.Length == 0 ? [1] : unitIds).ToDictionary(u => u, _ => new ModbusDataStore());
        var server = new ModbusServer(units, faults, timeProvider);
        var endpoint = transport == ModbusServerTransport.Tcp
            ? await server.StartTcpAsync(new IPEndPoint(IPAddress.Loopback, 0), CancellationToken.None)
            : await server.StartRtuOverTcpAsync(new IPEndPoint(IPAddress.Loopback, 0), CancellationToken.None);
        return new LoopbackModbus(server, units, endpoint, transport);
    }

    public IModbusMaster CreateMaster(TimeProvider? timeProvider = null, TimeSpan? timeout = null, int retries = 2) =>
        Transport == ModbusServerTransport.Tcp
            ? ModbusMaster.CreateTcp(new ModbusTcpMasterOptions
            {
                Host = "127.0.0.1",
                Port = Endpoint.Port,
                Timeout = timeout ?? TimeSpan.FromSeconds(1),
                Retries = retries,
            }, timeProvider)
            : ModbusMaster.CreateRtuOverTcp(new ModbusRtuOverTcpMasterOptions
            {
                Host = "127.0.0.1",
                Port = Endpoint.Port,
                Timeout = timeout ?? TimeSpan.FromSeconds(1),
                Retries = retries,
            }, timeProvider);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>
/// Moves a FakeTimeProvider forward while a call that waits on it (a master's timeout, a server's scripted delay) is
/// in flight. Each step yields a little real time so that loopback I/O, which is not on the fake clock, gets done.
/// </summary>
internal static class FakeClock
{
    public static async Task<T> DriveAsync<T>(this FakeTimeProvider time, Task<T> call, TimeSpan? step = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!call.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.WhenAny(call, Task.Delay(20));
            if (!call.IsCompleted)
            {
                time.Advance(step ?? TimeSpan.FromMilliseconds(50));
            }
        }

        // Fail, never hang, when the call did not finish while the clock was driven.
        return await call.WaitAsync(TimeSpan.FromSeconds(5));
    }

    public static async Task DriveAsync(this FakeTimeProvider time, Task call, TimeSpan? step = null) =>
        await time.DriveAsync(call.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), step);
}
