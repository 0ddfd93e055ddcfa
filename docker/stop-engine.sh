#!/usr/bin/env bash
# Stops nsgate's private test Docker Engine by the pid in /run/nsgate-test/dockerd.pid:
# TERM, wait (dockerd stops its containers first), then KILL if it is still there.
#
# usage: docker/stop-engine.sh [--purge] [--timeout SECONDS] [--release PID]
#   --purge        also remove its folders (/run/nsgate-test, /var/lib/nsgate-test/docker):
#                  images, containers and logs go too
#   --timeout S    how long to wait after TERM before KILL (default 30; dockerd itself gives
#                  running containers 15 s)
#   --release PID  drop PID's lease (see start-engine.sh --lease) and stop the engine only if a
#                  test harness started it and no other live process holds a lease; without
#                  it the engine is stopped whoever started it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=engine.env.sh
source "$here/engine.env.sh"

purge=0
timeout_s=30
release=""
while (($#)); do
  case "$1" in
    --purge) purge=1 ;;
    --release) release="${2:?--release needs a pid}"; shift ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) engine_die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

[[ "$(id -u)" == 0 ]] || engine_die "stopping the engine needs root"

if [[ -d "$NSGATE_ENGINE_RUN_DIR" ]]; then
  # The same lock as start-engine.sh: a run taking a lease either comes before this decision
  # (and keeps the engine up) or after the stop (and starts it again).
  exec 9>"$NSGATE_ENGINE_RUN_DIR/start.lock"
  flock -w 120 9 || engine_die "another start/stop holds $NSGATE_ENGINE_RUN_DIR/start.lock"
fi

if [[ -n "$release" ]]; then
  rm -f "$NSGATE_ENGINE_LEASES/$release"
  others="$(leases_live | tr '\n' ' ')"
  if [[ -z "$(engine_pid)" ]]; then
    engine_log "released pid $release's lease; the engine is not running"
    exit 0
  fi
  if [[ -n "$others" ]]; then
    engine_log "released pid $release's lease; still in use by pid(s) ${others% }: leaving it running"
    exit 0
  fi
  if [[ ! -f "$NSGATE_ENGINE_HARNESS_MARK" ]]; then
    engine_log "released pid $release's lease; it was not started by a test harness: leaving it running"
    exit 0
  fi
fi

# Waits until pid $1 is gone (or a zombie), up to $2 seconds.
wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2)) state
  while [[ -d "/proc/$pid" ]]; do
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" == Z || -z "$state" ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Signals pid $1 (named $2 for the messages, whose /proc/PID/comm must still be $2): TERM, then KILL.
stop_pid() {
  local pid="$1" comm="$2"
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$comm" ]] || return 0
  engine_log "stopping $comm (pid $pid): TERM"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$timeout_s"; then
    engine_log "$comm (pid $pid) still running after ${timeout_s}s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || engine_die "$comm (pid $pid) survived KILL"
  fi
}

containerd_pidfile="$NSGATE_ENGINE_EXEC_ROOT/containerd/containerd.pid"
containerd_pid=""
if [[ -f "$containerd_pidfile" ]]; then containerd_pid="$(tr -dc '0-9' <"$containerd_pidfile")"; fi

pid="$(engine_pid)"
if [[ -n "$pid" ]]; then
  stop_pid "$pid" dockerd
  engine_log "dockerd (pid $pid) stopped"
elif engine_answers; then
  engine_die "an engine answers on $NSGATE_ENGINE_HOST but $NSGATE_ENGINE_PIDFILE names no live dockerd; not touching it"
else
  engine_log "not running (no live dockerd in $NSGATE_ENGINE_PIDFILE)"
fi
rm -f "$NSGATE_ENGINE_PIDFILE" "$NSGATE_ENGINE_HARNESS_MARK"

# The containerd that dockerd supervised normally exits with it; after a KILL it may not.
if [[ -n "$containerd_pid" ]]; then stop_pid "$containerd_pid" containerd; fi

# Container shims of this engine (found by its containerd's address) exit after their containers.
our_shims() {
  local f pid cmd
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == containerd-shim* ]] || continue
    cmd="$(tr '\0' ' ' <"$f" 2>/dev/null || true)"
    if [[ "$cmd" == *"$NSGATE_ENGINE_EXEC_ROOT/containerd/containerd.sock"* ]]; then echo "$pid"; fi
  done
  return 0
}
deadline=$((SECONDS + 10))
while shims="$(our_shims)" && [[ -n "$shims" ]] && ((SECONDS < deadline)); do sleep 0.2; done
if [[ -n "$shims" ]]; then
  if ((purge)); then
    # Their containers outlived a KILLed engine: KILL each container's init (its pid namespace
    # goes with it), then the shim.
    for shim in $shims; do
      for stat in /proc/[0-9]*/stat; do
        line="$(cat "$stat" 2>/dev/null || true)"
        fields=(${line##*) })
        if [[ "${fields[1]:-}" == "$shim" ]]; then
          child="${stat#/proc/}"; child="${child%/stat}"
          engine_log "killing container init pid $child (shim $shim)"
          kill -KILL "$child" 2>/dev/null || true
        fi
      done
      cmd="$(tr '\0' ' ' <"/proc/$shim/cmdline" 2>/dev/null || true)"
      stop_pid "$shim" containerd-shim
      # and the container's cgroups, which no engine will remove now
      if [[ "$cmd" =~ -id\ ([0-9a-f]{64}) ]]; then
        id="${BASH_REMATCH[1]}"
        for mnt in $(awk '$0 ~ / - cgroup2? / {print $5}' /proc/self/mountinfo); do
          [[ -d "$mnt/docker/$id" ]] || continue
          find "$mnt/docker/$id" -depth -type d -exec rmdir {} + 2>/dev/null ||
            engine_log "warning: could not remove cgroup $mnt/docker/$id"
        done
      fi
    done
  else
    engine_log "warning: container shims still running after the engine stopped: pid(s) $(echo $shims)"
  fi
fi

if ((purge)); then
  # Unmount what the engine left mounted under its folders (deepest first) before removing them.
  for dir in "$NSGATE_ENGINE_RUN_DIR" "$NSGATE_ENGINE_DATA_ROOT"; do
    awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r mnt; do
      engine_log "unmounting $mnt"
      umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done
  done
  engine_log "removing $NSGATE_ENGINE_RUN_DIR and $NSGATE_ENGINE_DATA_ROOT"
  rm -rf --one-file-system "$NSGATE_ENGINE_RUN_DIR" "$NSGATE_ENGINE_DATA_ROOT"
  rmdir "$(dirname "$NSGATE_ENGINE_DATA_ROOT")" 2>/dev/null || true
fi
