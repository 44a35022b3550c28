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
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
[ -x "$CHROMIUM" ] || { echo "$SCRIPT: $CHROMIUM is not installed; skipped"; exit 0; }
npm_tool console-check "playwright-core@$PLAYWRIGHT_VERSION" playwright-core
dir=target/console-check

start_mock mock
write_login "$tmp/work.json" work
write_login "$tmp/home.json" home
cat > "$tmp/config.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[upstream]
base_url = "http://$MOCK_ADDR/backend-api/codex"
issuer = "http://$MOCK_ADDR"
[pool]
usage_probe_interval = "10m"
[admin]
token = "$ADMIN_TOKEN"
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
start_gateway gateway "$tmp/config.toml"
# One request with the configured key, so the charts have two keys.
curl -fsS "$GW_URL/v1/chat/completions" -H "authorization: Bearer sk-console-check-ci-0123456789" \
  -H 'content-type: application/json' -d '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}' >/dev/null

shots=docs
[ "${CONSOLE_SHOTS:-1}" = 0 ] && shots="$tmp"
ok=0
NODE_PATH="$PWD/$dir/node_modules" CHROMIUM="$CHROMIUM" GATEWAY="$GW_URL" ADMIN="$ADMIN_TOKEN" \
  SHOTS="$shots" PROFILE="$tmp/profile" node scripts/console/check.cjs || ok=$?
# Nothing the gateway logged carries the admin token or a key.
if grep -q -e "$ADMIN_TOKEN" -e "sk-pool-" -e "sk-console-check" "$tmp/gateway.log" "$tmp/access.log"; then
  echo "check-console: a token or key reached a log"; ok=1
fi
if [ "$ok" != 0 ]; then
  echo "--- gateway log"; tail -n 40 "$tmp/gateway.log"
  exit 1
fi
echo "check-console: ok"
