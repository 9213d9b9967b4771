#!/usr/bin/env bash
# Samples, once a second, the CPU time of the ingest-load tool and of the aggregator process it started, and the whole
# machine's idle time, in clock ticks (100 a second = one core busy): docs/BENCHMARKS.md, issue 15, wave 12.
# Start it right after `ingest-load`; it stops when the tool exits. Usage: cpu_share.sh > cpu.log
set -u
ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
idle() { awk '/^cpu /{print $5}' /proc/stat; }
tool=$(pgrep -f "IocEdge.Benchmarks.dll ingest-load" | head -1)
[ -n "$tool" ] || { echo "cpu_share.sh: no ingest-load running" >&2; exit 1; }
prev_tool=$(ticks "$tool") prev_agg=0 prev_idle=$(idle)
while sleep 1; do
  t=$(ticks "$tool"); [ -d "/proc/$tool" ] || break
  agg=$(pgrep -f "iocedge-aggregator.dll" | head -1)
  a=$(ticks "$agg"); i=$(idle)
  ((a < prev_agg)) && prev_agg=0 # the next run's aggregator is a new process
  echo "$(date +%T) tool $((t - prev_tool)) aggregator $((a - prev_agg)) idle $((i - prev_idle))"
  prev_tool=$t prev_agg=$a prev_idle=$i
done
