namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Addresses one slave answered with exception 02 (illegal data address), learned by the poller so that later plans
/// never span them. Thread-safe (one lock), so that a status snapshot can be taken while the poller learns.
/// </summary>
public sealed class ModbusRefusedAddresses
{
    private readonly HashSet<int> _addresses = [];
    private readonly Lock _lock = new();

    /// <summary>How many addresses are known to be refused.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _addresses.Count;
            }
        }
    }

    /// <summary>Records <paramref name="count"/> addresses from <paramref name="address"/> as refused.</summary>
    public void Add(RegisterKind kind, ushort address, int count = 1)
    {
        lock (_lock)
        {
            for (var a = (int)address; a < address + count && a <= ushort.MaxValue; a++)
            {
                _addresses.Add(Key(kind, a));
            }
        }
    }

    /// <summary>True when the address is known to be refused.</summary>
    public bool Contains(RegisterKind kind, ushort address)
    {
        lock (_lock)
        {
            return _addresses.Contains(Key(kind, address));
        }
    }

    /// <summary>True when any of <paramref name="count"/> addresses from <paramref name="address"/> is refused.</summary>
    public bool Intersects(RegisterKind kind, ushort address, int count)
    {
        lock (_lock)
        {
            if (_addresses.Count == 0)
            {
                return false;
            }

            for (var a = (int)address; a < address + count && a <= ushort.MaxValue; a++)
            {
                if (_addresses.Contains(Key(kind, a)))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The refused addresses as merged ranges, for diagnostics.</summary>
    public IReadOnlyList<ModbusAddressRange> ToRanges()
    {
        int[] keys;
        lock (_lock)
        {
            keys = [.. _addresses];
        }

        Array.Sort(keys);
        var ranges = new List<ModbusAddressRange>();
        foreach (var key in keys)
        {
            var kind = (RegisterKind)(key >> 16);
            var address = (ushort)key;
            if (ranges.Count > 0 && ranges[^1].Kind == kind && ranges[^1].End + 1 == address)
            {
                ranges[^1] = ranges[^1] with { Count = ranges[^1].Count + 1 };
            }
            else
            {
                ranges.Add(new ModbusAddressRange(kind, address, 1));
            }
        }

        return ranges;
    }

    /// <summary>Forgets everything learned (after a device firmware change, for example).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _addresses.Clear();
        }
    }

    private static int Key(RegisterKind kind, int address) => ((int)kind << 16) | address;
}
