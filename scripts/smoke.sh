#!/usr/bin/env bash
# Smoke test of the built service (dist/main.js) under a given node binary, against the
# contract in API.md: on a fresh state folder it writes admin.token (0600, never logged),
# answers /healthz, refuses /v1/host without a token, answers /v1/host and the GraphQL
# `host` query with it, and stops on SIGTERM.
#
# usage: scripts/smoke.sh [NODE_BINARY]       (default: node on PATH)
#   env: DOCKER_HOST (default: the private test engine, unix:///run/nsgate-test/docker.sock;
#        never the system engine); SMOKE_TIMEOUT seconds to wait for /healthz (default 60)
# Needs `npm run build` first. Exit status 0 when every check passes.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="${1:-node}"
timeout_s="${SMOKE_TIMEOUT:-60}"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/nsgate-test/docker.sock}"

# True while pid $1 runs (an exited child stays a zombie until waited for; kill -0 still works on it).
alive() { [[ -r "/proc/$1/stat" && "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

step() { printf '\n== smoke: %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
  printf '   FAILED: %s\n' "$*" >&2
  if [[ -n "${log:-}" && -s "$log" ]]; then
    printf '   last lines of the service log (%s):\n' "$log" >&2
    tail -n 30 "$log" | sed 's/^/   | /' >&2
  fi
  exit 1
}

step "node and build"
command -v "$node_bin" >/dev/null || fail "no node binary at $node_bin"
node_bin="$(command -v "$node_bin")"
node_version="$("$node_bin" --version)" || fail "$node_bin --version failed"
ok "$node_bin $node_version"
[[ -f "$repo/dist/main.js" ]] || fail "$repo/dist/main.js is missing: run npm run build first"
ok "dist/main.js"

work="$(mktemp -d /tmp/nsgate-smoke.XXXXXX)"
data="$work/data"
log="$work/service.log"
pid=""
cleanup() {
  local rc=$?
  if [[ -n "$pid" ]] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if ((rc == 0)); then rm -rf "$work"; else printf '   (kept %s for inspection)\n' "$work" >&2; fi
}
trap cleanup EXIT

# The HTTP client: node's fetch. `client METHOD PATH [TOKEN] [JSON_BODY]` prints the status on
# the first line and the body after it.
client_js="$work/client.mjs"
cat >"$client_js" <<'EOF'
const [base, method, path, token, body] = process.argv.slice(2);
const headers = {};
if (token) headers.authorization = `Bearer ${token}`;
if (body) headers['content-type'] = 'application/json';
try {
  const res = await fetch(base + path, { method, headers, body: body || undefined, signal: AbortSignal.timeout(10_000) });
  process.stdout.write(`${res.status}\n${await res.text()}\n`);
} catch (err) {
  process.stdout.write(`000\n${err.cause?.code ?? err.message}\n`);
}
EOF
client() { "$node_bin" "$client_js" "$base" "$@"; }

# Checks a JSON answer with a JavaScript expression over `b` (the parsed body); prints what it returns.
check_json() {
  local body="$1" expr="$2"
  "$node_bin" -e '
    const [body, expr] = process.argv.slice(1);
    let b;
    try { b = JSON.parse(body); } catch { console.error("not JSON: " + body.slice(0, 300)); process.exit(1); }
    const r = new Function("b", "return (" + expr + ");")(b);
    if (!r) { console.error("expected " + expr + " in " + JSON.stringify(b).slice(0, 600)); process.exit(1); }
    if (typeof r === "string") console.log(r);
  ' "$body" "$expr"
}

step "start the service"
port="$("$node_bin" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
base="http://127.0.0.1:$port"
mkdir -p "$data"
# A tokens file from the caller's environment would keep the service from minting admin.token.
env -u NSGATE_TOKENS_FILE NSGATE_DATA_DIR="$data" NSGATE_LISTEN="127.0.0.1:$port" \
  "$node_bin" "$repo/dist/main.js" </dev/null >"$log" 2>&1 &
pid=$!
ok "pid $pid on 127.0.0.1:$port, state in $data, DOCKER_HOST=$DOCKER_HOST"

step "GET /healthz"
deadline=$((SECONDS + timeout_s))
while :; do
  if ! alive "$pid"; then
    rc=0
    wait "$pid" || rc=$?
    pid=""
    fail "the service exited (status $rc) before answering"
  fi
  answer="$(client GET /healthz)"
  [[ "${answer%%$'\n'*}" == 200 ]] && break
  ((SECONDS < deadline)) || fail "/healthz did not answer 200 within ${timeout_s}s (last: ${answer//$'\n'/ })"
  sleep 0.2
done
check_json "${answer#*$'\n'}" 'b.status === "ok"'
ok "200 {\"status\":\"ok\"} after $((SECONDS - deadline + timeout_s))s"

step "admin token"
token_file="$data/admin.token"
[[ -f "$token_file" ]] || fail "$token_file was not written"
mode="$(stat -c %a "$token_file")"
[[ "$mode" == 600 ]] || fail "$token_file has mode $mode, not 600"
token="$(tr -d '[:space:]' <"$token_file")"
[[ ${#token} -ge 16 ]] || fail "$token_file holds no token"
if grep -qF "$token" "$log"; then fail "the service log contains the admin token"; fi
ok "$token_file (mode 600, ${#token} characters, not in the log)"

step "GET /v1/host"
answer="$(client GET /v1/host)"
[[ "${answer%%$'\n'*}" == 401 ]] || fail "without a token: expected 401, got ${answer//$'\n'/ }"
ok "401 without a token"
answer="$(client GET /v1/host "$token")"
[[ "${answer%%$'\n'*}" == 200 ]] || fail "expected 200, got ${answer//$'\n'/ }"
host_json="${answer#*$'\n'}"
kernel="$(uname -r)"
if grep -q ' - cgroup2 ' /proc/self/mountinfo; then
  if grep -q ' - cgroup ' /proc/self/mountinfo; then mode=hybrid; else mode=v2; fi
else
  mode=v1
fi
check_json "$host_json" "b.kernel === '$kernel' && b.cgroupMode === '$mode' && Array.isArray(b.hierarchies) && b.hierarchies.length > 0"
engine="$(check_json "$host_json" '`${b.engine?.status} ${b.engine?.version ?? ""}`')"
if timeout 5 docker -H "$DOCKER_HOST" version >/dev/null 2>&1; then
  [[ "$engine" == up* ]] || fail "the engine at $DOCKER_HOST answers, but /v1/host says engine $engine"
fi
ok "200: kernel $kernel, cgroupMode $mode, engine $engine"

step "POST /graphql { host { kernel cgroupMode } }"
answer="$(client POST /graphql "$token" '{"query":"{ host { kernel cgroupMode } }"}')"
[[ "${answer%%$'\n'*}" == 200 ]] || fail "expected 200, got ${answer//$'\n'/ }"
check_json "${answer#*$'\n'}" "!b.errors && b.data.host.kernel === '$kernel' && b.data.host.cgroupMode === '$mode'"
ok "200: ${answer#*$'\n'}"

step "stop the service (SIGTERM to pid $pid)"
kill -TERM "$pid"
for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
if alive "$pid"; then fail "still running 10 s after SIGTERM"; fi
rc=0
wait "$pid" || rc=$?
pid=""
# 0 for a graceful shutdown; 143 (killed by the default SIGTERM action) is also a clean stop
[[ "$rc" == 0 || "$rc" == 143 ]] || fail "exited with status $rc after SIGTERM"
ok "exited (status $rc)"

printf '\nsmoke test passed under node %s\n' "$node_version"
