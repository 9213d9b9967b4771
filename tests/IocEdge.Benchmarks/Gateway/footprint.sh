#!/usr/bin/env bash
# Gateway footprint (issue 14): resident memory and start-up of the published iocedge-gateway, the JIT build and the
# NativeAOT build measured in the same run, against a real mosquitto broker and the station simulator (iocedge-sim)
# serving 100 channels polled at 1 Hz: 3 × (env-station 4 + gas-analyser 9 + water-sonde 9 + weather-station 10 points)
# + env-station 4, 13 unit ids on one Modbus TCP server.
#
#   tests/IocEdge.Benchmarks/Gateway/footprint.sh                 # publish both builds, 5 starts each, 60 s warm-up
#   STARTS=3 WARMUP=30 SAMPLES=20 tests/IocEdge.Benchmarks/Gateway/footprint.sh
#   JIT_DIR=... AOT_DIR=... footprint.sh                          # reuse published builds (skip publishing)
#   BUILDS=aot SIM_DLL=.../iocedge-sim.dll footprint.sh             # one build only; a simulator already built
#   BUILDS="jit base aot" BASE_DIR=... footprint.sh                  # also an older AOT build (a change's baseline)
#   GATEWAY_ENV="DOTNET_GCgen0size=200000" footprint.sh               # environment for the gateway (runtime knobs)
#   BUILDS=aot VARIANTS="gen0:DOTNET_GCgen0size=100000;limit:DOTNET_GCHeapHardLimit=1000000" footprint.sh
#                                     # the AOT build again with each environment (after the plain one, same run)
#   RUNNER="qemu-aarch64-static -L SYSROOT" BUILDS=aot AOT_DIR=... footprint.sh   # an arm64 build under qemu-user
#
# Start-up: wall time from exec to the first message on iocedge/v1/{gateway}/readings at the broker (a subscriber that
# was connected before the start), median of STARTS starts, each with an empty data directory.
# RSS: VmRSS from /proc/PID/status, sampled once a second for SAMPLES seconds after WARMUP seconds of running, median;
# with it, from /proc/PID/smaps_rollup: Pss, Anonymous (GC heap, stacks, native heaps, copy-on-write pages) and
# file-backed = Rss - Anonymous (mapped code and data of the executable and its libraries), and the mappings that hold
# the most resident pages at the end (which libraries are loaded). CPU: user + system time of the gateway over the
# sampling window (/proc/PID/stat utime + stime), as a percentage of one core (the cost of a smaller GC budget).
# NativeAOT reads DOTNET_GC* variables as bare hexadecimal: DOTNET_GCgen0size=100000 is 1 MiB, and a 0x prefix makes
# the whole value a parse error that is silently ignored (src/coreclr/nativeaot/Runtime/RhConfig.cpp,
# TryGetIntegerValue); the JIT build accepts both spellings.
# Output: one line per build, then the AOT/JIT ratios (the machine may be shared: read them as ratios of one run).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
STARTS="${STARTS:-5}"
WARMUP="${WARMUP:-60}"
SAMPLES="${SAMPLES:-30}"
work="$(mktemp -d /tmp/iocedge-footprint.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for tool in /usr/sbin/mosquitto /usr/bin/mosquitto_sub; do
  [[ -x $tool ]] || { echo "footprint.sh: $tool is missing: apt-get install -y mosquitto mosquitto-clients" >&2; exit 2; }
done

# The builds under test (publish.sh installs clang/zlib1g-dev for AOT when missing).
if [[ -z ${JIT_DIR:-} && ${BUILDS:-jit} == *jit* ]]; then JIT_DIR="$root/artifacts/gateway/linux-x64-jit"; "$root/edge/IocEdge.Gateway/publish.sh" --jit -o "$JIT_DIR"; fi
if [[ -z ${AOT_DIR:-} && ${BUILDS:-aot} == *aot* ]]; then AOT_DIR="$root/artifacts/gateway/linux-x64-aot"; "$root/edge/IocEdge.Gateway/publish.sh" -o "$AOT_DIR"; fi
sim_dll="${SIM_DLL:-$root/hardware/IocEdge.Hardware.Simulator/bin/Release/net10.0/iocedge-sim.dll}"
[[ -f $sim_dll ]] || dotnet build "$root/hardware/IocEdge.Hardware.Simulator" -c Release -nologo -clp:ErrorsOnly >/dev/null

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

broker_port=$(free_port)
cat >"$work/mosquitto.conf" <<EOF
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
EOF
/usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_port "$broker_port"

sim_port=$(free_port)
sim_args=()
devices=""
unit=1
for profiles in "env-station gas-analyser water-sonde weather-station" "env-station gas-analyser water-sonde weather-station" \
                "env-station gas-analyser water-sonde weather-station" "env-station"; do
  for profile in $profiles; do
    sim_args+=(--profile "$profile" --unit "$unit")
    devices+="${devices:+,}{ \"Id\": \"d$unit\", \"Link\": \"sim\", \"Profile\": \"$profile\", \"UnitId\": $unit, \"PollPeriod\": \"00:00:01\" }"
    unit=$((unit + 1))
  done
done
dotnet "$sim_dll" "${sim_args[@]}" --tcp "127.0.0.1:$sim_port" >"$work/sim.log" 2>&1 &
pids+=($!)
wait_port "$sim_port"

write_config() { # $1 data directory
  cat >"$work/gateway.json" <<EOF
{ "Gateway": { "Id": "gw-footprint", "DataDirectory": "$1",
  "Mqtt": { "Host": "127.0.0.1", "Port": $broker_port },
  "Modbus": { "Links": [ { "Id": "sim", "Transport": "Tcp", "Host": "127.0.0.1", "Port": $sim_port } ], "Devices": [ $devices ] } } }
EOF
}

