#!/usr/bin/env bash
# The console in a real browser: Debian's chromium driven by playwright-core
# (npm, pinned, installed into target/) against `codex-pool serve` in front of
# the mock upstream and issuer (two accounts). Checks: without the token only
# the login shows; with it both accounts and their quota windows; a key made
# on the page and a request made with it show in Usage and Activity; a
# device-code login from the page adds an account. Screenshots go to
# docs/console-*.png (CONSOLE_SHOTS=0 skips writing them). Loopback only.
#   GATEWAY_BIN (default target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYWRIGHT_VERSION=1.65.2
GATEWAY_BIN=${GATEWAY_BIN:-target/debug/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/debug/examples/mock_upstream}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if ! command -v npm >/dev/null || [ ! -x "$CHROMIUM" ]; then
  echo "check-console: npm or $CHROMIUM is missing; skipped"
  exit 0
fi
dir=target/console-check
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi

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
for name, email in (("work", "work@example.com"), ("home", "home@example.com")):
    auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None,
            "tokens": {"id_token": jwt({"email": email, "https://api.openai.com/auth": {"chatgpt_account_id": "acct-" + name, "chatgpt_plan_type": "pro"}}),
                       "access_token": jwt({"exp": int(time.time()) + 3600}), "refresh_token": "rt-" + name, "account_id": "acct-" + name},
            "last_refresh": "2026-11-01T00:00:00Z"}
    fd = os.open(os.path.join(d, name + ".json"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps(auth).encode())
    os.close(fd)
PY
ADMIN=adm-console-check-0123456789
cat > "$tmp/config.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[upstream]
base_url = "http://$mock/backend-api/codex"
issuer = "http://$mock"
[pool]
usage_probe_interval = "10m"
[admin]
token = "$ADMIN"
[log]
access = "access.log"
[[accounts]]
name = "work"
auth_file = "work.json"
[[accounts]]
name = "home"
auth_file = "home.json"
[[api_keys]]
name = "ci"
key = "sk-console-check-ci-0123456789"
TOML
chmod 600 "$tmp/config.toml"

"$GATEWAY_BIN" serve --config "$tmp/config.toml" 2> "$tmp/gateway.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# One request with the configured key, so the charts have two keys.
curl -fs "http://127.0.0.1:$port/v1/chat/completions" -H "authorization: Bearer sk-console-check-ci-0123456789" \
  -H 'content-type: application/json' -d '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}' >/dev/null

shots=docs
[ "${CONSOLE_SHOTS:-1}" = 0 ] && shots="$tmp"
ok=0
NODE_PATH="$PWD/$dir/node_modules" CHROMIUM="$CHROMIUM" GATEWAY="http://127.0.0.1:$port" ADMIN="$ADMIN" \
  SHOTS="$shots" PROFILE="$tmp/profile" node scripts/console/check.cjs || ok=$?
# Nothing the gateway logged carries the admin token or a key.
if grep -q -e "$ADMIN" -e "sk-pool-" -e "sk-console-check" "$tmp/gateway.log" "$tmp/access.log"; then
  echo "check-console: a token or key reached a log"; ok=1
fi
if [ "$ok" != 0 ]; then
  echo "--- gateway log"; tail -n 40 "$tmp/gateway.log"
  exit 1
fi
echo "check-console: ok"
