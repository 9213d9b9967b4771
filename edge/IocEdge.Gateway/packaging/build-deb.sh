#!/usr/bin/env bash
# Builds the Debian packages iocedge-gateway and iocedge-aggregator (dpkg-deb, no debhelper needed).
#
#   edge/IocEdge.Gateway/packaging/build-deb.sh                         # both, amd64, into artifacts/deb
#   edge/IocEdge.Gateway/packaging/build-deb.sh --arch arm64 --package gateway
#   build-deb.sh --gateway-from DIR --aggregator-from DIR               # package existing publish folders
#   build-deb.sh --version 1.2.3 -o OUTDIR
#
# --arch amd64|arm64|armhf (Debian names; .NET RIDs linux-x64, linux-arm64, linux-arm).
# The gateway is the NativeAOT build (edge/IocEdge.Gateway/publish.sh; arm64 cross-linked against its sysroot). The
# aggregator is self-contained JIT (no .NET runtime to install on the server). armhf (32-bit Raspberry Pi OS): the
# NuGet mirror serves no linux-arm runtime pack (NU1101, ../shared PEERS.md), so neither a self-contained nor an AOT
# armhf build can be made here; armhf packages are framework-dependent instead: the portable build (IL, plus the
# linux-arm native libraries e_sqlite3 and System.IO.Ports from their NuGet packages) started by a shell launcher
# through the .NET runtime the package depends on (dotnet-runtime-10.0, aspnetcore-runtime-10.0 for the aggregator,
# from Microsoft's Debian repository). --gateway-from/--aggregator-from package builds made elsewhere instead.
# Layout: /usr/lib/iocedge/{gateway,aggregator}/ (the publish folder), /usr/bin/iocedge-* (links), the units in
# /lib/systemd/system, the config skeletons /etc/iocedge/*.json as conffiles (an upgrade keeps an edited file), data
# in /var/lib/iocedge-* made by postinst (user iocedge, adduser --system) and removed only by purge.
# Exit codes: 0 built, 2 bad arguments, 3 architecture not buildable here, other: the failing step's code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
agg="$root/aggregator/IocEdge.Aggregator"

arch=amd64
packages=(gateway aggregator)
version=""
out="$root/artifacts/deb"
gateway_from=""
aggregator_from=""
while (($#)); do
  case "$1" in
    --arch|--package|--version|-o|--output|--gateway-from|--aggregator-from)
      [[ $# -ge 2 && -n $2 && $2 != --* ]] || { echo "build-deb.sh: $1 needs a value (try --help)" >&2; exit 2; } ;;
  esac
  case "$1" in
    --arch) arch="$2"; shift ;;
    --package) packages=("$2"); shift ;;
    --version) version="$2"; shift ;;
    -o|--output) out="$2"; shift ;;
    --gateway-from) gateway_from="$2"; shift ;;
    --aggregator-from) aggregator_from="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$arch" in
  amd64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  armhf) rid=linux-arm ;;
  *) echo "build-deb.sh: --arch must be amd64, arm64 or armhf, not '$arch'" >&2; exit 2 ;;
esac
for p in "${packages[@]}"; do
  [[ $p == gateway || $p == aggregator ]] || { echo "build-deb.sh: --package must be gateway or aggregator, not '$p'" >&2; exit 2; }
done
if [[ -z $version ]]; then
  version="0.$(git -C "$root" rev-list --count HEAD 2>/dev/null || echo 0)"
fi
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

publish() { # publish PACKAGE -> prints the publish folder
  local p="$1" dir="$root/artifacts/deb-publish/$p-$rid"
  if [[ $arch == armhf ]]; then
    # Framework-dependent and portable (no RID: the mirror has no linux-arm runtime or apphost pack); only the
    # linux-arm native libraries are kept, and a launcher script takes the apphost's place (build_one).
    local project="$root/edge/IocEdge.Gateway"; [[ $p == aggregator ]] && project="$agg"
    rm -rf "$dir"
    dotnet publish "$project" -c Release -p:PublishAot=false --no-self-contained -p:UseAppHost=false -o "$dir" \
      -nologo -clp:ErrorsOnly >&2
    find "$dir/runtimes" -mindepth 1 -maxdepth 1 -type d ! -name linux-arm ! -name unix -exec rm -rf {} +
    echo "$dir"
    return
  fi
  if [[ $p == gateway ]]; then
    "$root/edge/IocEdge.Gateway/publish.sh" --rid "$rid" -o "$dir" >&2
  else
    dotnet publish "$agg" -c Release -r "$rid" --self-contained -o "$dir" -nologo -clp:ErrorsOnly >&2
  fi
  echo "$dir"
}

