#!/usr/bin/env bash
# Instructions and allocations per request, per route, under callgrind (BENCHMARKS.md,
# "Performance step 2"). Counts, not times: stable on a busy machine.
#
#   bash benches/callgrind.sh [SCENARIO...]    (default: all of them)
#
# Scenarios: chat (non-stream chat completion), chat-stream, messages (non-stream),
# messages-stream, responses (non-stream: the aggregated answer), responses-stream.
# For each, the release gateway runs under `valgrind --tool=callgrind --instr-atstart=no`
# in front of the fast mock (2 text deltas); WARM requests go through uninstrumented,
# then instrumentation is switched on for N sequential requests on one keep-alive
# connection (one curl), the counts are dumped and divided by N.
# Allocations are the calls into malloc/calloc/realloc (and memalign) in that dump.
#
# Env: N (requests counted, 200), WARM (5), USAGE=1 (keep the usage rollups on disk),
#      GATEWAY_BIN / MOCK_BIN (release builds),
#      OUT (folder for the callgrind files, a temp folder).
# Needs: valgrind, curl, python3, release builds of the gateway and the mock
# (cargo build --release --bin codex-pool --example mock_upstream).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCRIPT=callgrind
GATEWAY_BIN=${GATEWAY_BIN:-target/release/codex-pool}
MOCK_BIN=${MOCK_BIN:-target/release/examples/mock_upstream}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
N=${N:-200}
WARM=${WARM:-5}
OUT=${OUT:-$tmp}
mkdir -p "$OUT"
command -v valgrind >/dev/null || die "valgrind is not on PATH"

start_mock mock
dir=$tmp/gw
mkdir -p "$dir"
write_login "$dir/bench.json" bench 86400
cat >"$dir/config.toml" <<EOF
[server]
listen = "127.0.0.1:0"
shutdown_grace = "1s"

[upstream]
base_url = "http://$MOCK_ADDR/backend-api/codex"
issuer = "http://$MOCK_ADDR"
idle_timeout = "120s"

[[accounts]]
name = "bench"
auth_file = "bench.json"
EOF
# The usage rollups' SQLite writes run in batches whose count in a window depends on
# timing (about a quarter of the instructions until the cached statement and the
# writer's 250 ms batches, ≈ 1% since; BENCHMARKS.md): off unless USAGE=1, so that a
# change's counts compare.
if [[ ${USAGE:-0} != 1 ]]; then
  printf '\n[usage]\nenabled = false\n' >>"$dir/config.toml"
fi

MSG='What is the capital of France?'
body() {
  local stream=$1
  case $2 in
    chat) printf '{"model":"gpt-5.4","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"%s"}],"stream":%s}' "$MSG" "$stream" ;;
    messages) printf '{"model":"gpt-5.4","max_tokens":256,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"%s"}],"stream":%s}' "$MSG" "$stream" ;;
    responses) printf '{"model":"gpt-5.4","instructions":"You are a helpful assistant.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"%s"}]}],"stream":%s}' "$MSG" "$stream" ;;
  esac
}

# run COUNT URL BODY: COUNT sequential requests on one keep-alive connection (one curl,
# one URL per request); fails unless every answer is a 200.
run() {
  local n=$1 cfg=$tmp/urls.cfg codes ok
  : >"$cfg"
  for ((i = 0; i < n; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$2" >>"$cfg"; done
  codes=$(curl -s -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    --data-binary @"$3" -w '%{http_code}\n' -K "$cfg") || true
  ok=$(grep -c '^200$' <<<"$codes" || true)
  ((ok == n)) || die "$((n - ok)) of $n requests failed: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
  echo "$n"
}

# summarize FILE N: instructions and allocations per request. The models catalog's
# periodic refresh (background::models_loop, a few million instructions whenever it
# runs) is taken out: it does not depend on the requests, and when it falls inside
# the window it is most of the spread between runs.
summarize() {
  local periodic
  periodic=$(callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk '/codex_pool::background::models_loop::\{\{closure\}\}/ {gsub(",", "", $1); s += $1} END {print s + 0}')
  python3 - "$1" "$2" "$periodic" <<'EOF'
import re, sys
path, n, periodic = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names, total, allocs, cur = {}, 0, 0, None
alloc_fns = ("malloc", "calloc", "realloc", "memalign", "posix_memalign", "aligned_alloc")
for line in open(path, errors="replace"):
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
    m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3).strip()
        if m.group(1):
            cur = names.get(m.group(2), "")
        continue
    if line.startswith("calls=") and cur is not None:
        if cur in alloc_fns:
            allocs += int(line.split()[0][6:])
        cur = None
note = f" (catalog refresh taken out: {periodic / 1000:.0f} K)" if periodic else ""
print(f"{(total - periodic) / n / 1000:.1f} K instructions, {allocs / n:.1f} allocations per request{note}")
EOF
}

scenarios=("$@")
((${#scenarios[@]})) || scenarios=(chat chat-stream messages messages-stream responses responses-stream)
for s in "${scenarios[@]}"; do
  route=${s%-stream}
  stream=false
  [[ $s == *-stream ]] && stream=true
  body "$stream" "$route" >"$tmp/$s.json"
  case $route in
    chat) path=/v1/chat/completions ;;
    messages) path=/v1/messages ;;
    responses) path=/v1/responses ;;
    *) die "unknown scenario $s" ;;
  esac
  cg=$OUT/callgrind.$s.out
  rm -f "$cg"*
  RUST_LOG=info start_bg "gw-$s" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$cg" "$(realpath "$GATEWAY_BIN")" serve --config "$dir/config.toml"
  pid=$BG_PID
  wait_for "gateway under valgrind" 120 "$pid" grep -q 'codex-pool listening on http://' "$tmp/gw-$s.log"
  addr=$(sed -n 's,.*codex-pool listening on http://\([0-9.]*:[0-9]*\).*,\1,p' "$tmp/gw-$s.log" | head -n1)
  run "$WARM" "http://$addr$path" "$tmp/$s.json" >/dev/null
  callgrind_control -i on "$pid" >/dev/null 2>&1
  got=$(run "$N" "http://$addr$path" "$tmp/$s.json")
  callgrind_control -d "$pid" >/dev/null 2>&1
  callgrind_control -i off "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  part=$(ls "$cg".* 2>/dev/null | head -n1)
  [[ -n $part ]] || die "no callgrind dump for $s"
  printf '%-17s %4d requests: %s\n' "$s" "$got" "$(summarize "$part" "$got")"
done
