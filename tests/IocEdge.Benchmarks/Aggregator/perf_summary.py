#!/usr/bin/env python3
"""Summarises `perf script` output of a .NET process into shares of its CPU samples (docs/BENCHMARKS.md, issue 15).

Record with the JIT's perf map so managed frames have names, for example during an ingest-load run:
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet .../IocEdge.Benchmarks.dll ingest-load ...
    perf record -e cpu-clock -g -p <aggregator pid> -o perf.data -- sleep 10
    perf script -i perf.data > perf.txt
    python3 perf_summary.py perf.txt

Prints, as percentages of all samples: the module of the sampled frame (kernel, libcoreclr: runtime and GC, libclrjit:
the JIT, managed, SQLite...), the thread, the leaf frames, the nearest managed frame above each sample (to whom the
runtime's and the kernel's samples belong) and the managed frames by inclusive share.
"""
import collections
import re
import sys

FRAME = re.compile(r'\s*([0-9a-f]+)\s+(.*)\s+\((.*)\)\s*$')


def samples(path):
    current = None
    with open(path, errors='replace') as text:
        for line in text:
            if not line.strip():
                if current is not None:
                    yield current
                current = None
            elif not line.startswith((' ', '\t')):
                current = {'thread': line.split()[0], 'frames': []}
            elif current is not None and (m := FRAME.match(line)):
                current['frames'].append((m.group(2).strip(), m.group(3)))
    if current is not None:
        yield current


def module(dso):
    if 'perf-' in dso and dso.endswith('.map'):
        return 'managed'
    if 'kernel' in dso:
        return 'kernel'
    return dso.split('/')[-1]


def main(path):
    counters = {name: collections.Counter() for name in
                ('module of the sampled frame', 'thread', 'leaf frame', 'nearest managed frame', 'managed frame, inclusive')}
    total = 0
    for sample in samples(path):
        frames = sample['frames']
        if not frames:
            continue
        total += 1
        leaf, dso = frames[0]
        counters['module of the sampled frame'][module(dso)] += 1
        counters['thread'][sample['thread']] += 1
        counters['leaf frame'][f'{leaf[:110]} ({module(dso)})'] += 1
        managed = [name[:120] for name, d in frames if module(d) == 'managed']
        counters['nearest managed frame'][managed[0] if managed else '(no managed frame)'] += 1
        for name in dict.fromkeys(managed):
            counters['managed frame, inclusive'][name] += 1
    print(f'samples: {total}')
    for title, counter in counters.items():
        print(f'\n== {title}')
        for key, n in counter.most_common(30):
            print(f'{100 * n / total:6.1f}%  {key}')


if __name__ == '__main__':
    main(sys.argv[1])