build_one() {
  local p="$1" from="$2"
  local name="iocedge-$p" pkg="$work/iocedge-$p"
  local src; if [[ $p == gateway ]]; then src="$here"; else src="$agg/packaging"; fi
  local portable=0
  if [[ ! -x "$from/$name" && -f "$from/$name.dll" && $arch == armhf ]]; then portable=1; fi
  [[ -x "$from/$name" || $portable == 1 ]] || { echo "build-deb.sh: $from/$name is not an executable publish folder" >&2; exit 2; }
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib/iocedge/$p" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/iocedge" \
           "$pkg/usr/share/doc/$name"
  # The publish folder without debug symbols (*.pdb, NativeAOT's *.dbg) and without the compiler's XML documentation
  # files (<doc> at the top; nothing reads them at run time).
  cp -a "$from/." "$pkg/usr/lib/iocedge/$p/"
  find "$pkg/usr/lib/iocedge/$p" -type f \( -name '*.pdb' -o -name '*.dbg' \) -delete
  find "$pkg/usr/lib/iocedge/$p" -type f -name '*.xml' -exec grep -qs -m1 '^<doc>' {} \; -delete
  if [[ $p == aggregator ]]; then rm -f "$pkg/usr/lib/iocedge/$p/appsettings.Development.json"; fi
  find "$pkg/usr/lib/iocedge/$p" -type d -exec chmod 0755 {} +
  find "$pkg/usr/lib/iocedge/$p" -type f -exec chmod 0644 {} +
  if [[ $portable == 1 ]]; then
    # exec keeps the PID, so systemd's Type=notify and watchdog see the service itself.
    printf '#!/bin/sh\n# IocEdge %s (framework-dependent build: the .NET runtime comes from dotnet-runtime-10.0)\nexec dotnet /usr/lib/iocedge/%s/%s.dll "$@"\n' \
      "$p" "$p" "$name" > "$pkg/usr/lib/iocedge/$p/$name"
  fi
  chmod 0755 "$pkg/usr/lib/iocedge/$p/$name"
  ln -s "/usr/lib/iocedge/$p/$name" "$pkg/usr/bin/$name"
  install -m 0644 "$src/$name.service" "$pkg/lib/systemd/system/$name.service"
  install -m 0640 "$src/$p.json" "$pkg/etc/iocedge/$p.json"
  install -m 0644 "$root/README.md" "$pkg/usr/share/doc/$name/README.md"
  for s in postinst prerm postrm; do
    # The shared functions are inlined: maintainer scripts must stand alone.
    awk -v common="$here/maintainer-common.sh" '/^#COMMON#$/ { while ((getline l < common) > 0) print l; next } { print }' \
      "$src/$s" > "$pkg/DEBIAN/$s"
    chmod 0755 "$pkg/DEBIAN/$s"
  done
  echo "/etc/iocedge/$p.json" > "$pkg/DEBIAN/conffiles"
  local size; size="$(du -sk "$pkg/usr" | cut -f1)"
  local depends="adduser, libc6, zlib1g"
  [[ $p == aggregator ]] && depends="adduser, libc6, libstdc++6, libgcc-s1, libssl3, zlib1g"
  if [[ $portable == 1 ]]; then
    depends="adduser, libc6, dotnet-runtime-10.0"
    [[ $p == aggregator ]] && depends="adduser, libc6, aspnetcore-runtime-10.0"
  fi
  # The gateway maps OpenSSL only for Gateway:Mqtt:Tls (without TLS it must not: GatewayFootprintTests), so libssl3
  # is recommended (apt installs it by default), not required.
  local recommends=""
  [[ $p == gateway && $portable == 0 ]] && recommends="Recommends: libssl3
"
  local description
  if [[ $p == gateway ]]; then
    description="IocEdge gateway: field instruments to the IOC aggregator
 Reads Modbus (RTU, TCP), GPIO, I2C, 1-Wire and UART instruments, keeps every
 reading in an outbox on the card and forwards it over MQTT to the aggregator.
 Runs as the systemd service iocedge-gateway (user iocedge)."
  else
    description="IocEdge aggregator: MQTT broker, reading store and HTTP API
 Stores each gateway reading exactly once (SQLite or PostgreSQL) and serves
 the IOC's HTTP API. Runs as the systemd service iocedge-aggregator."
  fi
  cat > "$pkg/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: IocEdge <iocedge@localhost>
Section: net
Priority: optional
Depends: $depends
${recommends}Installed-Size: $size
Description: $description
CONTROL
  local deb="$out/${name}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
  echo "build-deb.sh: $deb ($(du -h "$deb" | cut -f1))"
}

for p in "${packages[@]}"; do
  from_var="${p}_from"
  from="${!from_var}"
  [[ -n $from ]] || from="$(publish "$p")"
  build_one "$p" "$from"
done
