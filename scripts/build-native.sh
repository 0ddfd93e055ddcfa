#!/usr/bin/env bash
# Builds nsgate's exec helper (src/kernel/exec/native/nsgate-exec.c) into dist/native/nsgate-exec:
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

if [[ $force -eq 0 && -x "$out" && "$out" -nt "$src" && "$out" -nt "${BASH_SOURCE[0]}" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp="$(mktemp "$out.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
hardening=(-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -static-pie -Wl,-z,relro,-z,now)
"$cc" -std=gnu11 "${hardening[@]}" -Wall -Wextra -Werror -o "$tmp" "$src"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "built $out" >&2
