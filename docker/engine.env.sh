# Shared settings of the private test Docker Engine (sourced by the docker/*.sh scripts).
# The paths are fixed by MACHINE.md so that every script, test and person agrees on them.
# shellcheck shell=bash

NSGATE_ENGINE_RUN_DIR=/run/nsgate-test
NSGATE_ENGINE_DATA_ROOT=/var/lib/nsgate-test/docker
NSGATE_ENGINE_EXEC_ROOT="$NSGATE_ENGINE_RUN_DIR/exec"
NSGATE_ENGINE_PIDFILE="$NSGATE_ENGINE_RUN_DIR/dockerd.pid"
NSGATE_ENGINE_LOG="$NSGATE_ENGINE_RUN_DIR/dockerd.log"
NSGATE_ENGINE_SOCKET="$NSGATE_ENGINE_RUN_DIR/docker.sock"
NSGATE_ENGINE_HOST="unix://$NSGATE_ENGINE_SOCKET"
# Written by a harness (the e2e global setup) that started the engine for itself.
NSGATE_ENGINE_HARNESS_MARK="$NSGATE_ENGINE_RUN_DIR/started-by-harness"
NSGATE_TEST_IMAGE=nsgate/busybox:test

engine_log() { printf '[nsgate-engine] %s\n' "$*" >&2; }
engine_die() { engine_log "error: $*"; exit 1; }

# True when the private engine answers on its socket.
engine_answers() {
  [[ -S "$NSGATE_ENGINE_SOCKET" ]] || return 1
  timeout 5 docker -H "$NSGATE_ENGINE_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# The pid in the pidfile when it names a live dockerd (guards against a reused pid); else empty.
engine_pid() {
  local pid
  [[ -f "$NSGATE_ENGINE_PIDFILE" ]] || return 0
  pid="$(tr -dc '0-9' <"$NSGATE_ENGINE_PIDFILE")"
  [[ -n "$pid" && -r "/proc/$pid/comm" ]] || return 0
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 0
  printf '%s\n' "$pid"
}

# Install Debian packages that are missing. Never lets a package's maintainer scripts start a
# service (docker.io would otherwise start a default engine with its 172.17.0.0/16 bridge).
install_packages() {
  local missing=() pkg policy=/usr/sbin/policy-rc.d added_policy=0
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  engine_log "installing ${missing[*]}"
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && added_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null || rc=$?
  if ((rc)); then
    engine_log "apt-get install failed (exit $rc); trying apt-get update first"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null || rc=$?
  fi
  if ((added_policy)); then rm -f "$policy"; fi
  if ((rc)); then engine_die "could not install ${missing[*]}"; fi
}

# Leases: a test run that uses the engine holds /run/nsgate-test/leases/PID (content: the
# process start time, so a reused pid is not mistaken for it). stop-engine.sh --release PID
# stops a harness-started engine only when no other live lease remains.
NSGATE_ENGINE_LEASES="$NSGATE_ENGINE_RUN_DIR/leases"

# The start time (clock ticks since boot) of pid $1, empty when it does not exist.
proc_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }" # drop "pid (comm) ": comm may hold spaces
  awk '{print $20}' <<<"$stat"
}

lease_take() {
  mkdir -p "$NSGATE_ENGINE_LEASES"
  proc_starttime "$1" >"$NSGATE_ENGINE_LEASES/$1"
}

# Removes leases whose process is gone; prints the pids of the live ones.
leases_live() {
  local f pid
  [[ -d "$NSGATE_ENGINE_LEASES" ]] || return 0
  for f in "$NSGATE_ENGINE_LEASES"/*; do
    [[ -f "$f" ]] || continue
    pid="${f##*/}"
    if [[ "$pid" =~ ^[0-9]+$ && -n "$(proc_starttime "$pid")" && "$(proc_starttime "$pid")" == "$(cat "$f")" ]]; then
      echo "$pid"
    else
      rm -f "$f"
    fi
  done
}
