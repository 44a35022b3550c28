#!/usr/bin/env bash
# The official Codex CLI (npm @openai/codex, pinned) in its own ChatGPT-login
# mode against the gateway: a fake login of its own in a throwaway CODEX_HOME,
# its two base URLs pointed at `codex-pool serve` (written by
# `codex-pool codex-config --write`), the gateway in front of the mock upstream.
# Twice: solo (no client keys) and team (a client key sent by the provider
# block). Each time `codex exec` must run the mock's tool call locally and
# finish over its default transport, the Responses WebSocket (the mock must see
# the turns on a socket and no HTTP POST /responses), and the mock must have
# seen only the pool account's credentials.
# Loopback only.
#   GATEWAY_BIN (default target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
CODEX_VERSION=0.171.0
GATEWAY_BIN=${GATEWAY_BIN:-target/debug/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/debug/examples/mock_upstream}
if ! command -v npm >/dev/null; then
  echo "check-codex-native: npm is not installed; skipped"
  exit 0
fi
cli_dir=target/codex-cli
if [ ! -x "$cli_dir/node_modules/.bin/codex" ]; then
  mkdir -p "$cli_dir"
  npm install --prefix "$cli_dir" --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION" >/dev/null
fi
codex="$PWD/$cli_dir/node_modules/.bin/codex"
gateway="$PWD/$GATEWAY_BIN"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$MOCK_BIN" --port 0 --record > "$tmp/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$tmp/mock.out" && break; sleep 0.1; done
mock=$(sed -n 's/^listening on //p' "$tmp/mock.out")

# Two logins: the pool's account, and the CLI user's own (another ChatGPT account).
python3 - "$tmp" <<'PY'
import base64, json, os, sys, time
d = sys.argv[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
jwt = lambda p: f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(p).encode())}.sig"
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
def login(path, acct, tag):
    auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None,
            "tokens": {"id_token": jwt({"email": f"{tag}@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": acct, "chatgpt_plan_type": "pro"}}),
                       "access_token": jwt({"exp": int(time.time()) + 3600, "tag": tag}), "refresh_token": f"rt-{tag}", "account_id": acct},
            "last_refresh": now}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps(auth).encode())
    os.close(fd)
    with open(path + ".token", "w") as f:
        f.write(auth["tokens"]["access_token"])
login(os.path.join(d, "pool.json"), "acct-pool", "pool")
for mode in ("solo", "team"):
    login(os.path.join(d, mode, "codex-home", "auth.json"), "acct-user", "user")
PY

