#!/usr/bin/env bash
# Starts nsgate's private test Docker Engine on its own socket and folders (see MACHINE.md):
#   unix:///run/nsgate-test/docker.sock, data in /var/lib/nsgate-test/docker, no bridge, no iptables.
# Idempotent: when the engine already answers on that socket it does nothing and says so.
#
# usage: docker/start-engine.sh [--install] [--timeout SECONDS] [--lease PID [--mark-harness]]
#   --install       apt-get install docker.io first when dockerd is missing (or NSGATE_INSTALL_PACKAGES=1)
#   --timeout S     how long to wait for the engine to answer (default 30, or NSGATE_ENGINE_TIMEOUT)
#   --lease PID     record that process PID uses the engine (released by stop-engine.sh --release PID)
#   --mark-harness  when this call starts the engine, record that a test harness did, so the
#                   last harness to release its lease stops it (the e2e global setup passes this)
# Exit status: 0 when the engine answers (stdout's last line is "started" or "running"), 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=engine.env.sh
source "$here/engine.env.sh"

install="${NSGATE_INSTALL_PACKAGES:-0}"
timeout_s="${NSGATE_ENGINE_TIMEOUT:-30}"
mark_harness=0
lease=""
while (($#)); do
  case "$1" in
    --install) install=1 ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift ;;
    --mark-harness) mark_harness=1 ;;
    --lease) lease="${2:?--lease needs a pid}"; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) engine_die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

[[ "$(id -u)" == 0 ]] || engine_die "the engine needs root"
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  [[ "$install" == 1 ]] || engine_die "dockerd or docker is missing: apt-get install -y docker.io (or pass --install)"
  install_packages docker.io
fi

mkdir -p "$NSGATE_ENGINE_RUN_DIR" "$NSGATE_ENGINE_EXEC_ROOT" "$NSGATE_ENGINE_DATA_ROOT"

# One starter at a time: concurrent test runs (other engineers, CI) share this engine.
exec 9>"$NSGATE_ENGINE_RUN_DIR/start.lock"
flock -w "$((timeout_s + 30))" 9 || engine_die "another start-engine.sh holds $NSGATE_ENGINE_RUN_DIR/start.lock"

if engine_answers; then
  engine_log "already running on $NSGATE_ENGINE_HOST (pid $(engine_pid || true)); nothing to do"
  if [[ -n "$lease" ]]; then lease_take "$lease"; fi
  echo running
  exit 0
fi

pid="$(engine_pid)"
if [[ -z "$pid" ]]; then
  rm -f "$NSGATE_ENGINE_PIDFILE" # stale: its process is gone or is no dockerd
  engine_log "starting dockerd on $NSGATE_ENGINE_HOST (log: $NSGATE_ENGINE_LOG)"
  printf '\n==== %s start-engine.sh ====\n' "$(date -Is)" >>"$NSGATE_ENGINE_LOG"
  # setsid: its own session, so a Ctrl-C aimed at whoever started it does not reach it.
  setsid dockerd \
    --host "$NSGATE_ENGINE_HOST" \
    --data-root "$NSGATE_ENGINE_DATA_ROOT" \
    --exec-root "$NSGATE_ENGINE_EXEC_ROOT" \
    --pidfile "$NSGATE_ENGINE_PIDFILE" \
    --bridge=none --iptables=false --ip6tables=false \
    </dev/null >>"$NSGATE_ENGINE_LOG" 2>&1 9>&- &
  pid=$!
  rm -f "$NSGATE_ENGINE_HARNESS_MARK"
else
  engine_log "dockerd (pid $pid) is up but not answering yet; waiting for it"
fi

deadline=$((SECONDS + timeout_s))
until engine_answers; do
  if [[ ! -d "/proc/$pid" ]] || [[ "$(cat "/proc/$pid/stat" 2>/dev/null | awk '{print $3}')" == Z ]]; then
    wait "$pid" 2>/dev/null || true
    engine_log "dockerd (pid $pid) exited before answering; last lines of $NSGATE_ENGINE_LOG:"
    tail -n 25 "$NSGATE_ENGINE_LOG" >&2 || true
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    engine_log "dockerd (pid $pid) did not answer on $NSGATE_ENGINE_HOST within ${timeout_s}s; last lines of $NSGATE_ENGINE_LOG:"
    tail -n 25 "$NSGATE_ENGINE_LOG" >&2 || true
    engine_log "it is still running; stop it with docker/stop-engine.sh"
    exit 1
  fi
  sleep 0.2
done

if ((mark_harness)); then date -Is >"$NSGATE_ENGINE_HARNESS_MARK"; fi
if [[ -n "$lease" ]]; then lease_take "$lease"; fi
engine_log "ready: Docker Engine $(docker -H "$NSGATE_ENGINE_HOST" version --format '{{.Server.Version}}') on $NSGATE_ENGINE_HOST (pid $(engine_pid || echo "$pid"))"
echo started
