#!/usr/bin/env bash
# Builds the e2e test image nsgate/busybox:test in the private engine, without a registry:
# Debian's static busybox, a symlink per applet, and an /etc/passwd and /etc/group that
# name root and nobody (so `docker top`, `ps` and `--user nobody` resolve), imported with
# `docker import`. Skips the build when the image exists already.
#
# usage: docker/build-test-image.sh [--force] [--install]
#   --force    rebuild even when the image exists
#   --install  apt-get install busybox-static first when it is missing (or NSGATE_INSTALL_PACKAGES=1)
# Needs the engine running (docker/start-engine.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=engine.env.sh
source "$here/engine.env.sh"

force=0
install="${NSGATE_INSTALL_PACKAGES:-0}"
while (($#)); do
  case "$1" in
    --force) force=1 ;;
    --install) install=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) engine_die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

dockerh() { docker -H "$NSGATE_ENGINE_HOST" "$@"; }

engine_answers || engine_die "the engine does not answer on $NSGATE_ENGINE_HOST; run docker/start-engine.sh first"

# Concurrent test runs share the engine: one build at a time, and the second one finds the image.
exec 8>"$NSGATE_ENGINE_RUN_DIR/build-image.lock"
flock -w 120 8 || engine_die "another build-test-image.sh holds $NSGATE_ENGINE_RUN_DIR/build-image.lock"

if ((!force)) && dockerh image inspect "$NSGATE_TEST_IMAGE" >/dev/null 2>&1; then
  engine_log "$NSGATE_TEST_IMAGE exists; nothing to do (--force rebuilds it)"
  exit 0
fi

busybox=/bin/busybox
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  [[ "$install" == 1 ]] || engine_die "busybox-static is not installed: apt-get install -y busybox-static (or pass --install)"
  install_packages busybox-static
fi
# The container has no libc: the binary must be static (the plain busybox package is not).
if ldd "$busybox" >/dev/null 2>&1 && ! ldd "$busybox" 2>&1 | grep -q 'statically linked'; then
  engine_die "$busybox is dynamically linked; install busybox-static"
fi

rootfs="$(mktemp -d /tmp/nsgate-busybox-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,home,var/run}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 "$busybox" "$rootfs/bin/busybox"

# --list-full names each applet with its usual folder (bin/sh, usr/bin/env, sbin/ip, ...).
count=0
while read -r applet; do
  [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
  mkdir -p "$rootfs/$(dirname "$applet")"
  [[ -e "$rootfs/$applet" ]] || ln -s /bin/busybox "$rootfs/$applet"
  count=$((count + 1))
done < <("$busybox" --list-full)
[[ -L "$rootfs/bin/sh" && -L "$rootfs/bin/sleep" ]] || engine_die "$busybox --list-full named no sh or sleep"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$rootfs/etc/shadow"
chmod 0640 "$rootfs/etc/shadow"

engine_log "importing $NSGATE_TEST_IMAGE (busybox $("$busybox" | head -n1 | awk '{print $2}'), $count applets)"
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . |
  dockerh import \
    --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL org.opencontainers.image.title=nsgate-busybox-test' \
    --message 'nsgate e2e test image: static busybox' \
    - "$NSGATE_TEST_IMAGE" >/dev/null
dockerh image inspect "$NSGATE_TEST_IMAGE" --format '{{.Id}}'
