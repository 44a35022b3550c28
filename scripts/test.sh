#!/usr/bin/env bash
# The test command: every test (`cargo test`, the shared-store tests included) on a
# machine that has only the Rust toolchain. First installs what cargo cannot provide:
# redis-server (the store tests start their own, on loopback), with apt-get when run as
# root or with passwordless sudo; otherwise it says in one line how, and fails.
# Arguments go to `cargo test` (scripts/test.sh --test it refresh).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi
}

install_redis() {
  local how="install redis-server (Debian/Ubuntu: apt-get install redis-server) and run scripts/test.sh again"
  if [[ $(id -u) != 0 ]] && ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
    echo "scripts/test.sh: the store tests need redis-server: $how" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "scripts/test.sh: the store tests need redis-server, and there is no apt-get here: $how" >&2
    exit 1
  fi
  echo "== installing redis-server (the store tests start their own)" >&2
  # The package only: its service must not start here (policy-rc.d says no).
  local policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null ||
    rc=$?
  [[ -z $policy ]] || as_root rm -f "$policy"
  ((rc == 0)) || { echo "scripts/test.sh: apt-get could not install redis-server: $how" >&2; exit 1; }
}

command -v redis-server >/dev/null || install_redis
exec cargo test "$@"
