using System.Text.Json;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Devices.Profiles.Tests;

[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class BuiltInProfilesTests
{
    [Fact]
    public void The_built_in_profiles_all_load_and_validate()
    {
        var catalog = ProfileCatalog.LoadBuiltIn();

        Assert.Equal(["env-station", "gas-analyser", "water-sonde", "weather-station"], catalog.Profiles.Select(p => p.Id));
        foreach (var profile in catalog.Profiles)
        {
            profile.Validate();
            Assert.False(string.IsNullOrWhiteSpace(profile.Source));
            Assert.EndsWith(profile.Id + ".json", profile.SourceFile, StringComparison.Ordinal);
            Assert.All(profile.Points, p => Assert.NotNull(p.Simulation));
        }
    }

    [Fact]
    public void The_env_station_serves_four_scaled_holding_registers_with_Vietnamese_urban_levels()
    {
        var station = ProfileCatalog.LoadBuiltIn().Get("env-station");

        Assert.Equal(["pm2_5", "pm10", "temperature", "humidity"], station.Points.Select(p => p.Name));
        Assert.All(station.Points, p => Assert.Equal(RegisterKind.HoldingRegister, p.Register));
        Assert.Equal([0, 1, 2, 3], station.Points.Select(p => p.Address));
        Assert.All(station.Points, p => Assert.Equal(0.1, p.Scale));

        // The daily cycle spans the brief's ranges: PM2.5 ~20-80 ug/m3, 24-35 degC, 60-95 %RH.
        static (double Lo, double Hi) Swing(ProfilePoint p) =>
            (p.Simulation!.Mean - p.Simulation.DailyAmplitude - p.Simulation.Noise, p.Simulation.Mean + p.Simulation.DailyAmplitude + p.Simulation.Noise);
        var pm = Swing(station.GetPoint("pm2_5"));
        var t = Swing(station.GetPoint("temperature"));
        var rh = Swing(station.GetPoint("humidity"));
        Assert.InRange(pm.Lo, 15, 30);
        Assert.InRange(pm.Hi, 60, 85);
        Assert.InRange(t.Lo, 23.5, 26);
        Assert.InRange(t.Hi, 33, 35);
        Assert.InRange(rh.Lo, 60, 66);
        Assert.InRange(rh.Hi, 90, 95);
        Assert.Equal("ug/m3", station.GetPoint("pm2_5").Unit);
        Assert.Equal(TimeSpan.FromSeconds(5), station.GetPoint("pm10").PollPeriod);
    }

    [Fact]
    public void The_gas_analyser_follows_the_AQT530_register_table()
    {
        var gas = ProfileCatalog.LoadBuiltIn().Get("gas-analyser");

        // Vaisala AQT530 Configuration Guide M212572EN-E, Table 1.
        Assert.Equal(0x0000, gas.GetPoint("no2").Address);
        Assert.Equal(0x0001, gas.GetPoint("so2").Address);
        Assert.Equal(0x0002, gas.GetPoint("co").Address);
        Assert.Equal(0x0005, gas.GetPoint("o3").Address);
        Assert.Equal(0x0008, gas.GetPoint("pm2_5").Address);
        Assert.Equal(0x000C, gas.GetPoint("air_pressure").Address);
        Assert.All(gas.Points, p => Assert.Equal(ModbusDataType.Int16, p.Type));
        Assert.Equal("ppb", gas.GetPoint("co").Unit);
        Assert.Contains("M212572EN", gas.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sonde_and_weather_station_cover_floats_words_swapped_strings_bits_and_32_bit_integers()
    {
        var catalog = ProfileCatalog.LoadBuiltIn();
        var sonde = catalog.Get("water-sonde");
        var weather = catalog.Get("weather-station");

        Assert.Equal(["ph", "dissolved_oxygen", "conductivity", "turbidity", "water_temperature"],
            sonde.Points.Take(5).Select(p => p.Name));
        Assert.All(sonde.Points.Take(5), p => Assert.Equal((ModbusDataType.Float32, ModbusByteOrder.CDAB), (p.Type, p.ByteOrder)));
        Assert.Equal(4, sonde.GetPoint("serial_number").RegisterCount);
        Assert.Equal(3, sonde.GetPoint("wiper_active").Bit);
        Assert.StartsWith("invented", sonde.Source, StringComparison.Ordinal);

        var fine = weather.GetPoint("precipitation_total_fine");
        Assert.Equal((ModbusDataType.Int32, 1100, 2), (fine.Type, fine.Address, fine.RegisterCount));
        Assert.All(weather.Points, p => Assert.Equal(RegisterKind.InputRegister, p.Register));
    }

    [Fact]
    public void The_schema_units_match_the_units_vocabulary()
    {
        var schema = Path.Combine(ProfileCatalog.BuiltInDirectory, "profile.schema.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(schema));
        var unitEnum = doc.RootElement.GetProperty("$defs").GetProperty("point").GetProperty("properties")
            .GetProperty("unit").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!).ToArray();

        Assert.Equal(ProfileUnits.Symbols.Order(StringComparer.Ordinal), unitEnum.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Unknown_profile_ids_and_points_are_refused_with_the_known_ones_listed()
    {
        var catalog = ProfileCatalog.LoadBuiltIn();

        var ex = Assert.Throws<KeyNotFoundException>(() => catalog.Get("env-statoin"));
        Assert.Contains("env-station", ex.Message, StringComparison.Ordinal);
        var px = Assert.Throws<KeyNotFoundException>(() => catalog.Get("env-station").GetPoint("pm25"));
        Assert.Contains("pm2_5", px.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Units_vocabulary_answers_the_gateway_unit_mismatch_question()
    {
        Assert.True(ProfileUnits.IsKnown("ug/m3"));
        Assert.False(ProfileUnits.IsKnown("µg/m3"));
        Assert.Equal("ug/m3", ProfileUnits.Suggest("µg/m³"));
        Assert.Equal("degC", ProfileUnits.Suggest("°C"));
        Assert.True(ProfileUnits.SameUnit("ppb", "ppb"));
        Assert.False(ProfileUnits.SameUnit("ppb", "ppm"));
        Assert.True(ProfileUnits.TryGet("ppm", out var ppm));
        Assert.Equal("mole-fraction", ppm.Dimension);
    }
}

[Trait(Traits.Category, Traits.Unit)]
public sealed class ProfileModbusPointsTests
{
    [Fact]
    public void Every_built_in_point_maps_to_a_valid_poller_definition()
    {
        foreach (var profile in ProfileCatalog.LoadBuiltIn().Profiles)
        {
            var points = profile.ToModbusPoints(profile.Id, 3);

            Assert.Equal(profile.Points.Count, points.Count);
            foreach (var (definition, point) in points.Zip(profile.Points))
            {
                Assert.Empty(definition.GetErrors());
                Assert.Equal($"{profile.Id}.{point.Name}", definition.Id);
                Assert.Equal((point.Register, point.Address, point.Type, point.ByteOrder, point.Scale, point.Unit),
                    (definition.Kind, (int)definition.Address, definition.DataType, definition.ByteOrder, definition.Scale, definition.EngineeringUnit));
                Assert.Equal(point.RegisterCount, definition.Range.Count);
            }
        }
    }
}
