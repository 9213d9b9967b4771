using CsCheck;
using IocEdge.Protocols.Modbus;

namespace IocEdge.Protocols.Modbus.Tests.Planning;

[Trait("Category", "Unit")]
public sealed class ModbusPollPlannerTests
{
    private static readonly ModbusPollPlannerOptions Gap4 = new() { MaxRegisterGap = 4, MaxBitGap = 8 };

    private static ModbusAddressRange Hr(ushort address, int count = 1) => new(RegisterKind.HoldingRegister, address, count);

    private static ModbusAddressRange Ir(ushort address, int count = 1) => new(RegisterKind.InputRegister, address, count);

    private static (RegisterKind, int, int)[] Shape(ModbusPollPlan plan) =>
        plan.Requests.Select(r => (r.Kind, (int)r.Address, (int)r.Count)).ToArray();

    [Fact]
    public void Adjacent_and_near_points_share_one_request_and_far_ones_do_not()
    {
        // 100 float, 102 uint16, 107 int16 (gap 4: joined), 120 float (gap 12: new request).
        var plan = ModbusPollPlanner.Plan([Hr(100, 2), Hr(102), Hr(107), Hr(120, 2)], Gap4);

        Assert.Equal([(RegisterKind.HoldingRegister, 100, 8), (RegisterKind.HoldingRegister, 120, 2)], Shape(plan));
        Assert.Equal([0, 1, 2], plan.Requests[0].Points);
        Assert.Equal([3], plan.Requests[1].Points);
        Assert.Empty(plan.Refused);
    }

    [Fact]
    public void Zero_gap_joins_only_touching_points()
    {
        var plan = ModbusPollPlanner.Plan([Hr(0), Hr(1), Hr(3)], new ModbusPollPlannerOptions { MaxRegisterGap = 0 });
        Assert.Equal([(RegisterKind.HoldingRegister, 0, 2), (RegisterKind.HoldingRegister, 3, 1)], Shape(plan));
    }

    [Fact]
    public void A_request_never_exceeds_125_registers()
    {
        // 130 consecutive registers: the specification's FC 03 limit (V1.1b3 section 6.3) forces a second request.
        var points = Enumerable.Range(0, 130).Select(i => Hr((ushort)i)).ToArray();
        var plan = ModbusPollPlanner.Plan(points, Gap4);
        Assert.Equal([(RegisterKind.HoldingRegister, 0, 125), (RegisterKind.HoldingRegister, 125, 5)], Shape(plan));
    }

    [Fact]
    public void A_two_register_value_is_never_cut_at_the_limit()
    {
        // 62 floats fill 124 registers; the 63rd float would need registers 124-125, so it starts a new request.
        var points = Enumerable.Range(0, 63).Select(i => Hr((ushort)(2 * i), 2)).ToArray();
        var plan = ModbusPollPlanner.Plan(points, Gap4);
        Assert.Equal([(RegisterKind.HoldingRegister, 0, 124), (RegisterKind.HoldingRegister, 124, 2)], Shape(plan));
    }

    [Fact]
    public void Coils_join_up_to_2000_bits()
    {
        var points = Enumerable.Range(0, 2001).Select(i => new ModbusAddressRange(RegisterKind.Coil, (ushort)i, 1)).ToArray();
        var plan = ModbusPollPlanner.Plan(points, Gap4);
        Assert.Equal([(RegisterKind.Coil, 0, 2000), (RegisterKind.Coil, 2000, 1)], Shape(plan));
        Assert.Equal(0x01, plan.Requests[0].FunctionCode);
    }

    [Fact]
    public void Tables_are_never_mixed()
    {
        var plan = ModbusPollPlanner.Plan([Hr(10), Ir(11), Hr(12)], Gap4);
        Assert.Equal([(RegisterKind.InputRegister, 11, 1), (RegisterKind.HoldingRegister, 10, 3)], Shape(plan));
        Assert.Equal(0x04, plan.Requests[0].FunctionCode);
    }

    [Fact]
    public void Bit_fields_of_one_register_share_it()
    {
        var plan = ModbusPollPlanner.Plan([Hr(5), Hr(5), Hr(4, 2)], Gap4);
        Assert.Equal([(RegisterKind.HoldingRegister, 4, 2)], Shape(plan));
        Assert.Equal(3, plan.Requests[0].Points.Count);
    }

    [Fact]
    public void A_refused_address_in_a_gap_is_never_spanned()
    {
        var refused = new ModbusRefusedAddresses();
        refused.Add(RegisterKind.HoldingRegister, 104);
        var plan = ModbusPollPlanner.Plan([Hr(100, 2), Hr(102), Hr(107)], Gap4, refused);
        Assert.Equal([(RegisterKind.HoldingRegister, 100, 3), (RegisterKind.HoldingRegister, 107, 1)], Shape(plan));

        // The same address in the other table does not matter.
        var inputs = ModbusPollPlanner.Plan([Ir(100, 2), Ir(102), Ir(107)], Gap4, refused);
        Assert.Single(inputs.Requests);
    }

    [Fact]
    public void A_point_on_a_refused_address_is_reported_as_refused_and_not_requested()
    {
        var refused = new ModbusRefusedAddresses();
        refused.Add(RegisterKind.HoldingRegister, 103);
        var plan = ModbusPollPlanner.Plan([Hr(100), Hr(102, 2), Hr(105)], Gap4, refused);
        Assert.Equal([1], plan.Refused);
        Assert.Equal([(RegisterKind.HoldingRegister, 100, 1), (RegisterKind.HoldingRegister, 105, 1)], Shape(plan));
    }

