#!/usr/bin/env bash
# A seeded soak test with faults (examples/soak): two replicas of the real
# binary on one redis-server and the mock upstream, steady chat / responses /
# messages traffic with streams, faults on a seeded schedule (upstream 429,
# 5xx, a hung answer, cut streams, token refreshes and short-lived tokens,
# Redis restarted with and without its data, auth files made read-only, a
# replica restarted, a config reload). Prints the invariants as a table and
# exits 1 when one does not hold.
#
#   scripts/soak.sh [--short | --long] [--seed N] [--duration SECS] [--fault-every SECS] [--out FILE]
#
# --short (the default): 150 s, a fault every 8 s (CI). --long: 30 min, a fault
# every 20 s. The same seed gives the same schedule and traffic mix.
# Needs redis-server and chattr (root, for read-only auth folders).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

args=(--duration 150 --fault-every 8)
rest=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --short) args=(--duration 150 --fault-every 8) ;;
    --long) args=(--duration 1800 --fault-every 20) ;;
    *) rest+=("$1") ;;
  esac
  shift
done
command -v redis-server >/dev/null || { echo "soak: redis-server is not on PATH (apt-get install redis-server)" >&2; exit 2; }
BIN=${GATEWAY_BIN:-}
if [[ -z $BIN ]]; then
  cargo build -q --bin codex-pool --example soak
  BIN=target/debug/codex-pool
else
  cargo build -q --example soak
fi
exec target/debug/examples/soak --bin "$BIN" "${args[@]}" ${rest[@]+"${rest[@]}"}
