#!/usr/bin/env bash
# The official Codex CLI (npm @openai/codex, pinned) as a Responses client of the
# gateway: `codex exec` against `codex-pool serve` in front of the mock upstream.
# The mock answers the first turn with a call of the CLI's first function tool;
# the CLI runs its own tool locally and sends the output back; the second turn's
# answer quotes it. Loopback only.
#   GATEWAY_BIN (default target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
CODEX_VERSION=0.171.0
GATEWAY_BIN=${GATEWAY_BIN:-target/debug/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/debug/examples/mock_upstream}
if ! command -v npm >/dev/null; then
  echo "check-codex-cli: npm is not installed; skipped"
  exit 0
fi
cli_dir=target/codex-cli
if [ ! -x "$cli_dir/node_modules/.bin/codex" ]; then
  mkdir -p "$cli_dir"
  npm install --prefix "$cli_dir" --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION" >/dev/null
fi
codex="$PWD/$cli_dir/node_modules/.bin/codex"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$MOCK_BIN" --port 0 > "$tmp/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$tmp/mock.out" && break; sleep 0.1; done
mock=$(sed -n 's/^listening on //p' "$tmp/mock.out")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

python3 - "$tmp" <<'PY'
import base64, json, os, sys, time
d = sys.argv[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
jwt = lambda p: f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(p).encode())}.sig"
auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None,
        "tokens": {"id_token": jwt({"email": "cli@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-cli", "chatgpt_plan_type": "pro"}}),
                   "access_token": jwt({"exp": int(time.time()) + 3600}), "refresh_token": "rt-cli", "account_id": "acct-cli"},
        "last_refresh": "2026-11-01T00:00:00Z"}
fd = os.open(os.path.join(d, "acct.json"), os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, json.dumps(auth).encode())
os.close(fd)
PY
cat > "$tmp/config.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[upstream]
base_url = "http://$mock/backend-api/codex"
issuer = "http://$mock"
[[accounts]]
name = "cli"
auth_file = "acct.json"
[[api_keys]]
name = "codex-cli"
key = "sk-codex-cli-check"
[admin]
token = "admin-check"
TOML
mkdir -p "$tmp/codex-home"
cat > "$tmp/codex-home/config.toml" <<TOML
model = "gpt-5.4"
model_provider = "pool"
[model_providers.pool]
name = "codex-pool"
base_url = "http://127.0.0.1:$port/v1"
wire_api = "responses"
env_key = "POOL_KEY"
TOML

"$GATEWAY_BIN" serve --config "$tmp/config.toml" 2> "$tmp/gateway.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

mkdir -p "$tmp/work"
set +e
(cd "$tmp/work" && POOL_KEY=sk-codex-cli-check CODEX_HOME="$tmp/codex-home" \
  timeout 120 "$codex" exec --skip-git-repo-check "say hi" > "$tmp/cli.out" 2> "$tmp/cli.err")
status=$?
set -e
activity=$(curl -fs -H "authorization: Bearer admin-check" "http://127.0.0.1:$port/admin/pool/activity")
served=$(printf '%s' "$activity" | python3 -c 'import json,sys; d=json.load(sys.stdin)["decisions"]; print(sum(1 for x in d if x["route"]=="responses" and x["served_by"]=="cli" and x["api_key"]=="codex-cli"))')

fail=0
[ "$status" -eq 0 ] || { echo "FAIL codex exec exited $status"; fail=1; }
grep -q "The tool said:" "$tmp/cli.out" || { echo "FAIL the final answer did not quote the tool's output"; fail=1; }
[ "$served" -ge 2 ] || { echo "FAIL expected two Responses turns served by the pool, saw $served"; fail=1; }
if [ "$fail" -ne 0 ]; then
  echo "--- codex stdout"; cat "$tmp/cli.out"; echo "--- codex stderr"; tail -30 "$tmp/cli.err"
  echo "--- gateway log"; tail -30 "$tmp/gateway.log"
  exit 1
fi
echo "codex exec $CODEX_VERSION: $served Responses turns through the gateway, tool call relayed and run by the client"
