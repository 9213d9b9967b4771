using IocEdge.Devices.Profiles;
using IocEdge.Edge.Configuration;
using IocEdge.Edge.Sources;
using IocEdge.Protocols.Modbus;
using IocEdge.Protocols.Mqtt;
using IocEdge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IocEdge.Edge.Tests;

[Trait(Traits.Category, Traits.Unit)]
public sealed class ModbusLinkSourceTests
{
    private static readonly ProfileCatalog Profiles = ProfileCatalog.LoadBuiltIn();
    private static readonly DateTimeOffset T = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    private static ModbusLinkSource Source(params ModbusDeviceOptions[] devices) => new(
        new ModbusLinkOptions { Id = "l", Host = "127.0.0.1" }, devices, Profiles, new FakeTimeProvider(T), NullLoggerFactory.Instance,
        _ => new NeverCalledMaster());

    [Fact]
    public void Every_profile_point_becomes_a_channel_named_device_slash_point()
    {
        var source = Source(new ModbusDeviceOptions { Id = "env1", Link = "l", Profile = "env-station", UnitId = 1 });

        Assert.Equal(["env1/pm2_5", "env1/pm10", "env1/temperature", "env1/humidity"], source.Channels);
    }

    [Fact]
    public void Listing_points_reads_only_those_and_text_points_are_not_readings()
    {
        var source = Source(new ModbusDeviceOptions
        {
            Id = "wq1", Link = "l", Profile = "water-sonde", UnitId = 2,
            Points = [new() { Name = "ph" }, new() { Name = "serial_number" }],
        });

        Assert.Equal(["wq1/ph"], source.Channels);
    }

    [Theory]
    [InlineData(PointQuality.Good, 88.30000000000001, Quality.Good, 88.3)]
    [InlineData(PointQuality.Stale, 41.2, Quality.Stale, 41.2)]
    [InlineData(PointQuality.Stale, double.NaN, Quality.CommFailure, null)]
    [InlineData(PointQuality.CommFailure, 41.2, Quality.CommFailure, null)]
    [InlineData(PointQuality.DeviceException, 41.2, Quality.DeviceException, null)]
    [InlineData(PointQuality.Invalid, -3276.8, Quality.Invalid, null)]
    [InlineData(PointQuality.OutOfRange, 3276.7, Quality.OutOfRange, 3276.7)]
    [InlineData(PointQuality.Good, double.PositiveInfinity, Quality.Invalid, null)]
    [InlineData(PointQuality.Good, double.NaN, Quality.Invalid, null)]
    public void Poller_results_map_to_the_contract(PointQuality polled, double value, Quality quality, double? sent)
    {
        var source = Source(new ModbusDeviceOptions { Id = "env1", Link = "l", Profile = "env-station", UnitId = 1 });

        var reading = source.ToReading(new PointReading("env1/humidity", value, polled, T));

        Assert.Equal(new Reading("env1/humidity", T, sent, "%RH", quality), reading);
    }

    [Theory]
    [InlineData(1.0, 0.0, ModbusDataType.UInt16, 0)]
    [InlineData(0.1, 0.0, ModbusDataType.UInt16, 1)]
    [InlineData(0.01, -40.0, ModbusDataType.Int16, 2)]
    [InlineData(0.5, 0.25, ModbusDataType.UInt16, 2)]
    [InlineData(1.0, 0.0, ModbusDataType.Float32, null)] // issue 13: floats arrive as their shortest decimal; rounding to 15 places would add noise back
    public void Integer_registers_are_rounded_to_their_scale(double scale, double offset, ModbusDataType type, int? decimals)
    {
        var p = new ModbusPointDefinition { Id = "a", UnitId = 1, Kind = RegisterKind.HoldingRegister, Address = 0, DataType = type, Scale = scale, Offset = offset };

        Assert.Equal(decimals, ModbusLinkSource.Decimals(p));
    }

    private sealed class NeverCalledMaster : IModbusMaster
    {
        private static InvalidOperationException Called() => new("These tests never poll.");

        public ValueTask<bool[]> ReadCoilsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask<bool[]> ReadDiscreteInputsAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask<ushort[]> ReadHoldingRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask<ushort[]> ReadInputRegistersAsync(byte unitId, ushort address, ushort count, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask WriteSingleCoilAsync(byte unitId, ushort address, bool value, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask WriteSingleRegisterAsync(byte unitId, ushort address, ushort value, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask WriteMultipleCoilsAsync(byte unitId, ushort address, ReadOnlyMemory<bool> values, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask WriteMultipleRegistersAsync(byte unitId, ushort address, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask MaskWriteRegisterAsync(byte unitId, ushort address, ushort andMask, ushort orMask, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask<ushort[]> ReadWriteMultipleRegistersAsync(byte unitId, ushort readAddress, ushort readCount, ushort writeAddress, ReadOnlyMemory<ushort> values, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask<IReadOnlyDictionary<byte, string>> ReadDeviceIdentificationAsync(byte unitId, byte readDeviceIdCode = 1, byte objectId = 0, CancellationToken cancellationToken = default) => throw Called();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
