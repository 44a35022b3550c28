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
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
npm_tool claude-code "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" claude
claude=$TOOL

mkdir -p "$tmp/work" "$tmp/home"
target_file="$tmp/work/made-by-claude-code.txt"
start_mock mock --bash-command "touch $target_file && echo created-ok"
one_account_config "$tmp/config.toml" cc claude-code sk-claude-code-check
start_gateway gateway "$tmp/config.toml"

set +e
(cd "$tmp/work" && env -u ANTHROPIC_API_KEY HOME="$tmp/home" \
  ANTHROPIC_BASE_URL="$GW_URL" ANTHROPIC_AUTH_TOKEN=sk-claude-code-check \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
  DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1 \
  timeout 180 "$claude" -p "Create the file made-by-claude-code.txt here with the Bash tool." \
    --allowedTools Bash --output-format text > "$tmp/cli.out" 2> "$tmp/cli.err")
status=$?
set -e
served=$(served_count messages cc claude-code)

fail=0
[ "$status" -eq 0 ] || { echo "FAIL claude -p exited $status"; fail=1; }
[ -e "$target_file" ] || { echo "FAIL the Bash tool call did not create $target_file"; fail=1; }
grep -q "The tool said:.*created-ok" "$tmp/cli.out" || { echo "FAIL the final answer did not quote the tool's output"; fail=1; }
[ "$served" -ge 2 ] || { echo "FAIL expected at least two Messages turns served by the pool, saw $served"; fail=1; }
[ "$fail" -eq 0 ] || client_failed claude
echo "claude -p $CLAUDE_CODE_VERSION: $served Messages turns through the gateway, Bash tool call relayed and run by the client"
