using System.Text.Json.Nodes;
using IocEdge.Devices.Profiles;
using IocEdge.Protocols.Modbus;
using IocEdge.Testing;

namespace IocEdge.Devices.Profiles.Tests;

/// <summary>Every rule refuses a bad profile with the file, the JSON path of the key and a fix.</summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "devices")]
public sealed class ProfileValidationTests
{
    private const string File = "test-profile.json";

    private static JsonObject Point(string name = "pm2_5", int address = 0, string type = "UInt16") => new()
    {
        ["name"] = name,
        ["quantity"] = "PM2.5",
        ["unit"] = "ug/m3",
        ["register"] = "HoldingRegister",
        ["address"] = address,
        ["type"] = type,
        ["scale"] = 0.1,
        ["min"] = 0,
        ["max"] = 1000,
    };

    private static JsonObject Profile(params JsonObject[] points) => new()
    {
        ["id"] = "test-profile",
        ["name"] = "Test",
        ["source"] = "invented: test",
        ["points"] = new JsonArray(points.Select(p => p.DeepClone()).ToArray()),
    };

    private static ProfileProblem Refused(JsonObject doc, string path)
    {
        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.Parse(doc.ToJsonString(), File));
        var problem = Assert.Single(ex.Problems, p => p.Path == path);
        Assert.Equal(File, problem.File);
        Assert.False(string.IsNullOrWhiteSpace(problem.Fix));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(File, ex.Message, StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public void A_good_profile_parses()
    {
        var profile = ProfileCatalog.Parse(Profile(Point(), Point("pm10", 1)).ToJsonString(), File);

        Assert.Equal(2, profile.Points.Count);
        Assert.Equal(ModbusByteOrder.ABCD, profile.GetPoint("pm10").ByteOrder);
        Assert.Equal(File, profile.SourceFile);
    }

    [Fact]
    public void Unknown_data_type_lists_the_types()
    {
        var p = Point(type: "Float16");
        var problem = Refused(Profile(p), "$.points[0].type");
        Assert.Contains("Float16", problem.Message, StringComparison.Ordinal);
        Assert.Contains("Float32", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_numeric_data_type_is_not_taken_as_an_enum_ordinal()
    {
        Refused(Profile(Point(type: "3")), "$.points[0].type");
    }

    [Fact]
    public void Unknown_register_kind_and_byte_order_are_refused()
    {
        var p = Point();
        p["register"] = "holding";
        p["byteOrder"] = "big";
        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.Parse(Profile(p).ToJsonString(), File));
        Assert.Contains(ex.Problems, x => x.Path == "$.points[0].register" && x.Fix.Contains("HoldingRegister", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, x => x.Path == "$.points[0].byteOrder" && x.Fix.Contains("CDAB", StringComparison.Ordinal));
    }

    [Fact]
    public void Address_outside_0_to_65535_is_refused()
    {
        var problem = Refused(Profile(Point(address: 70000)), "$.points[0].address");
        Assert.Contains("70000", problem.Message, StringComparison.Ordinal);
        Refused(Profile(Point(address: -1)), "$.points[0].address");
    }

    [Fact]
    public void A_multi_register_value_running_past_65535_is_refused_with_the_last_valid_address()
    {
        var p = Point(address: 65533, type: "Float64");
        p.Remove("scale");
        var problem = Refused(Profile(p), "$.points[0].address");
        Assert.Contains("65536", problem.Message, StringComparison.Ordinal);
        Assert.Contains("65532", problem.Fix, StringComparison.Ordinal);

        // The last register itself is fine.
        var ok = Point(address: 65532, type: "Float64");
        ok.Remove("scale");
        Assert.Equal(65532, ProfileCatalog.Parse(Profile(ok).ToJsonString(), File).Points[0].Address);
    }

    [Fact]
    public void Overlapping_points_are_refused_naming_both()
    {
        var a = Point("temperature", 10, "Float32");
        a.Remove("scale");
        var b = Point("humidity", 11);
        var problem = Refused(Profile(a, b), "$.points[1].address");
        Assert.Contains("temperature", problem.Message, StringComparison.Ordinal);
        Assert.Contains("HoldingRegister 10-11", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_bits_of_one_register_may_share_it_but_the_same_bit_may_not()
    {
        static JsonObject Bit(string name, int bit) => new()
        {
            ["name"] = name, ["quantity"] = "flag", ["unit"] = "1", ["register"] = "InputRegister",
            ["address"] = 5, ["type"] = "Bit", ["bit"] = bit,
        };

        var ok = ProfileCatalog.Parse(Profile(Bit("a", 0), Bit("b", 15)).ToJsonString(), File);
        Assert.Equal(2, ok.Points.Count);
        Refused(Profile(Bit("a", 3), Bit("b", 3)), "$.points[1].address");
    }

    [Fact]
    public void The_same_register_in_another_table_is_not_an_overlap()
    {
        var a = Point("a", 0);
        var b = Point("b", 0);
        b["register"] = "InputRegister";
        Assert.Equal(2, ProfileCatalog.Parse(Profile(a, b).ToJsonString(), File).Points.Count);
    }

    [Fact]
    public void Unknown_unit_suggests_the_vocabulary_symbol()
    {
        var p = Point();
        p["unit"] = "µg/m³";
        var problem = Refused(Profile(p), "$.points[0].unit");
        Assert.Contains("\"ug/m3\"", problem.Fix, StringComparison.Ordinal);

        p["unit"] = "furlongs";
        problem = Refused(Profile(p), "$.points[0].unit");
        Assert.Contains("degC", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_without_length_is_refused()
    {
        var p = Point("serial", 100, "String");
        p.Remove("scale");
        p.Remove("min");
        p.Remove("max");
        var problem = Refused(Profile(p), "$.points[0].length");
        Assert.Contains("registers", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bit_index_outside_0_to_15_is_refused()
    {
        var p = new JsonObject
        {
            ["name"] = "alarm", ["quantity"] = "alarm", ["unit"] = "1", ["register"] = "HoldingRegister",
            ["address"] = 7, ["type"] = "Bit", ["bit"] = 16,
        };
        var problem = Refused(Profile(p), "$.points[0].bit");
        Assert.Contains("16", problem.Message, StringComparison.Ordinal);
        Assert.Contains("0 (least significant) to 15", problem.Fix, StringComparison.Ordinal);

        p.Remove("bit");
        Refused(Profile(p), "$.points[0].bit");
    }

    [Fact]
    public void A_coil_must_be_a_bit()
    {
        var p = Point();
        p["register"] = "Coil";
        var problem = Refused(Profile(p), "$.points[0].type");
        Assert.Contains("\"Bit\"", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_range_the_type_cannot_carry_after_scaling_is_refused()
    {
        var p = Point();
        p["max"] = 10000; // UInt16 × 0.1 tops out at 6553.5
        var problem = Refused(Profile(p), "$.points[0].max");
        Assert.Contains("6553.5", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_scale_and_inverted_range_are_refused()
    {
        var p = Point();
        p["scale"] = 0;
        Refused(Profile(p), "$.points[0].scale");

        var q = Point();
        q["min"] = 50;
        q["max"] = 10;
        Refused(Profile(q), "$.points[0].max");
    }

    [Fact]
    public void Missing_range_on_a_numeric_point_is_refused()
    {
        var p = Point();
        p.Remove("max");
        var problem = Refused(Profile(p), "$.points[0].max");
        Assert.Contains("max", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_keys_are_all_reported_at_once()
    {
        var p = new JsonObject { ["name"] = "x" };
        var doc = new JsonObject { ["id"] = "test-profile", ["points"] = new JsonArray(p) };

        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.Parse(doc.ToJsonString(), File));
        var paths = ex.Problems.Select(x => x.Path).ToHashSet();
        Assert.Superset(new HashSet<string>
        {
            "$.name", "$.source", "$.points[0].quantity", "$.points[0].unit", "$.points[0].register",
            "$.points[0].type", "$.points[0].address",
        }, paths);
    }

    [Fact]
    public void A_misspelt_key_is_refused_with_the_likely_key()
    {
        var p = Point();
        p["byte_order"] = "CDAB";
        var problem = Refused(Profile(p), "$.points[0].byte_order");
        Assert.Contains("\"byteOrder\"", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_point_names_and_bad_names_are_refused()
    {
        Refused(Profile(Point("pm", 0), Point("pm", 1)), "$.points[1].name");
        Refused(Profile(Point("PM2.5", 0)), "$.points[0].name");
    }

    [Fact]
    public void Simulation_mean_outside_the_range_and_bad_peak_hour_are_refused()
    {
        var p = Point();
        p["simulation"] = new JsonObject { ["mean"] = 2000, ["dailyPeakHour"] = 24 };
        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.Parse(Profile(p).ToJsonString(), File));
        Assert.Contains(ex.Problems, x => x.Path == "$.points[0].simulation.mean");
        Assert.Contains(ex.Problems, x => x.Path == "$.points[0].simulation.dailyPeakHour");
    }

    [Fact]
    public void Syntax_errors_name_the_line_and_path()
    {
        var ex = Assert.Throws<ProfileValidationException>(() =>
            ProfileCatalog.Parse("{ \"id\": \"x\", \"points\": [ { \"address\": \"ten\" } ] }", File));
        var problem = Assert.Single(ex.Problems);
        Assert.Equal("$.points[0].address", problem.Path);
        Assert.Contains("line 1", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_reports_every_bad_file_and_a_file_name_that_differs_from_the_id()
    {
        using var dir = new TempDirectory("profiles");
        System.IO.File.WriteAllText(dir.File("good.json"), Profile(Point()).ToJsonString().Replace("test-profile", "good", StringComparison.Ordinal));
        System.IO.File.WriteAllText(dir.File("renamed.json"), Profile(Point()).ToJsonString());
        var bad = Point();
        bad["unit"] = "kg";
        System.IO.File.WriteAllText(dir.File("bad.json"), Profile(bad).ToJsonString().Replace("test-profile", "bad", StringComparison.Ordinal));
        System.IO.File.WriteAllText(dir.File("profile.schema.json"), "{ \"not\": \"a profile\" }");

        var ex = Assert.Throws<ProfileValidationException>(() => ProfileCatalog.LoadDirectory(dir.Path));

        Assert.Contains(ex.Problems, p => p.File.EndsWith("bad.json", StringComparison.Ordinal) && p.Path == "$.points[0].unit");
        Assert.Contains(ex.Problems, p => p.File.EndsWith("renamed.json", StringComparison.Ordinal) && p.Path == "$.id"
            && p.Fix.Contains("renamed", StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Problems, p => p.File.EndsWith("good.json", StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Problems, p => p.File.EndsWith("schema.json", StringComparison.Ordinal));
    }

    [Fact]
    public void A_profile_built_in_code_gets_the_same_checks()
    {
        var profile = new InstrumentProfile
        {
            Id = "coded",
            Name = "Coded",
            Source = "invented: test",
            Points =
            [
                new ProfilePoint { Name = "a", Quantity = "A", Unit = "V", Address = 0, Type = ModbusDataType.Float32, Min = 0, Max = 10 },
                new ProfilePoint { Name = "b", Quantity = "B", Unit = "V", Address = 1, Type = ModbusDataType.UInt16, Min = 0, Max = 10 },
            ],
        };

        var ex = Assert.Throws<ProfileValidationException>(profile.Validate);
        var problem = Assert.Single(ex.Problems);
        Assert.Equal("(in-memory profile 'coded')", problem.File);
        Assert.Equal("$.points[1].address", problem.Path);
    }
}
