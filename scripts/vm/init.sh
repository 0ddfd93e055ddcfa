#!/bin/sh
# /init of the nsgate test VM (runs as pid 1 under busybox sh).
#
# Kernel command line parameters it reads:
#   nsgate.nonce=STR   marks the test output (the host only trusts lines between the markers)
#   nsgate.entry=PATH  the test entry script, relative to /app (the repo layout is mirrored)
#   nsgate.node=OPTS   extra node options, comma separated (e.g. --jitless)
#   nsgate.docker=1    the Docker guest (test/vm/docker-v2.vm.ts): also mount tmpfs on /run and
#                      /var/lib and devpts, bring lo up, and start the Docker Engine (from the
#                      initramfs's docker layer) in the background, then `docker load` the test
#                      image; progress lands in /run/nsgate-vm/ (files named after each step,
#                      holding /proc/uptime's seconds; dockerd.log, load.log), which the entry
#                      script waits on.
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
docker=
for word in $(cat /proc/cmdline); do
  case "$word" in
    nsgate.nonce=*) nonce="${word#nsgate.nonce=}" ;;
    nsgate.entry=*) entry="${word#nsgate.entry=}" ;;
    nsgate.node=*) nodeopts="$(echo "${word#nsgate.node=}" | tr ',' ' ')" ;;
    nsgate.docker=1) docker=1 ;;
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

mark() {
  read -r up _ < /proc/uptime
  echo "$up" > "/run/nsgate-vm/$1"
}

# Waits (up to 300 s of guest uptime) for a command to succeed, polling every half second.
wait_until() {
  read -r t0 _ < /proc/uptime
  until "$@" > /dev/null 2>&1; do
    read -r now _ < /proc/uptime
    [ "${now%.*}" -gt $((${t0%.*} + 300)) ] && return 1
    sleep 0.5
  done
}

start_docker() {
  mark engine-start
  # The engine in a cgroup of its own, as systemd runs it (/system.slice/docker.service): Docker
  # decides whether the kernel accounts swap by looking for memory.swap.max in its own cgroup,
  # which the root cgroup never has; from the root it ignores --memory-swap.
  mkdir -p /sys/fs/cgroup/system.slice/docker.service
  for c in $(cat /sys/fs/cgroup/system.slice/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/system.slice/cgroup.subtree_control
  done
  # $$ is init's pid even here; /proc/self, opened by this (background) shell itself, is ours
  read -r self _ < /proc/self/stat
  echo "$self" > /sys/fs/cgroup/system.slice/docker.service/cgroup.procs
  # containerd first, on its own: dockerd gives the containerd it starts itself a fixed time to
  # come up, which a loaded host under tcg can exceed.
  containerd --config /etc/containerd/config.toml > /run/nsgate-vm/containerd.log 2>&1 &
  if ! wait_until test -S /run/containerd/containerd.sock; then
    mark engine-failed
    return 1
  fi
  mark containerd-ready
  # DOCKER_RAMDISK: runc cannot pivot_root out of an initramfs; vfs needs no overlay module;
  # no bridge and no iptables: the guest has no network but lo, and containers use none.
  DOCKER_RAMDISK=true dockerd --containerd=/run/containerd/containerd.sock --bridge=none --iptables=false --ip6tables=false --storage-driver=vfs > /run/nsgate-vm/dockerd.log 2>&1 &
  if ! wait_until test -S /run/docker.sock || ! wait_until docker version; then
    mark engine-failed
    return 1
  fi
  mark engine-ready
  if docker load -i /images/test-image.tar > /run/nsgate-vm/load.log 2>&1; then
    mark image-loaded
  else
    mark image-failed
  fi
}

if [ "$docker" = 1 ] && [ -z "$setup_error" ]; then
  mount -t tmpfs -o mode=0755 tmpfs /run
  mount -t tmpfs -o mode=0755 tmpfs /var/lib
  mkdir -p /dev/pts /run/nsgate-vm
  mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
  ip link set lo up || setup_error="$setup_error lo up failed;"
  start_docker &
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
