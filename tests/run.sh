#!/usr/bin/env bash
# The README's test command: installs the real peers the suite starts (mosquitto, pymodbus, socat, mbpoll, chromium),
# restores NuGet packages, builds the whole solution and runs every test except those that need real hardware.
set -euo pipefail
cd "$(dirname "$0")/.."

peers=(mosquitto mosquitto-clients socat python3-pymodbus python3-serial mbpoll postgresql systemd chromium)
missing=()
for p in "${peers[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing test peers: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

dotnet build IocEdge.sln -c Release -nologo -clp:ErrorsOnly

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test IocEdge.sln -c Release --no-build -nologo \
  --filter "Category!=Hardware" \
  --blame-hang-timeout 5m --blame-hang-dump-type none \
  --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole suite, summed over the test assemblies' own summaries.
awk '/(Passed|Failed)!  - / {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:")  { f += $(i+1) + 0 }
         if ($i == "Passed:")  { p += $(i+1) + 0 }
         if ($i == "Skipped:") { s += $(i+1) + 0 }
       }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
