using System.Globalization;

namespace IocEdge.Protocols.Modbus;

/// <summary>The registers (or bits) one point occupies in one of the four Modbus tables.</summary>
/// <param name="Kind">The table.</param>
/// <param name="Address">The first address (protocol address, 0-based).</param>
/// <param name="Count">Registers for register tables; 1 for a coil or discrete input.</param>
public readonly record struct ModbusAddressRange(RegisterKind Kind, ushort Address, int Count)
{
    /// <summary>The last address covered.</summary>
    public int End => Address + Count - 1;

    /// <inheritdoc/>
    public override string ToString() => Count == 1
        ? string.Create(CultureInfo.InvariantCulture, $"{Kind} {Address}")
        : string.Create(CultureInfo.InvariantCulture, $"{Kind} {Address}-{End}");
}

/// <summary>One read request of a poll plan, and the points (indices into the planner's input) it covers.</summary>
public sealed class ModbusReadRequest
{
    public ModbusReadRequest(RegisterKind kind, ushort address, ushort count, IReadOnlyList<int> points)
    {
        Kind = kind;
        Address = address;
        Count = count;
        Points = points;
    }

    public RegisterKind Kind { get; }

    public ushort Address { get; }

    /// <summary>Registers (FC 03/04) or bits (FC 01/02) asked for, gaps included.</summary>
    public ushort Count { get; }

    /// <summary>Indices into the list given to <see cref="ModbusPollPlanner.Plan"/>, in address order.</summary>
    public IReadOnlyList<int> Points { get; }

    /// <summary>The read function code: 01 coils, 02 discrete inputs, 03 holding registers, 04 input registers.</summary>
    public byte FunctionCode => ModbusPollPlanner.ReadFunctionCode(Kind);

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"FC{FunctionCode:X2} {Address}+{Count} ({Points.Count} point(s))");
}

/// <summary>The requests that read a set of points, and the points that cannot be read at all.</summary>
public sealed class ModbusPollPlan
{
    public ModbusPollPlan(IReadOnlyList<ModbusReadRequest> requests, IReadOnlyList<int> refused)
    {
        Requests = requests;
        Refused = refused;
    }

    /// <summary>The fewest requests covering every readable point, in table then address order.</summary>
    public IReadOnlyList<ModbusReadRequest> Requests { get; }

    /// <summary>Points (input indices) whose own registers include an address the device refuses.</summary>
    public IReadOnlyList<int> Refused { get; }
}

/// <summary>Limits and gap allowance of the poll planner.</summary>
public sealed record ModbusPollPlannerOptions
{
    /// <summary>FC 03/04 quantity limit, MODBUS Application Protocol Specification V1.1b3, sections 6.3-6.4 (1 to 125).</summary>
    public const int SpecMaxRegisters = 125;

    /// <summary>FC 01/02 quantity limit, same specification, sections 6.1-6.2 (1 to 2000).</summary>
    public const int SpecMaxBits = 2000;

    /// <summary>Unused registers a request may read across to join two points (0 = only adjacent points).</summary>
    public int MaxRegisterGap { get; init; } = 16;

    /// <summary>Unused coils / discrete inputs a request may read across.</summary>
    public int MaxBitGap { get; init; } = 128;

    /// <summary>Registers per request; some devices accept fewer than the specification's 125.</summary>
    public int MaxRegistersPerRequest { get; init; } = SpecMaxRegisters;

    /// <summary>Bits per request; some devices accept fewer than the specification's 2000.</summary>
    public int MaxBitsPerRequest { get; init; } = SpecMaxBits;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting and the allowed range.</summary>
    public void Validate()
    {
        Check(MaxRegisterGap, 0, SpecMaxRegisters, nameof(MaxRegisterGap));
        Check(MaxBitGap, 0, SpecMaxBits, nameof(MaxBitGap));
        Check(MaxRegistersPerRequest, 1, SpecMaxRegisters, nameof(MaxRegistersPerRequest));
        Check(MaxBitsPerRequest, 1, SpecMaxBits, nameof(MaxBitsPerRequest));
    }

    private static void Check(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"ModbusPollPlannerOptions.{name} is {value}; set it between {min} and {max}."), name);
        }
    }
}

