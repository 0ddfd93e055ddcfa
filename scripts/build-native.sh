#!/usr/bin/env bash
# Builds nsgate's exec helper (src/kernel/exec/native/nsgate-exec.c) into dist/native/nsgate-exec
# (and the PSI trigger helper nsgate-psi beside it, hardened alike):
# a static binary (no dynamic loader or library from anywhere but the build), root-owned, 0755,
# hardened: a static PIE (readelf: Type DYN, no INTERP), full RELRO (GNU_RELRO + BIND_NOW), stack
# protector and _FORTIFY_SOURCE (which needs -O2).
# Skips the compile when the binary is newer than the source; --force rebuilds.
#   scripts/build-native.sh [--force] [OUTPUT]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
  shift
fi
src="$repo/src/kernel/exec/native/nsgate-exec.c"
out="${1:-$repo/dist/native/nsgate-exec}"
cc="${CC:-cc}"

hardening=(-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -static-pie -Wl,-z,relro,-z,now)
mkdir -p "$(dirname "$out")"

# build SRC OUT: compiled when missing, older than its source or this script, or with --force;
# written beside OUT and renamed, so a running nsgate never sees half a binary.
build() {
  local src="$1" out="$2" tmp
  if [[ $force -eq 1 || ! -x "$out" || "$src" -nt "$out" || "${BASH_SOURCE[0]}" -nt "$out" ]]; then
    tmp="$(mktemp "$out.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    "$cc" -std=gnu11 "${hardening[@]}" -Wall -Wextra -Werror -o "$tmp" "$src"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$out"
    trap - EXIT
    echo "built $out" >&2
  fi
}

build "$src" "$out"
# nsgate-psi (src/kernel/pressure/native/nsgate-psi.c): arms PSI triggers and waits for POLLPRI.
build "$repo/src/kernel/pressure/native/nsgate-psi.c" "$(dirname "$out")/nsgate-psi"
