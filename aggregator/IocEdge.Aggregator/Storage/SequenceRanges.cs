namespace IocEdge.Aggregator.Storage;

/// <summary>
/// The sequences one stream has stored, as the disjoint, sorted, non-adjacent ranges <c>[Lo, Hi]</c> of table
/// <c>stored_seqs</c> that overlap or touch one message's span: what makes a redelivered message harmless (contract §4.1)
/// without a per-reading key. A gateway's stream is contiguous, so a stream is one row whatever its length; a gap
/// (readings the gateway evicted, contract §6) is one more row.
/// </summary>
internal sealed class SequenceRanges
{
    private readonly List<(long Lo, long Hi)> _loaded = [];
    private readonly List<(long Lo, long Hi)> _merged = [];
    private readonly List<long> _added = [];

    /// <summary>The ranges as loaded (sorted by Lo).</summary>
    public IReadOnlyList<(long Lo, long Hi)> Loaded => _loaded;

    /// <summary>Starts over for one message: the ranges the store holds around its span.</summary>
    public void Clear()
    {
        _loaded.Clear();
        _added.Clear();
    }

    /// <summary>Adds a range read from the store (in ascending order of Lo).</summary>
    public void AddLoaded(long lo, long hi) => _loaded.Add((lo, hi));

    /// <summary>True when <paramref name="seq"/> lies in a loaded range (binary search).</summary>
    public bool Contains(long seq)
    {
        int a = 0, b = _loaded.Count - 1;
        while (a <= b)
        {
            var m = (a + b) >>> 1;
            var (lo, hi) = _loaded[m];
            if (seq < lo)
            {
                b = m - 1;
            }
            else if (seq > hi)
            {
                a = m + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records a sequence stored by this message (not in a loaded range, not added before).</summary>
    public void Add(long seq) => _added.Add(seq);

    /// <summary>True when this message stored anything.</summary>
    public bool Changed => _added.Count > 0;

    /// <summary>
    /// The loaded ranges with the added sequences merged in (touching ranges joined): what the store must hold for this
    /// span afterwards, sorted.
    /// </summary>
    public IReadOnlyList<(long Lo, long Hi)> Merged()
    {
        _added.Sort();
        _merged.Clear();
        int i = 0, j = 0;
        while (i < _loaded.Count || j < _added.Count)
        {
            (long Lo, long Hi) next;
            if (j >= _added.Count || (i < _loaded.Count && _loaded[i].Lo <= _added[j]))
            {
                next = _loaded[i++];
            }
            else
            {
                next = (_added[j], _added[j]);
                j++;
            }

            if (_merged.Count > 0 && _merged[^1].Hi != long.MaxValue && next.Lo <= _merged[^1].Hi + 1)
            {
                _merged[^1] = (_merged[^1].Lo, Math.Max(_merged[^1].Hi, next.Hi));
            }
            else
            {
                _merged.Add(next);
            }
        }

        return _merged;
    }
}
