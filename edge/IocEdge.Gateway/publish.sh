#!/usr/bin/env bash
# Publishes iocedge-gateway. The default is a NativeAOT build: one native executable, no .NET runtime on the gateway,
# 0.43× the JIT build's resident memory and 0.15× its start-up (docs/BENCHMARKS.md, "Gateway footprint").
#
#   edge/IocEdge.Gateway/publish.sh                      # NativeAOT, linux-x64, into artifacts/gateway/linux-x64-aot
#   edge/IocEdge.Gateway/publish.sh --jit                # the JIT build (self-contained), into .../linux-x64-jit
#   edge/IocEdge.Gateway/publish.sh --rid linux-arm64    # NativeAOT for a Raspberry Pi (64-bit OS), cross-compiled
#   edge/IocEdge.Gateway/publish.sh -o DIR               # another output folder
#
# Extra arguments after -- go to dotnet publish. The same by hand:
#   dotnet publish edge/IocEdge.Gateway -c Release -r linux-x64                    (AOT: PublishAot is in the csproj)
#   dotnet publish edge/IocEdge.Gateway -c Release -r linux-x64 -p:PublishAot=false --self-contained   (JIT)
#
# NativeAOT links with clang and needs zlib's headers (Debian: clang zlib1g-dev); this script installs them when
# missing. linux-arm64 AOT cross-compiles with lld against an arm64 Debian 12 sysroot: the script makes one in
# artifacts/sysroot/linux-arm64 (arm64 .debs fetched by an apt with its own package lists, unpacked with dpkg -x: the
# machine's dpkg architectures are not touched), or takes IOCEDGE_ARM64_SYSROOT=DIR or -p:SysRoot=DIR after --.
# The same sysroot runs the result here: qemu-aarch64-static -L SYSROOT artifacts/gateway/linux-arm64-aot/iocedge-gateway
# Exit codes: 0 published, 2 bad arguments, other: the failing step's code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

rid=linux-x64
mode=aot
out=""
extra=()
while (($#)); do
  case "$1" in
    --jit) mode=jit ;;
    --aot) mode=aot ;;
    -r|--rid|--runtime) rid="$2"; shift ;;
    -o|--output) out="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "publish.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
out="${out:-$root/artifacts/gateway/$rid-$mode}"

if [[ $mode == aot ]]; then
  need=(clang zlib1g-dev)
  [[ $rid == linux-arm64 ]] && need+=(lld)
  missing=()
  for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "publish.sh: installing the NativeAOT toolchain: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
  # PublishAot comes from the gateway's csproj. Not as -p:PublishAot=true: a global property reaches every referenced
  # project, and IocEdge.Protocols.Compact's netstandard2.0 target then fails with NETSDK1207.
  args=()
  if [[ $rid == linux-arm64 ]]; then
    args+=(-p:LinkerFlavor=lld)
    if [[ " ${extra[*]} " != *"-p:SysRoot="* ]]; then
      sysroot="${IOCEDGE_ARM64_SYSROOT:-$root/artifacts/sysroot/linux-arm64}"
      # -e follows the link: a sysroot made before arm64-sysroot.sh made its symlinks relative has a dangling libm.so.
      [[ -f $sysroot/usr/lib/aarch64-linux-gnu/libc.so && -e $sysroot/usr/lib/aarch64-linux-gnu/libm.so ]] || "$here/arm64-sysroot.sh" "$sysroot"
      args+=("-p:SysRoot=$sysroot")
    fi
  fi
else
  args=(-p:PublishAot=false --self-contained)
fi

dotnet publish "$here" -c Release -r "$rid" "${args[@]}" -o "$out" -nologo -clp:ErrorsOnly "${extra[@]}"
echo "publish.sh: $mode build for $rid in $out ($(du -sh "$out" | cut -f1))"
