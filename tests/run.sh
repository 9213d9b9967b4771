#!/usr/bin/env bash
# The README's test command: installs the real peers the suite starts (mosquitto, pymodbus, socat, mbpoll),
# restores NuGet packages, builds the whole solution and runs every test except those that need real hardware.
set -euo pipefail
cd "$(dirname "$0")/.."

peers=(mosquitto mosquitto-clients socat python3-pymodbus python3-serial mbpoll)
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
dotnet test IocEdge.sln -c Release --no-build -nologo \
  --filter "Category!=Hardware" \
  --logger "console;verbosity=minimal" "$@"