# run MODE: one gateway, one `codex exec`, then the checks.
run() {
  local mode=$1 port keys=""
  port=$(free_port)
  local dir="$tmp/$mode"
  [ "$mode" = team ] && keys=$'[[api_keys]]\nname = "teammate"\nkey = "sk-pool-teammate"\n'
  cat > "$dir/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[upstream]
base_url = "http://$mock/backend-api/codex"
issuer = "http://$mock"
[[accounts]]
name = "pool"
auth_file = "$tmp/pool.json"
$keys
[admin]
token = "admin-check"
TOML
  "$gateway" serve --config "$dir/gateway.toml" 2> "$dir/gateway.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  # The models list is fetched in the background at start.
  for _ in $(seq 50); do
    curl -fs -H "x-api-key: sk-pool-teammate" "http://127.0.0.1:$port/backend-api/codex/models" >/dev/null && break; sleep 0.1
  done
  CODEX_HOME="$dir/codex-home" "$gateway" codex-config --config "$dir/gateway.toml" --write > "$dir/codex-config.out"
  printf 'model = "gpt-5.4"\n' | cat - "$dir/codex-home/config.toml" > "$dir/c" && mv "$dir/c" "$dir/codex-home/config.toml"
  mkdir -p "$dir/work"
  set +e
  (cd "$dir/work" && CODEX_POOL_KEY=sk-pool-teammate CODEX_HOME="$dir/codex-home" RUST_LOG=warn \
    timeout 120 "$codex" exec --skip-git-repo-check "say hi" > "$dir/cli.out" 2> "$dir/cli.err")
  local status=$?
  set -e
  curl -fs -H "authorization: Bearer admin-check" "http://127.0.0.1:$port/admin/pool/activity" > "$dir/activity.json"
  curl -fs "http://$mock/mock/seen" > "$dir/seen.json"
  curl -fs "http://$mock/mock/ws" > "$dir/ws.json"
  local fail=0
  [ "$status" -eq 0 ] || { echo "FAIL [$mode] codex exec exited $status"; fail=1; }
  grep -q "The tool said:" "$dir/cli.out" || { echo "FAIL [$mode] the final answer did not quote the tool's output"; fail=1; }
  python3 - "$mode" "$dir" "$tmp" <<'PY' || fail=1
import json, sys
mode, d, tmp = sys.argv[1:]
seen = json.load(open(f"{d}/seen.json"))
frames = json.load(open(f"{d}/ws.json"))
user = json.load(open(f"{d}/codex-home/auth.json"))["tokens"]["access_token"]
pool = open(f"{tmp}/pool.json.token").read()
acts = json.load(open(f"{d}/activity.json"))["decisions"]
problems = []
served = [a for a in acts if a["route"] == "codex_ws" and a["served_by"] == "pool"]
want_key = "teammate" if mode == "team" else None
if len(served) < 2:
    problems.append(f"expected two model turns served on route codex_ws, saw {len(served)}")
if any(a.get("api_key") != want_key for a in served):
    problems.append(f"turns not accounted to client key {want_key}: {[a.get('api_key') for a in served]}")
posts = [s for s in seen if s["path"].endswith("/codex/responses")]
if posts:
    problems.append(f"the CLI fell back to HTTP: the mock saw {len(posts)} POST /responses")
turns = [f for f in frames if f["body"].get("type") == "response.create" and f["body"].get("generate") is not False]
if len(turns) < 2:
    problems.append(f"the mock saw {len(turns)} generating response.create frames on its WebSocket")
if not any(i.get("type") == "function_call_output" for f in turns for i in f["body"].get("input", [])):
    problems.append("no turn carried the tool's output back over the socket")
# A socket's handshake headers, once per socket, as the requests to check.
responses = list({f["socket"]: {"headers": f["headers"], "body": f["body"], "path": "/backend-api/codex/responses", "method": "GET"} for f in frames}.values())
for f in frames:
    h = f["headers"]
    blob = json.dumps(f)
    if user in blob or "acct-user" in blob or "sk-pool-teammate" in blob:
        problems.append("the caller's credentials reached upstream on its WebSocket")
    if h.get("authorization") != f"Bearer {pool}" or h.get("chatgpt-account-id") != "acct-pool":
        problems.append("the upstream socket does not carry the pool account's credentials")
    if h.get("openai-beta") != "responses_websockets=2026-02-06":
        problems.append(f"openai-beta = {h.get('openai-beta')!r}")
for s in seen:
    h = s["headers"]
    blob = json.dumps(s)
    if user in blob or "acct-user" in blob or "sk-pool-teammate" in blob:
        problems.append(f"the caller's credentials reached upstream: {s['method']} {s['path']}")
    if s["path"] not in ("/backend-api/codex/responses", "/backend-api/codex/models", "/backend-api/wham/usage"):
        problems.append(f"forwarded upstream: {s['method']} {s['path']}")
    if h.get("authorization") != f"Bearer {pool}" or h.get("chatgpt-account-id") != "acct-pool":
        problems.append(f"not the pool account's credentials: {s['path']}")
for s in responses:
    h = s["headers"]
    # A custom provider (team) sends no `version`: the gateway's own goes.
    for name, want in (("originator", "codex_exec"), ("version", "0.171.0" if mode == "solo" else h.get("version"))):
        if not h.get(name) or h.get(name) != want:
            problems.append(f"{name} = {h.get(name)!r}, expected {want!r}")
    for name in ("user-agent", "x-codex-window-id", "x-codex-turn-metadata", "session-id"):
        if not h.get(name):
            problems.append(f"identity header {name} not forwarded")
    if not h.get("user-agent", "").startswith("codex_exec/"):
        problems.append(f"user-agent {h.get('user-agent')!r}")
    if "content-encoding" in h or "x-codex-turn-state" in h:
        problems.append("a header that must not go upstream did")
    if not isinstance(s["body"].get("instructions"), str):
        problems.append("no instructions string upstream")
for p in problems:
    print(f"FAIL [{mode}] {p}")
sys.exit(1 if problems else 0)
PY
  # The CLI took the catalog the gateway served.
  grep -q '"gpt-5.4-mini"' "$dir/codex-home/models_cache.json" 2>/dev/null || { echo "FAIL [$mode] the CLI's models cache does not hold the gateway's catalog"; fail=1; }
  if [ "$mode" = team ]; then
    # A ChatGPT login alone is no client key.
    local user_token code
    user_token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"]["access_token"])' "$dir/codex-home/auth.json")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $user_token" -H "content-type: application/json" \
      -d '{"model":"gpt-5.4","input":"hi"}' "http://127.0.0.1:$port/backend-api/codex/responses")
    [ "$code" = 401 ] || { echo "FAIL [$mode] a request with only a ChatGPT login got $code, not 401"; fail=1; }
  fi
  grep -q "codex-pool-tool-ran" "$dir/cli.out" || { echo "FAIL [$mode] the shell tool's output is not in the answer"; fail=1; }
  # The CLI's own complaints about the surface (missing endpoints, catalog,
  # discovery, the WebSocket: it must keep it for the whole session).
  if grep -E " ERROR |workspace routing|[Mm]etadata|Unknown model|404|missing field|unexpected status|[Ff]alling back|[Ww]eb[Ss]ocket" "$dir/cli.err" \
      > "$dir/complaints"; then
    echo "FAIL [$mode] the CLI complained:"; cat "$dir/complaints"; fail=1
  fi
  if [ "$fail" -ne 0 ]; then
    echo "--- [$mode] codex config"; cat "$dir/codex-home/config.toml"
    echo "--- [$mode] codex stdout"; cat "$dir/cli.out"; echo "--- [$mode] codex stderr"; tail -40 "$dir/cli.err"
    echo "--- [$mode] gateway log"; tail -30 "$dir/gateway.log"
    exit 1
  fi
  echo "codex exec $CODEX_VERSION ($mode, ChatGPT-login mode): $(python3 -c 'import json,sys; print(sum(1 for a in json.load(open(sys.argv[1]))["decisions"] if a["route"]=="codex_ws"))' "$dir/activity.json") model turns through the pool over its WebSocket (no HTTP fallback), tool run by the client, no caller credential upstream"
  curl -fs -o /dev/null -X POST "http://$mock/mock/clear"
}

run solo
run team
