using System.Text.Json.Nodes;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Devices.Profiles.Tests;

/// <summary>Issue 13 item 1: sentinels, valid ranges, resolution and request limits declared in profiles.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "field-faults")]
public sealed class QualityRulesTests
{
    private const string File = "test-profile.json";

    private static JsonObject Point(string type = "Int16") => new()
    {
        ["name"] = "relative_humidity", ["quantity"] = "Relative humidity", ["unit"] = "%RH",
        ["register"] = "InputRegister", ["address"] = 600, ["type"] = type, ["scale"] = 0.1, ["min"] = 0, ["max"] = 100,
    };

    private static string Profile(JsonObject point, int? maxRegisters = null)
    {
        var doc = new JsonObject
        {
            ["id"] = "test-profile", ["name"] = "Test", ["source"] = "invented: test", ["points"] = new JsonArray(point),
        };
        if (maxRegisters is { } m)
        {
            doc["maxRegistersPerRequest"] = m;
        }

        return doc.ToJsonString();
    }

    private static ProfileProblem Refused(string json, string path)
    {
        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.Parse(json, File));
        var problem = Assert.Single(ex.Problems, p => p.Path == path);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public void The_weather_station_profile_turns_the_example_words_into_invalid_and_out_of_range()
    {
        var station = ProfileCatalog.LoadBuiltIn().Get("weather-station");
        var temperature = station.GetPoint("air_temperature").ToModbusPoint("ws/air_temperature", 1);
        var humidity = station.GetPoint("relative_humidity").ToModbusPoint("ws/relative_humidity", 1);

        // LAMBRECHT meteo 16131-5 manual, 5.6: 0xD8F1 = -9999 is the sensor's error code / invalid value.
        Assert.Equal(PointQuality.Invalid, temperature.Assess(0xD8F1, -999.9));
        // 0x8000 × 0.1 = -3276.8 degC, 0x7FFF × 0.1 = 3276.7 %RH: outside the measuring range, never good.
        Assert.Equal(PointQuality.OutOfRange, temperature.Assess(0x8000, -3276.8));
        Assert.Equal(PointQuality.OutOfRange, humidity.Assess(0x7FFF, 3276.7));
        Assert.Equal(PointQuality.Good, humidity.Assess(780, 78.0));
        var total = station.GetPoint("precipitation_total_fine").ToModbusPoint("ws/p", 1);
        Assert.Equal(PointQuality.Invalid, total.Assess(0xFF676981, -9999.999)); // the 32-bit error code
    }

    [Fact]
    public void Sentinels_may_be_hex_bits_or_numbers_and_negative_numbers_take_the_type_s_width()
    {
        var point = Point();
        point["sentinels"] = new JsonArray("0x7FFF", "0x8000", -9999, 65535);
        point["validMin"] = 0;
        point["validMax"] = 100;
        point["decimals"] = 1;
        var profile = ProfileCatalog.Parse(Profile(point, maxRegisters: 50), File);

        var definition = profile.Points[0].ToModbusPoint("ws/rh", 1);
        Assert.Equal([0x7FFFUL, 0x8000UL, 0xD8F1UL, 0xFFFFUL], definition.Sentinels);
        Assert.Equal((0.0, 100.0, 1), (definition.ValidMin, definition.ValidMax, definition.Decimals));
        Assert.Equal(50, profile.MaxRegistersPerRequest);
    }

    [Fact]
    public void A_sentinel_wider_than_the_type_is_refused_with_its_path()
    {
        var point = Point();
        point["sentinels"] = new JsonArray("0x7FFF", "0x10000");
        var problem = Refused(Profile(point), "$.points[0].sentinels[1]");
        Assert.Contains("does not fit a Int16", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sentinel_that_is_not_a_number_is_refused_with_its_path()
    {
        var point = Point();
        point["sentinels"] = new JsonArray("n/a");
        Refused(Profile(point), "$.points[0].sentinels[0]");
    }

    [Fact]
    public void A_valid_range_upside_down_is_refused_with_its_path()
    {
        var point = Point();
        point["validMin"] = 100;
        point["validMax"] = 0;
        var problem = Refused(Profile(point), "$.points[0].validMax");
        Assert.Contains("above validMax", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_limit_beyond_the_specification_is_refused()
    {
        Refused(Profile(Point(), maxRegisters: 126), "$.maxRegistersPerRequest");
    }
}