# Starts the gateway ($1 = executable, rest = its arguments before --config) with a fresh data directory; prints
# "PID MILLISECONDS" once the first readings message reached the broker.
start_gateway() {
  local data="$work/data-$RANDOM"
  write_config "$data"
  rm -f "$work/first"
  mosquitto_sub -p "$broker_port" -t 'iocedge/v1/gw-footprint/readings' -C 1 -W 60 -q 1 >"$work/first" 2>/dev/null &
  local sub=$!
  sleep 0.5 # the subscriber is connected and subscribed before the gateway starts
  local t0 t1 gw
  t0=$(date +%s%N)
  env ${GATEWAY_ENV:-} ${VARIANT_ENV:-} ${RUNNER:-} "$@" --config "$work/gateway.json" --Logging:LogLevel:Default=Warning >>"$work/gateway.log" 2>&1 &
  gw=$!
  wait "$sub" || { echo "footprint.sh: no reading within 60 s from $1; its log:" >&2; tail -20 "$work/gateway.log" >&2; exit 1; }
  t1=$(date +%s%N)
  echo "$gw $(((t1 - t0) / 1000000))"
}

stop_gateway() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

measure() { # $1 = label, rest = command
  local label="$1"; shift
  local starts=() pid ms
  for _ in $(seq 1 "$STARTS"); do
    read -r pid ms < <(start_gateway "$@")
    starts+=("$ms")
    stop_gateway "$pid"
  done
  read -r pid ms < <(start_gateway "$@")
  sleep "$WARMUP"
  local rss=() pss=() anon=()
  local cpu0 cpu1
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  for _ in $(seq 1 "$SAMPLES"); do
    rss+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")")
    pss+=("$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")")
    anon+=("$(awk '/^Anonymous:/ {print $2}' "/proc/$pid/smaps_rollup")")
    sleep 1
  done
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local maps
  maps=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {n = $6 == "" ? "[anon]" : $6; sub(/.*\//, "", n)} /^Rss:/ {r[n] += $2}
              END {for (n in r) if (r[n] >= 256) printf "%s %.1f\n", n, r[n] / 1024}' "/proc/$pid/smaps" | sort -k2 -rn | head -8 | paste -sd, -)
  local threads
  threads=$(ls "/proc/$pid/task" | wc -l)
  # The gateway kept publishing: count messages for 5 s as a sanity check that it really served 100 channels.
  local messages
  messages=$(timeout 5 mosquitto_sub -p "$broker_port" -t 'iocedge/v1/gw-footprint/readings' -q 1 2>/dev/null | grep -o '"channel"' | wc -l || true)
  stop_gateway "$pid"
  local start_ms rss_kb pss_kb anon_kb
  start_ms=$(printf '%s\n' "${starts[@]}" | median)
  rss_kb=$(printf '%s\n' "${rss[@]}" | median)
  pss_kb=$(printf '%s\n' "${pss[@]}" | median)
  anon_kb=$(printf '%s\n' "${anon[@]}" | median)
  printf '%-4s start-up median %6s ms (%s)   RSS median %6.1f MB (%s samples after %s s)   readings in 5 s: %s\n' \
    "$label" "$start_ms" "${starts[*]}" "$(echo "$rss_kb / 1024" | bc -l)" "$SAMPLES" "$WARMUP" "$messages"
  printf '     Pss %.1f MB, anonymous %.1f MB, file-backed %.1f MB, %s threads, CPU %.1f %% of one core while sampled; resident by mapping (MB): %s\n' \
    "$(echo "$pss_kb / 1024" | bc -l)" "$(echo "$anon_kb / 1024" | bc -l)" "$(echo "($rss_kb - $anon_kb) / 1024" | bc -l)" "$threads" \
    "$(echo "($cpu1 - $cpu0) * 100 / $(getconf CLK_TCK) / $SAMPLES" | bc -l)" "$maps"
  echo "$label $start_ms $rss_kb" >>"$work/results"
}

echo "footprint: 100 channels × 1 Hz (13 simulated instruments), mosquitto 127.0.0.1:$broker_port, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
BUILDS="${BUILDS:-jit aot}"
[[ " $BUILDS " == *" jit "* ]] && measure jit "$JIT_DIR/iocedge-gateway"
[[ " $BUILDS " == *" base "* ]] && measure base "$BASE_DIR/iocedge-gateway"
[[ " $BUILDS " == *" aot "* ]] && measure aot "$AOT_DIR/iocedge-gateway"
# VARIANTS="label:VAR=VALUE VAR=VALUE;label2:..." measures the AOT build once more per entry with that environment.
if [[ -n ${VARIANTS:-} ]]; then
  IFS=';' read -ra variants <<<"$VARIANTS"
  for v in "${variants[@]}"; do
    VARIANT_ENV="${v#*:}" measure "${v%%:*}" "$AOT_DIR/iocedge-gateway"
  done
fi
# The ratios of the AOT build to each other build measured in this run (BUILDS="jit base aot" gives both).
awk '{s[$1]=$2; r[$1]=$3} END {if (!("aot" in s)) exit; for (b in s) if (b == "jit" || b == "base") printf "aot/%s: start-up %.2f×, RSS %.2f×\n", b, s["aot"]/s[b], r["aot"]/r[b]}' "$work/results"
# Each variant against the plain AOT build of this run.
awk '{s[$1]=$2; r[$1]=$3; o[NR]=$1} END {if (!("aot" in s)) exit; for (i=1; i<=NR; i++) {b=o[i]; if (b != "aot" && b != "jit" && b != "base") printf "%s/aot: start-up %.2f×, RSS %.2f×\n", b, s[b]/s["aot"], r[b]/r["aot"]}}' "$work/results"
