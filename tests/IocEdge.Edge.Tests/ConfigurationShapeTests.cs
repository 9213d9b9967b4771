using System.Collections;
using System.Reflection;
using IocEdge.Edge.Configuration;
using IocEdge.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 14 (footprint): the configuration check no longer walks the options classes by reflection (NativeAOT cannot):
/// it reads <see cref="ConfigurationShapes.Gateway"/>, a list of the classes. These tests keep that list equal to the classes
/// (here, under the JIT, reflection is allowed), and keep the check's conversions equal to the generated binder's.
/// </summary>
[Trait(Traits.Category, Traits.Unit)]
[Trait(Traits.Acceptance, "outbox")]
public sealed class ConfigurationShapeTests
{
    [Fact]
    public void The_shape_lists_every_settable_key_of_every_options_class_with_its_type()
    {
        var missing = new List<string>();
        Compare(typeof(GatewayOptions), ConfigurationShapes.Gateway, "Gateway", missing);

        Assert.Empty(missing);
    }

    [Fact]
    public void A_property_of_an_options_class_without_a_shape_is_refused_when_the_shape_is_built()
    {
        // GatewayModbusOptions has lists of ModbusLinkOptions and ModbusDeviceOptions: leaving one out is a defect that
        // must show at once, not as an "unknown key" a technician cannot fix.
        var ex = Assert.Throws<NotSupportedException>(() => ConfigObject.Of<GatewayModbusOptions>(ConfigObject.Of<ModbusLinkOptions>()));

        Assert.Contains("ModbusDeviceOptions", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    // What the configuration binding source generator accepts (int.Parse Integer, double.Parse Float, TimeSpan.Parse,
    // Enum.Parse ignoreCase, all InvariantCulture) passes; what it throws on is a problem line.
    [InlineData("1883", typeof(int), true)]
    [InlineData(" 1883 ", typeof(int), true)]
    [InlineData("eleven-thousand", typeof(int), false)]
    [InlineData("0x75B", typeof(int), false)]  // the reflection binder's Int32Converter took hex; the generated binder does not
    [InlineData("1e3", typeof(int), false)]
    [InlineData("0.25", typeof(double), true)]
    [InlineData("0,25", typeof(double), false)]
    [InlineData("00:00:30", typeof(TimeSpan), true)]
    [InlineData("30s", typeof(TimeSpan), false)]
    [InlineData("rtu", typeof(ModbusTransport), true)]
    [InlineData("Serial", typeof(ModbusTransport), false)]
    [InlineData("True", typeof(bool), true)]
    [InlineData("yes", typeof(bool), false)]
    public void A_value_passes_the_check_exactly_when_the_generated_binder_accepts_it(string text, Type type, bool accepted) =>
        Assert.Equal(accepted, ConfigurationCheck.TryConvert(text, type));

    private static void Compare(Type type, ConfigNode node, string path, List<string> missing)
    {
        var obj = Assert.IsType<ConfigObject>(node);
        Assert.Equal(type, obj.Type);
        var settable = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite || (p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType)))
            .ToList();
        Assert.Equal(settable.Select(p => p.Name).Order(), obj.Properties.Keys.Order());
        foreach (var p in settable)
        {
            CompareValue(p.PropertyType, obj.Properties[p.Name], $"{path}:{p.Name}", missing);
        }
    }

    private static void CompareValue(Type type, ConfigNode node, string path, List<string> missing)
    {
        var leaf = Nullable.GetUnderlyingType(type) ?? type;
        if (leaf != typeof(string) && leaf.IsGenericType && typeof(IEnumerable).IsAssignableFrom(leaf))
        {
            CompareValue(leaf.GetGenericArguments()[0], Assert.IsType<ConfigList>(node).Element, path + ":0", missing);
        }
        else if (leaf.IsClass && leaf != typeof(string) && leaf != typeof(Uri))
        {
            Compare(leaf, node, path, missing);
        }
        else if (node is not ConfigScalar scalar || scalar.Type != leaf)
        {
            missing.Add($"{path}: expected a value of {leaf.Name}");
        }
    }
}
