#!/usr/bin/env bash
# Claude Code (npm @anthropic-ai/claude-code, pinned) as an Anthropic Messages
# client of the gateway: `claude -p` against `codex-pool serve` in front of the
# mock upstream, configured only by ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN.
# The mock (--bash-command) answers the first turn with a call of Claude Code's
# Bash tool that creates a file; Claude Code runs it locally and sends the
# output back; the next turn's answer quotes it. Asserts the file exists, the
# answer quotes the tool output, and the pool served the turns on the
# `messages` route with the client key. Loopback only: nonessential traffic
# and telemetry are off, HOME is a throwaway folder.
#   GATEWAY_BIN (default target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
CLAUDE_CODE_VERSION=2.1.332
GATEWAY_BIN=${GATEWAY_BIN:-target/debug/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/debug/examples/mock_upstream}
if ! command -v npm >/dev/null; then
  echo "check-claude-code: npm is not installed; skipped"
  exit 0
fi
cli_dir=target/claude-code
if [ ! -x "$cli_dir/node_modules/.bin/claude" ]; then
  mkdir -p "$cli_dir"
  npm install --prefix "$cli_dir" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >/dev/null
fi
claude="$PWD/$cli_dir/node_modules/.bin/claude"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/work" "$tmp/home"
target_file="$tmp/work/made-by-claude-code.txt"
"$MOCK_BIN" --port 0 --bash-command "touch $target_file && echo created-ok" > "$tmp/mock.out" 2>&1 &
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
        "tokens": {"id_token": jwt({"email": "cc@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-cc", "chatgpt_plan_type": "pro"}}),
                   "access_token": jwt({"exp": int(time.time()) + 3600}), "refresh_token": "rt-cc", "account_id": "acct-cc"},
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
name = "cc"
auth_file = "acct.json"
[[api_keys]]
name = "claude-code"
key = "sk-claude-code-check"
[admin]
token = "admin-check"
TOML

"$GATEWAY_BIN" serve --config "$tmp/config.toml" 2> "$tmp/gateway.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

set +e
(cd "$tmp/work" && env -u ANTHROPIC_API_KEY HOME="$tmp/home" \
  ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_AUTH_TOKEN=sk-claude-code-check \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
  DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1 \
  timeout 180 "$claude" -p "Create the file made-by-claude-code.txt here with the Bash tool." \
    --allowedTools Bash --output-format text > "$tmp/cli.out" 2> "$tmp/cli.err")
status=$?
set -e
activity=$(curl -fs -H "authorization: Bearer admin-check" "http://127.0.0.1:$port/admin/pool/activity")
served=$(printf '%s' "$activity" | python3 -c 'import json,sys; d=json.load(sys.stdin)["decisions"]; print(sum(1 for x in d if x["route"]=="messages" and x["served_by"]=="cc" and x["api_key"]=="claude-code"))')

fail=0
[ "$status" -eq 0 ] || { echo "FAIL claude -p exited $status"; fail=1; }
[ -e "$target_file" ] || { echo "FAIL the Bash tool call did not create $target_file"; fail=1; }
grep -q "The tool said:.*created-ok" "$tmp/cli.out" || { echo "FAIL the final answer did not quote the tool's output"; fail=1; }
[ "$served" -ge 2 ] || { echo "FAIL expected at least two Messages turns served by the pool, saw $served"; fail=1; }
if [ "$fail" -ne 0 ]; then
  echo "--- claude stdout"; cat "$tmp/cli.out"; echo "--- claude stderr"; tail -30 "$tmp/cli.err"
  echo "--- gateway log"; tail -30 "$tmp/gateway.log"
  exit 1
fi
echo "claude -p $CLAUDE_CODE_VERSION: $served Messages turns through the gateway, Bash tool call relayed and run by the client"
