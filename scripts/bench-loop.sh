#!/usr/bin/env bash
# The 20-turn tool loop behind BENCHMARKS.md, "Performance step 2: HTTP
# conversations on upstream sockets": HTTP chat completions and /v1/responses
# through a gateway with upstream.bridge_http off and one with it on, beside a
# WebSocket client through the gateway and both transports straight to the
# mock upstream. Prints bytes sent upstream per turn and the latency per turn
# (median) and what the gateway adds to it. Loopback only; the mock and the
# gateways run in the test process (tests/it/bridge/bench.rs).
#
#   bash scripts/bench-loop.sh            # release build (slow to build, honest numbers)
#   bash scripts/bench-loop.sh --debug    # debug build (quick to build, overstates JSON work)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=()
fi
exec cargo test "${profile[@]}" --test it bridge::bench -- --ignored --nocapture