/// <summary>
/// Builds the fewest read requests that cover a slave's points (pure: no I/O).
/// </summary>
/// <remarks>
/// Points of one table are sorted by address and joined greedily: a point joins the current request when the unused
/// space before it is at most the configured gap, the request stays within the quantity limit, and the joined span
/// holds no address the device refuses. Because any contiguous run of a feasible group is itself feasible, the greedy
/// partition of the sorted points is minimal (the classic interval-partition argument), which the tests check against
/// an exhaustive search.
/// </remarks>
public static class ModbusPollPlanner
{
    /// <summary>Plans the requests for <paramref name="points"/>.</summary>
    /// <param name="points">What to read; a point may overlap another (two bit fields of one register).</param>
    /// <param name="options">Limits and gaps; validated here.</param>
    /// <param name="refused">Addresses the device is known to refuse (learned by the poller); never spanned.</param>
    /// <param name="sizes">Request sizes the device is known to refuse (learned by the poller): a request joins points
    /// only within the learned limit of its table; a single point is always read whole.</param>
    /// <exception cref="ArgumentException">A point is empty, longer than a request may be, or runs past address 65535.</exception>
    public static ModbusPollPlan Plan(IReadOnlyList<ModbusAddressRange> points, ModbusPollPlannerOptions options,
        ModbusRefusedAddresses? refused = null, ModbusRequestSizeLimits? sizes = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var order = new int[points.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
            var p = points[i];
            var limit = IsBitTable(p.Kind) ? options.MaxBitsPerRequest : options.MaxRegistersPerRequest;
            if (p.Count < 1 || p.Count > limit || p.End > ushort.MaxValue)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Point {i} ({p}) must cover 1 to {limit} address(es) within 0-65535."), nameof(points));
            }
        }

        Array.Sort(order, (a, b) =>
        {
            var pa = points[a];
            var pb = points[b];
            var c = pa.Kind.CompareTo(pb.Kind);
            if (c == 0)
            {
                c = pa.Address.CompareTo(pb.Address);
            }

            if (c == 0)
            {
                c = pa.Count.CompareTo(pb.Count);
            }

            return c == 0 ? a.CompareTo(b) : c;
        });

        var requests = new List<ModbusReadRequest>();
        var refusedPoints = new List<int>();
        var current = new List<int>();
        RegisterKind kind = default;
        int start = 0, end = -1;

        foreach (var index in order)
        {
            var p = points[index];
            if (refused is not null && refused.Intersects(p.Kind, p.Address, p.Count))
            {
                refusedPoints.Add(index);
                continue;
            }

            if (current.Count > 0 && p.Kind == kind && CanJoin(p, start, end, options, refused, sizes?.Limit(p.Kind)))
            {
                current.Add(index);
                end = Math.Max(end, p.End);
                continue;
            }

            Flush();
            kind = p.Kind;
            start = p.Address;
            end = p.End;
            current.Add(index);
        }

        Flush();
        refusedPoints.Sort();
        return new ModbusPollPlan(requests, refusedPoints);

        void Flush()
        {
            if (current.Count > 0)
            {
                requests.Add(new ModbusReadRequest(kind, (ushort)start, (ushort)(end - start + 1), current.ToArray()));
                current.Clear();
            }
        }
    }

    /// <summary>
    /// Splits a refused request in two halves of its points, each with the tightest span, so that the poller can find
    /// which part the device refuses (bisection). The request must cover at least two points.
    /// </summary>
    public static (ModbusReadRequest Left, ModbusReadRequest Right) Split(ModbusReadRequest request,
        IReadOnlyList<ModbusAddressRange> points)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(points);
        if (request.Points.Count < 2)
        {
            throw new ArgumentException("Only a request covering two or more points can be split.", nameof(request));
        }

        var half = request.Points.Count / 2;
        return (Tight(request.Kind, request.Points.Take(half).ToArray(), points),
            Tight(request.Kind, request.Points.Skip(half).ToArray(), points));
    }

    /// <summary>The read function code for a table: 01, 02, 03 or 04.</summary>
    public static byte ReadFunctionCode(RegisterKind kind) => kind switch
    {
        RegisterKind.Coil => 0x01,
        RegisterKind.DiscreteInput => 0x02,
        RegisterKind.HoldingRegister => 0x03,
        RegisterKind.InputRegister => 0x04,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown register kind."),
    };

    /// <summary>True for the single-bit tables (coils, discrete inputs).</summary>
    public static bool IsBitTable(RegisterKind kind) => kind is RegisterKind.Coil or RegisterKind.DiscreteInput;

    private static bool CanJoin(ModbusAddressRange p, int start, int end, ModbusPollPlannerOptions options,
        ModbusRefusedAddresses? refused, int? learnedLimit)
    {
        var bits = IsBitTable(p.Kind);
        var gap = p.Address - end - 1;
        var newEnd = Math.Max(end, p.End);
        var limit = Math.Min(bits ? options.MaxBitsPerRequest : options.MaxRegistersPerRequest, learnedLimit ?? int.MaxValue);
        if (gap > (bits ? options.MaxBitGap : options.MaxRegisterGap) || newEnd - start + 1 > limit)
        {
            return false;
        }

        // The point itself holds no refused address (checked before), so only the gap can.
        return gap <= 0 || refused is null || !refused.Intersects(p.Kind, (ushort)(end + 1), gap);
    }

    private static ModbusReadRequest Tight(RegisterKind kind, int[] indices, IReadOnlyList<ModbusAddressRange> points)
    {
        var start = indices.Min(i => (int)points[i].Address);
        var end = indices.Max(i => points[i].End);
        return new ModbusReadRequest(kind, (ushort)start, (ushort)(end - start + 1), indices);
    }
}
