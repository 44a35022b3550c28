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
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
npm_tool codex-cli "@openai/codex@$CODEX_VERSION" codex
codex=$TOOL

start_mock mock --record
mock=$MOCK_ADDR
# Two logins: the pool's account, and the CLI user's own (another ChatGPT account).
write_login "$tmp/pool.json" acct-pool
for mode in solo team; do
  write_login "$tmp/$mode/codex-home/auth.json" acct-user
done

# run MODE: one gateway, one `codex exec`, then the checks.
run() {
  local mode=$1 keys=""
  local dir="$tmp/$mode"
  [ "$mode" = team ] && keys=$'[[api_keys]]\nname = "teammate"\nkey = "sk-pool-teammate"\n'
  cat > "$dir/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[upstream]
base_url = "http://$mock/backend-api/codex"
issuer = "http://$mock"
[[accounts]]
name = "pool"
auth_file = "$tmp/pool.json"
$keys
[admin]
token = "$ADMIN_TOKEN"
TOML
  start_gateway "$mode/gateway" "$dir/gateway.toml"
  # The models list is fetched in the background at start.
  wait_for "[$mode] the models list" 10 "$GW_PID" \
    curl -fsS -H "x-api-key: sk-pool-teammate" "$GW_URL/backend-api/codex/models"
  CODEX_HOME="$dir/codex-home" "$GATEWAY_BIN" codex-config --config "$dir/gateway.toml" --url "$GW_URL" --write > "$dir/codex-config.out"
  printf 'model = "gpt-5.4"\n' | cat - "$dir/codex-home/config.toml" > "$dir/c" && mv "$dir/c" "$dir/codex-home/config.toml"
  mkdir -p "$dir/work"
  set +e
  (cd "$dir/work" && CODEX_POOL_KEY=sk-pool-teammate CODEX_HOME="$dir/codex-home" RUST_LOG=warn \
    timeout 120 "$codex" exec --skip-git-repo-check "say hi" > "$dir/cli.out" 2> "$dir/cli.err")
  local status=$?
  set -e
  curl -fsS -H "authorization: Bearer $ADMIN_TOKEN" "$GW_URL/admin/pool/activity" > "$dir/activity.json"
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
pool = json.load(open(f"{tmp}/pool.json"))["tokens"]["access_token"]
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
      -d '{"model":"gpt-5.4","input":"hi"}' "$GW_URL/backend-api/codex/responses")
    [ "$code" = 401 ] || { echo "FAIL [$mode] a request with only a ChatGPT login got $code, not 401"; fail=1; }
  fi
  grep -q "codex-pool-tool-ran" "$dir/cli.out" || { echo "FAIL [$mode] the shell tool's output is not in the answer"; fail=1; }
  # The CLI's own complaints about the surface (missing endpoints, catalog,
  # discovery, the WebSocket: it must keep it for the whole session). A 404
  # counts as a word, not the digits inside a log line's timestamp.
  if grep -E " ERROR |workspace routing|[Mm]etadata|Unknown model|(^|[^0-9A-Za-z.])404([^0-9]|$)|missing field|unexpected status|[Ff]alling back|[Ww]eb[Ss]ocket" "$dir/cli.err" \
      > "$dir/complaints"; then
    echo "FAIL [$mode] the CLI complained:"; cat "$dir/complaints"; fail=1
  fi
  # Nothing the CLI asked of the backend surface went unanswered: the gateway
  # logs each path it does not serve (404) once.
  if grep -F "does not serve (404" "$dir/gateway.log" > "$dir/unserved"; then
    echo "FAIL [$mode] the CLI asked for backend paths the gateway does not serve:"; cat "$dir/unserved"; fail=1
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
