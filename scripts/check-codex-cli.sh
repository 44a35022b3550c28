#!/usr/bin/env bash
# The official Codex CLI (npm @openai/codex, pinned) as a Responses client of the
# gateway: `codex exec` against `codex-pool serve` in front of the mock upstream.
# The mock answers the first turn with a call of the CLI's first function tool;
# the CLI runs its own tool locally and sends the output back; the second turn's
# answer quotes it. Loopback only.
#   GATEWAY_BIN (default target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream)
set -euo pipefail
cd "$(dirname "$0")/.."
CODEX_VERSION=0.169.0
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
npm_tool codex-cli "@openai/codex@$CODEX_VERSION" codex
codex=$TOOL

start_mock mock
one_account_config "$tmp/config.toml" cli codex-cli sk-codex-cli-check
start_gateway gateway "$tmp/config.toml"
mkdir -p "$tmp/codex-home" "$tmp/work"
cat > "$tmp/codex-home/config.toml" <<TOML
model = "gpt-5.4"
model_provider = "pool"
[model_providers.pool]
name = "codex-pool"
base_url = "$GW_URL/v1"
wire_api = "responses"
env_key = "POOL_KEY"
TOML

set +e
(cd "$tmp/work" && POOL_KEY=sk-codex-cli-check CODEX_HOME="$tmp/codex-home" \
  timeout 120 "$codex" exec --skip-git-repo-check "say hi" > "$tmp/cli.out" 2> "$tmp/cli.err")
status=$?
set -e
served=$(served_count responses cli codex-cli)

fail=0
[ "$status" -eq 0 ] || { echo "FAIL codex exec exited $status"; fail=1; }
grep -q "The tool said:" "$tmp/cli.out" || { echo "FAIL the final answer did not quote the tool's output"; fail=1; }
[ "$served" -ge 2 ] || { echo "FAIL expected two Responses turns served by the pool, saw $served"; fail=1; }
[ "$fail" -eq 0 ] || client_failed codex
echo "codex exec $CODEX_VERSION: $served Responses turns through the gateway, tool call relayed and run by the client"
