#!/bin/sh
# /init of the nsgate test VM (runs as pid 1 under busybox sh).
#
# Kernel command line parameters it reads:
#   nsgate.nonce=STR   marks the test output (the host only trusts lines between the markers)
#   nsgate.entry=PATH  the test entry script, relative to /app (the repo layout is mirrored)
#   nsgate.node=OPTS   extra node options, comma separated (e.g. --jitless)
#
# Whatever happens, it ends with poweroff -f so qemu exits (-no-reboot, panic=-1).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/tmp TMPDIR=/tmp NSGATE_VM=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
# Only emergencies on the console, so kernel messages cannot split the test's output lines.
echo 1 > /proc/sys/kernel/printk

nonce=none
entry=
nodeopts=
for word in $(cat /proc/cmdline); do
  case "$word" in
    nsgate.nonce=*) nonce="${word#nsgate.nonce=}" ;;
    nsgate.entry=*) entry="${word#nsgate.entry=}" ;;
    nsgate.node=*) nodeopts="$(echo "${word#nsgate.node=}" | tr ',' ' ')" ;;
  esac
done

setup_error=
# The options systemd uses on production hosts, so mountinfo looks the same to the driver.
mount -t cgroup2 -o nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup || setup_error="mount cgroup2 failed"
if [ -z "$setup_error" ]; then
  # Enable every controller for the root's children, one at a time so a failure names it.
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || setup_error="$setup_error enabling $c failed;"
  done
fi

# Leading newline: SeaBIOS leaves the console mid-line.
echo
echo "===NSGATE-VM-BEGIN $nonce==="
if [ -n "$setup_error" ]; then
  echo "nsgate-vm: setup: $setup_error"
  rc=125
elif [ -z "$entry" ] || [ ! -f "/app/$entry" ]; then
  echo "nsgate-vm: no entry script: '$entry'"
  rc=126
else
  cd /app
  # shellcheck disable=SC2086 # nodeopts is a word list on purpose
  /usr/bin/node $nodeopts "/app/$entry" 2>&1
  rc=$?
fi
echo
echo "===NSGATE-VM-END $nonce rc=$rc==="
sync
poweroff -f
