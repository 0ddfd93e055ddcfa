#!/usr/bin/env bash
# Fetch Debian's current 6.1 kernel into .vm-cache/ and print the path of the image to boot.
#
#   scripts/vm/fetch-kernel.sh [--install] [--vmlinuz]
#
# --install  apt-get install qemu-system-x86 and cpio when they are missing (CI passes it;
#            a developer may prefer to install them by hand).
# --vmlinuz  print the packaged, compressed bzImage instead of the unpacked vmlinux.
#
# By default it prints an uncompressed ELF vmlinux, unpacked from the bzImage once here:
# Debian compresses the kernel with xz, and under tcg the guest takes ~5 s to unpack it at
# every boot. qemu boots the ELF directly through its PVH entry (CONFIG_PVH=y, checked).
#
# Idempotent: the package is downloaded and unpacked once per version. If the package lists
# cannot be read (offline), the newest kernel already in the cache is used.
#
# The guest needs no kernel modules: everything the VM tests rely on (cgroup2 and all of
# its controllers, devtmpfs, initramfs with gzip, the 8250 serial console) is built in.
# That is checked against the package's own config file below, so a future kernel that
# moves one of them to a module fails here with a clear message instead of hanging at boot.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${NSGATE_VM_CACHE:-$root/.vm-cache}"
install=0
want_vmlinuz=0
for arg in "$@"; do
  case "$arg" in
    --install) install=1 ;;
    --vmlinuz) want_vmlinuz=1 ;;
    *) echo "fetch-kernel.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "fetch-kernel: $*" >&2; }

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
}

if [ "$install" = 1 ]; then
  missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v cpio >/dev/null || missing+=(cpio)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
fi

mkdir -p "$cache/kernel"

# linux-image-amd64 is a metapackage; its single dependency names the real image package.
resolve_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Asking apt takes ~1.5 s; the answer is reused for a day (NSGATE_VM_REFRESH=1 asks anyway).
resolved="$cache/kernel/resolved"
pkg=""
if [ "${NSGATE_VM_REFRESH:-0}" != 1 ] && [ -n "$(find "$resolved" -mmin -1440 2>/dev/null)" ]; then
  pkg="$(cat "$resolved")"
  [ -f "$cache/kernel/$pkg/.complete" ] || pkg=""
fi
if [ -z "$pkg" ]; then
  pkg="$(resolve_package || true)"
  if [ -z "$pkg" ]; then
    apt_update_once || true
    pkg="$(resolve_package || true)"
  fi
  [ -n "$pkg" ] && echo "$pkg" > "$resolved"
fi

if [ -z "$pkg" ]; then
  # Offline or no package lists: fall back to the newest kernel already unpacked.
  latest="$(ls -1d "$cache"/kernel/linux-image-*/ 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$latest" ]; then
    log "cannot resolve linux-image-amd64 and nothing is cached"
    exit 1
  fi
  pkg="$(basename "$latest")"
  log "package lists unavailable; using cached $pkg"
fi

dir="$cache/kernel/$pkg"
if [ ! -f "$dir/.complete" ]; then
  log "downloading $pkg"
  tmp="$(mktemp -d "$cache/kernel/.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the working directory. APT::Sandbox::User=root: the
  # _apt user may not be able to enter the checkout, and apt would warn about it.
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2)
  deb="$(ls -1 "$tmp"/*.deb | head -n 1)"
  mkdir -p "$tmp/x"
  # Only boot/ is needed; the modules tree is ~400 MB unpacked and the guest loads none.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" ./boot
  rm -rf "$dir"
  mv "$tmp/x" "$dir"
  touch "$dir/.complete"
  rm -rf "$tmp"
  trap - EXIT
fi

vmlinuz="$(ls -1 "$dir"/boot/vmlinuz-* | head -n 1)"
config="$(ls -1 "$dir"/boot/config-* | head -n 1)"

# Everything the guest relies on must be =y (built in), since the initramfs has no modules.
required=(
  CONFIG_CGROUPS CONFIG_MEMCG CONFIG_CGROUP_SCHED CONFIG_FAIR_GROUP_SCHED CONFIG_CFS_BANDWIDTH
  CONFIG_CPUSETS CONFIG_CGROUP_PIDS CONFIG_BLK_CGROUP CONFIG_CGROUP_HUGETLB CONFIG_CGROUP_RDMA
  CONFIG_CGROUP_MISC CONFIG_CGROUP_FREEZER CONFIG_SWAP CONFIG_PSI
  CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_DEVTMPFS CONFIG_TMPFS CONFIG_PROC_FS CONFIG_SYSFS
  CONFIG_SERIAL_8250 CONFIG_SERIAL_8250_CONSOLE CONFIG_BINFMT_ELF CONFIG_BINFMT_SCRIPT
  CONFIG_PVH
)
bad=()
for opt in "${required[@]}"; do
  grep -qx "$opt=y" "$config" || bad+=("$opt ($(grep -E "^(# )?$opt[= ]" "$config" || echo unset))")
done
if [ "${#bad[@]}" -gt 0 ]; then
  log "kernel $pkg lacks built-in support the VM tests need:"
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi

if [ "$want_vmlinuz" = 1 ]; then
  echo "$vmlinuz"
  exit 0
fi

# Unpack the bzImage's payload: setup_sects at 0x1f1, payload_offset and payload_length at
# 0x248 (boot protocol 2.08+). The payload is an xz stream followed by the 4-byte
# little-endian uncompressed size, which is also how the result is checked.
vmlinux="$dir/vmlinux"
if [ ! -s "$vmlinux" ]; then
  u8() { od -An -t u1 -j "$1" -N 1 "$vmlinuz" | tr -d ' '; }
  u32() { od -An -t u4 -j "$1" -N 4 "$vmlinuz" | tr -d ' '; }
  setup_sects="$(u8 497)"
  [ "$setup_sects" = 0 ] && setup_sects=4
  payload_offset="$(u32 $((0x248)))"
  payload_length="$(u32 $((0x24c)))"
  start=$(( (setup_sects + 1) * 512 + payload_offset ))
  magic="$(od -An -t x1 -j "$start" -N 6 "$vmlinuz" | tr -d ' ')"
  if [ "$magic" != "fd377a585a00" ]; then
    log "kernel payload is not xz (magic $magic); booting the bzImage"
    echo "$vmlinuz"
    exit 0
  fi
  want_size="$(u32 $((start + payload_length - 4)))"
  dd if="$vmlinuz" bs=64K iflag=skip_bytes,count_bytes skip="$start" count="$((payload_length - 4))" status=none |
    xz -dc > "$vmlinux.tmp"
  got_size="$(stat -c %s "$vmlinux.tmp")"
  if [ "$got_size" != "$want_size" ]; then
    rm -f "$vmlinux.tmp"
    log "unpacked vmlinux has $got_size bytes, expected $want_size"
    exit 1
  fi
  mv "$vmlinux.tmp" "$vmlinux"
fi
echo "$vmlinux"
