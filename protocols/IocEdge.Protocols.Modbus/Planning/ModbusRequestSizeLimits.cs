namespace IocEdge.Protocols.Modbus;

/// <summary>
/// The request sizes one slave was learned to refuse, per table: some devices answer a read of more registers (or bits)
/// than they can serve with exception 03 (illegal data value; MODBUS Application Protocol Specification V1.1b3,
/// sections 6.1-6.4 and 7: "quantity of registers" out of range) or 02, below the specification's 125 registers /
/// 2000 bits. The poller records every size that was refused and every size that was answered; the learned limit of a
/// table is the largest size answered below the smallest size refused, and later plans stay within it (a single point
/// is always read whole). Thread-safe (one lock), so that a status snapshot can be taken while the poller learns.
/// </summary>
public sealed class ModbusRequestSizeLimits
{
    private readonly Dictionary<RegisterKind, int> _smallestRefused = [];
    private readonly Dictionary<RegisterKind, SortedSet<int>> _worked = [];
    private readonly Lock _lock = new();

    /// <summary>A read of <paramref name="count"/> registers or bits of <paramref name="kind"/> was answered with values.</summary>
    public void Worked(RegisterKind kind, int count)
    {
        lock (_lock)
        {
            if (!_worked.TryGetValue(kind, out var sizes))
            {
                _worked[kind] = sizes = [];
            }

            // Sizes are 1-2000, so the set stays small; only sizes below a refusal ever matter.
            sizes.Add(count);
        }
    }

    /// <summary>A read of <paramref name="count"/> registers or bits was refused because of its size.</summary>
    public void Refused(RegisterKind kind, int count)
    {
        lock (_lock)
        {
            if (!_smallestRefused.TryGetValue(kind, out var smallest) || count < smallest)
            {
                _smallestRefused[kind] = count;
            }
        }
    }

    /// <summary>
    /// The largest request (registers or bits) to send for <paramref name="kind"/>: the largest size answered below the
    /// smallest size refused; null while nothing was refused or nothing smaller was answered yet.
    /// </summary>
    public int? Limit(RegisterKind kind)
    {
        lock (_lock)
        {
            if (!_smallestRefused.TryGetValue(kind, out var smallest) || !_worked.TryGetValue(kind, out var sizes))
            {
                return null;
            }

            var below = sizes.GetViewBetween(1, smallest - 1);
            return below.Count > 0 ? below.Max : null;
        }
    }

    /// <summary>Every learned limit, for diagnostics (slave status).</summary>
    public IReadOnlyDictionary<RegisterKind, int> ToDictionary()
    {
        var limits = new Dictionary<RegisterKind, int>();
        foreach (var kind in Enum.GetValues<RegisterKind>())
        {
            if (Limit(kind) is { } limit)
            {
                limits[kind] = limit;
            }
        }

        return limits;
    }

    /// <summary>Forgets everything learned (after the device's firmware or configuration changed).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _smallestRefused.Clear();
            _worked.Clear();
        }
    }
}
