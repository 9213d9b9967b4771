#!/usr/bin/env bash
# Makes a Debian 12 (bookworm) arm64 sysroot in DIR: what a NativeAOT linux-arm64 cross-link of iocedge-gateway needs
# (libc, libgcc, libstdc++, zlib: headers and libraries) and what running it under qemu-user needs
# (qemu-aarch64-static -L DIR). The .debs are fetched by an apt-get with its own package lists and status in
# DIR.apt (the machine's dpkg architectures and lists are not touched) and unpacked with dpkg -x, nothing installed.
#
#   edge/IocEdge.Gateway/arm64-sysroot.sh DIR        (publish.sh --rid linux-arm64 calls it when it has no sysroot)
# Exit codes: 0 made, 2 bad arguments, other: the failing apt step's code.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: arm64-sysroot.sh DIR" >&2; exit 2; }
dir="$1"
state="$dir.apt"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$dir"
touch "$state/status"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_arm64() {
  $SUDO apt-get -qq -o APT::Sandbox::User=root -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::State::Lists="$state/lists" \
    -o Dir::State::status="$state/status" -o Dir::Cache="$state/cache" "$@"
}
echo "arm64-sysroot.sh: fetching the arm64 package lists and libraries into $dir"
apt_arm64 update
# The C runtime and the headers clang/lld link against; libssl3 is not needed (the gateway does not load OpenSSL
# unless TLS is configured: edge/README.md "Publishing").
(cd "$state/debs" && apt_arm64 download libc6 libc6-dev linux-libc-dev libgcc-12-dev libgcc-s1 libstdc++6 \
  libstdc++-12-dev zlib1g zlib1g-dev libcrypt1 libcrypt-dev libatomic1)
for deb in "$state/debs"/*.deb; do dpkg -x "$deb" "$dir"; done
# The .debs carry absolute symlinks (usr/lib/aarch64-linux-gnu/libm.so -> /lib/aarch64-linux-gnu/libm.so.6) that point
# into the host's root, where no arm64 library is: a linker given --sysroot then finds no libm.so, takes the static
# libm.a instead, and the executable declares no libm, which libe_sqlite3.so needs ("undefined symbol: trunc" at
# run time). Every absolute symlink is made relative, inside the sysroot.
while IFS= read -r link; do
  target="$(readlink "$link")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$target")" "$link"
done < <(find "$dir" -type l -lname '/*')
echo "arm64-sysroot.sh: sysroot ready in $dir ($(du -sh "$dir" | cut -f1))"
