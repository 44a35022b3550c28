# shellcheck shell=bash
# What the client checks and the benchmark share; sourced, after `set -euo pipefail`
# and `cd` to the repository root:
#   log MSG / die MSG          progress on stderr / stop with exit 2
#   $tmp                       a temp folder; kept (and named) on failure or with KEEP_TMP=1;
#                              every process started here is stopped on exit
#   start_bg NAME CMD...       CMD in the background, its output in $tmp/NAME.log; sets BG_PID
#   wait_for WHAT SECS PID CMD...
#                              retries CMD every 0.1 s while PID lives; when PID exits or
#                              SECS pass, stops with the end of PID's log
#   start_mock NAME ARGS...    the mock upstream on 127.0.0.1:0; sets MOCK_ADDR, MOCK_PID
#   write_login PATH ACCOUNT [SECONDS]
#                              a fake Codex login (the mock writes it), token valid SECONDS (3600)
#   start_gateway NAME CONFIG  `codex-pool serve`; its config must listen on 127.0.0.1:0: the
#                              address is read from its log. Sets GW_ADDR, GW_URL, GW_PID once
#                              /healthz answers
#   one_account_config PATH ACCOUNT KEY_NAME KEY
#                              a gateway config on 127.0.0.1:0 against the mock: account
#                              ACCOUNT (its login in ACCOUNT.json beside PATH, written here),
#                              one client key, the admin token
#   client_failed CLIENT       the client's output ($tmp/cli.out, $tmp/cli.err) and the
#                              gateway's log, then exit 1
#   served_count ROUTE ACCOUNT KEY
#                              requests of ROUTE served by ACCOUNT for client key KEY, from
#                              /admin/pool/activity (admin token $ADMIN_TOKEN)
#   npm_tool DIR PACKAGE@VERSION BIN
#                              installs an npm package under target/DIR once; sets TOOL to
#                              its BIN. Without npm: says so and exits 0 (skipped)
# Env: GATEWAY_BIN (target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream).

SCRIPT=${SCRIPT:-$(basename "$0" .sh)}
GATEWAY_BIN=${GATEWAY_BIN:-target/debug/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/debug/examples/mock_upstream}
ADMIN_TOKEN=${ADMIN_TOKEN:-admin-check}

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost NO_COLOR=1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

log() { echo "== $*" >&2; }
die() {
  echo "$SCRIPT: $*" >&2
  exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$SCRIPT.XXXXXX")
pids=()
declare -A LOGS=()
cleanup() {
  local rc=$?
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "$SCRIPT: configs and logs kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The binaries, checked (and made absolute) at first use: a script may build them first.
need_bins() {
  [[ -x $GATEWAY_BIN ]] || die "no gateway binary at $GATEWAY_BIN (cargo build --bin codex-pool, or set GATEWAY_BIN)"
  [[ -x $MOCK_BIN ]] || die "no mock binary at $MOCK_BIN (cargo build --example mock_upstream, or set MOCK_BIN)"
  GATEWAY_BIN=$(cd "$(dirname "$GATEWAY_BIN")" && pwd)/$(basename "$GATEWAY_BIN")
  MOCK_BIN=$(cd "$(dirname "$MOCK_BIN")" && pwd)/$(basename "$MOCK_BIN")
}

start_bg() {
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  BG_PID=$!
  pids+=("$BG_PID")
  LOGS[$BG_PID]=$tmp/$name.log
}

# The end of PID's log, for a failure message.
log_of() {
  local file=${LOGS[$1]:-}
  [[ -n $file ]] || return 0
  echo "--- the end of $file:"
  tail -n 40 "$file"
}

wait_for() {
  local what=$1 secs=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what: the process exited
$(log_of "$pid")"
    ((SECONDS < deadline)) || die "$what: not ready after ${secs}s
$(log_of "$pid")"
    sleep 0.1
  done
}

start_mock() {
  local name=$1
  shift
  need_bins
  start_bg "$name" "$MOCK_BIN" --port 0 "$@"
  MOCK_PID=$BG_PID
  wait_for "$name" 20 "$MOCK_PID" grep -q '^listening on ' "$tmp/$name.log"
  MOCK_ADDR=$(sed -n 's/^listening on //p' "$tmp/$name.log" | head -n1)
  [[ $MOCK_ADDR == 127.0.0.1:* ]] || die "$name is not on loopback: $MOCK_ADDR"
}

write_login() {
  need_bins
  mkdir -p "$(dirname "$1")"
  "$MOCK_BIN" --write-login "$1" --account "$2" --expires-in "${3:-3600}" || die "cannot write a login to $1"
}

start_gateway() {
  local name=$1 config=$2 log=$tmp/$1.log
  need_bins
  RUST_LOG=${GATEWAY_RUST_LOG:-info} start_bg "$name" "$GATEWAY_BIN" serve --config "$config"
  GW_PID=$BG_PID
  wait_for "$name" 30 "$GW_PID" grep -q 'codex-pool listening on http://' "$log"
  GW_ADDR=$(sed -n 's,.*codex-pool listening on http://\([0-9.]*:[0-9]*\).*,\1,p' "$log" | head -n1)
  [[ $GW_ADDR == 127.0.0.1:* ]] || die "$name is not on loopback: '$GW_ADDR'
$(log_of "$GW_PID")"
  GW_URL=http://$GW_ADDR
  wait_for "$name /healthz" 20 "$GW_PID" curl -fsS --max-time 2 "$GW_URL/healthz"
}

one_account_config() {
  local path=$1 account=$2 key_name=$3 key=$4
  write_login "$(dirname "$path")/$account.json" "acct-$account"
  cat >"$path" <<TOML
[server]
listen = "127.0.0.1:0"
[upstream]
base_url = "http://$MOCK_ADDR/backend-api/codex"
issuer = "http://$MOCK_ADDR"
[[accounts]]
name = "$account"
auth_file = "$account.json"
[[api_keys]]
name = "$key_name"
key = "$key"
[admin]
token = "$ADMIN_TOKEN"
TOML
}

client_failed() {
  echo "--- $1 stdout"; cat "$tmp/cli.out"
  echo "--- $1 stderr"; tail -30 "$tmp/cli.err"
  echo "--- gateway log"; tail -30 "$tmp/gateway.log"
  exit 1
}

served_count() {
  curl -fsS -H "authorization: Bearer $ADMIN_TOKEN" "$GW_URL/admin/pool/activity" |
    python3 -c 'import json, sys
route, account, key = sys.argv[1:]
print(sum(1 for d in json.load(sys.stdin)["decisions"]
          if d["route"] == route and d["served_by"] == account and d["api_key"] == key))' "$1" "$2" "$3"
}

npm_tool() {
  local dir=target/$1 package=$2 bin=$3
  if ! command -v npm >/dev/null; then
    echo "$SCRIPT: npm is not installed; skipped"
    exit 0
  fi
  if [[ ! -x $dir/node_modules/.bin/$bin ]]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$package" >/dev/null
  fi
  TOOL=$PWD/$dir/node_modules/.bin/$bin
}