    [Fact]
    public void Split_halves_the_points_with_tight_spans()
    {
        ModbusAddressRange[] points = [Hr(0), Hr(3), Hr(6, 2), Hr(10)];
        var plan = ModbusPollPlanner.Plan(points, Gap4);
        var (left, right) = ModbusPollPlanner.Split(Assert.Single(plan.Requests), points);
        Assert.Equal((0, 4), (left.Address, left.Count));
        Assert.Equal([0, 1], left.Points);
        Assert.Equal((6, 5), (right.Address, right.Count));
        Assert.Equal([2, 3], right.Points);
    }

    [Fact]
    public void Bad_options_and_points_name_the_problem()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            ModbusPollPlanner.Plan([Hr(0)], new ModbusPollPlannerOptions { MaxRegistersPerRequest = 126 }));
        Assert.Contains("MaxRegistersPerRequest", ex.Message, StringComparison.Ordinal);
        Assert.Contains("125", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ModbusPollPlanner.Plan([Hr(65535, 2)], Gap4));
        Assert.Throws<ArgumentException>(() => ModbusPollPlanner.Plan([Hr(0, 0)], Gap4));
    }

    [Fact]
    public void Refused_addresses_merge_into_ranges_for_diagnostics()
    {
        var refused = new ModbusRefusedAddresses();
        refused.Add(RegisterKind.HoldingRegister, 10, 3);
        refused.Add(RegisterKind.HoldingRegister, 13);
        refused.Add(RegisterKind.Coil, 65535, 5);
        Assert.Equal([new ModbusAddressRange(RegisterKind.Coil, 65535, 1), Hr(10, 4)], refused.ToRanges());
        Assert.True(refused.Intersects(RegisterKind.HoldingRegister, 8, 3));
        Assert.False(refused.Intersects(RegisterKind.HoldingRegister, 8, 2));
    }

    /// <summary>
    /// Any point set: every point is covered by exactly one request that contains it, every request respects the
    /// limit, the gap and the refused addresses, and no plan with fewer requests exists (exhaustive search over
    /// contiguous groups of the address-sorted points, computed independently of the planner).
    /// </summary>
    [Fact]
    public void Plans_are_valid_and_minimal_for_any_point_set()
    {
        var point = Gen.Select(Gen.Int[0, 300], Gen.OneOf(Gen.Const(1), Gen.Const(2), Gen.Const(4)))
            .Select((a, c) => Hr((ushort)a, c));
        var gen = Gen.Select(point.Array[1, 40], Gen.Int[0, 300].Array[0, 4], Gen.Int[0, 10], Gen.Int[4, 125]);
        gen.Sample((points, refusedAt, gap, limit) =>
        {
            var options = new ModbusPollPlannerOptions { MaxRegisterGap = gap, MaxRegistersPerRequest = limit };
            var refused = new ModbusRefusedAddresses();
            foreach (var r in refusedAt)
            {
                refused.Add(RegisterKind.HoldingRegister, (ushort)r);
            }

            var plan = ModbusPollPlanner.Plan(points, options, refused);

            var covered = plan.Requests.SelectMany(r => r.Points).Concat(plan.Refused).Order().ToArray();
            Assert.Equal(Enumerable.Range(0, points.Length), covered);
            foreach (var i in plan.Refused)
            {
                Assert.True(refused.Intersects(RegisterKind.HoldingRegister, points[i].Address, points[i].Count));
            }

            foreach (var r in plan.Requests)
            {
                Assert.InRange(r.Count, 1, limit);
                Assert.False(refused.Intersects(r.Kind, r.Address, r.Count));
                var used = new bool[r.Count];
                foreach (var i in r.Points)
                {
                    Assert.True(points[i].Address >= r.Address && points[i].End <= r.Address + r.Count - 1);
                    for (var a = points[i].Address; a <= points[i].End; a++)
                    {
                        used[a - r.Address] = true;
                    }
                }

                Assert.True(used[0] && used[^1], "a request starts and ends on a point");
                var run = 0;
                foreach (var u in used)
                {
                    run = u ? 0 : run + 1;
                    Assert.True(run <= gap, $"unused run {run} > gap {gap} in {r}");
                }
            }

            var readable = points.Where(p => !refused.Intersects(p.Kind, p.Address, p.Count)).ToArray();
            Assert.Equal(MinimalRequests(readable, gap, limit, refused), plan.Requests.Count);
        }, iter: 300);
    }

    /// <summary>Dynamic programming over every split of the sorted points into contiguous groups.</summary>
    private static int MinimalRequests(ModbusAddressRange[] points, int gap, int limit, ModbusRefusedAddresses refused)
    {
        var sorted = points.OrderBy(p => p.Address).ThenBy(p => p.Count).ToArray();
        var best = new int[sorted.Length + 1];
        for (var j = 1; j <= sorted.Length; j++)
        {
            best[j] = int.MaxValue;
            for (var i = 0; i < j; i++)
            {
                if (best[i] != int.MaxValue && Feasible(sorted.AsSpan(i, j - i), gap, limit, refused))
                {
                    best[j] = Math.Min(best[j], best[i] + 1);
                }
            }
        }

        return best[sorted.Length];
    }

    private static bool Feasible(ReadOnlySpan<ModbusAddressRange> group, int gap, int limit, ModbusRefusedAddresses refused)
    {
        int start = group[0].Address, end = group[0].End;
        foreach (var p in group[1..])
        {
            if (p.Address - end - 1 > gap)
            {
                return false;
            }

            end = Math.Max(end, p.End);
        }

        return end - start + 1 <= limit && !refused.Intersects(RegisterKind.HoldingRegister, (ushort)start, end - start + 1);
    }
}
