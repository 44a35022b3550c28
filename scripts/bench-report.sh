# Sourced by scripts/bench.sh after its measurements: renders the table with its targets and
# verdicts, and the notes, prints them, and writes them into BENCHMARKS.md between the
# bench.sh markers. Reads the variables and the M array bench.sh set.

# ------------------------------------------------------------------ the table
ms() { calc "%.3f" "$1"; }
yes_no() { if awk "BEGIN {exit !($1)}"; then echo "holds"; else echo "**misses**"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b <= 0) print "n/a"; else printf "%.1f×", a / b}'; }

table() {
  echo "| measurement | direct → mock | nginx → mock | gateway → mock | gateway − direct | gateway ÷ nginx overhead | target |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  local c t
  for c in 1 16 64; do
    local d n g tgt="" cell=()
    for t in direct nginx gateway; do cell+=("$(med rps $t $c) ($(spread rps $t $c))"); done
    d=$(med rps direct "$c") n=$(med rps nginx "$c") g=$(med rps gateway "$c")
    [[ $c == 64 ]] && tgt="≥ 70% of nginx: $(yes_no "$g >= 0.7 * $n") (holds in $(rounds_holding rps 64 'g >= 0.7 * n'))"
    echo "| non-stream chat, c=$c: requests/s | ${cell[0]} | ${cell[1]} | ${cell[2]} | $(calc "%+.0f" "$g - $d") | gateway = $(calc "%.0f" "100 * $g / $n")% of nginx | $tgt |"
    local q
    for q in p50 p99; do
      cell=()
      for t in direct nginx gateway; do cell+=("$(med "$q" $t $c) ($(spread "$q" $t $c))"); done
      d=$(med "$q" direct "$c") n=$(med "$q" nginx "$c") g=$(med "$q" gateway "$c")
      tgt=""
      if [[ $c == 1 && $q == p50 ]]; then tgt="added ≤ 0.15 ms: $(yes_no "$g - $d <= 0.15") (holds in $(rounds_holding p50 1 'g - d <= 0.15'))"; fi
      if [[ $c == 1 && $q == p99 ]]; then tgt="added ≤ 3× nginx's added: $(yes_no "$g - $d <= 3 * ($n - $d)") (holds in $(rounds_holding p99 1 'g - d <= 3 * (n - d)'))"; fi
      echo "| non-stream chat, c=$c: $q latency (ms) | ${cell[0]} | ${cell[1]} | ${cell[2]} | $(calc "%+.3f" "$g - $d") | $(ratio "$(calc "%.6f" "$g - $d")" "$(calc "%.6f" "$n - $d")") | $tgt |"
    done
  done
  echo "| streaming chat, c=1: time to first byte p50 (ms) | $td50 | | $tg50 | $(calc "%+.3f" "$tg50 - $td50") | | no regression (compare with the previous run) |"
  echo "| streaming chat, c=1: time to first byte p99 (ms) | $td99 | | $tg99 | $(calc "%+.3f" "$tg99 - $td99") | | |"
  echo "| gateway RSS idle (MB) | | | $(calc "%.1f" "$IDLE_RSS / 1024") | | | ≤ 20 MB: $(yes_no "$IDLE_RSS <= 20 * 1024") |"
  echo "| gateway RSS before → during $STREAMS held streams (MB) | | | $(calc "%.1f" "$HOLD_BEFORE / 1024") → $(calc "%.1f" "$HOLD_DURING / 1024") | | | |"
  local per
  per=$(calc "%.1f" "($HOLD_DURING - $HOLD_BEFORE) / $STREAMS")
  echo "| gateway RSS per held stream (KB) | | | $per | | | ≤ 64 KB: $(yes_no "$per <= 64") |"
  echo "| gateway binary size (MB) | | | $(calc "%.1f" "$BIN_SIZE / 1048576") | | | |"
}

notes() {
  cat <<EOF
Notes:
- direct → mock and nginx → mock POST the Responses body the gateway would send straight to the
  mock's \`/backend-api/codex/responses\` (\`stream: true\`, the only mode the mock speaks) and get
  its SSE stream back unaggregated ($DIRECT_BYTES bytes, $DIRECT_EVENTS events); gateway → mock POSTs
  \`/v1/chat/completions\` with \`stream: false\`, so the gateway also translates the request,
  parses every event and aggregates them into one \`chat.completion\` ($GW_BYTES bytes).
  Overhead = gateway − direct; the second-last column divides it by nginx − direct (what a
  plain reverse proxy adds), or compares throughput with nginx's.
- wrk ($DURATION s per cell, 1 thread at c=1, 2 threads above), keep-alive connections; latency
  is to the last byte of the response. Every cell ran $ROUNDS times, the rounds interleaved
  (direct, nginx, gateway at c=1, 16, 64, then again); each shows the median and, in brackets,
  the min–max over the rounds. Verdicts are on the medians; "holds in k of $ROUNDS rounds"
  judges each round on its own. Everything (wrk, nginx, gateway, mock) shares the same
  $(nproc) cores, so throughput is bounded by the machine, not by one process.
- Time to first byte: $TTFB_N sequential \`stream: true\` requests on one keep-alive connection
  (curl \`time_starttransfer\`); the gateway sends its headers once upstream's first output event
  is in (it can still fail over before that), the mock as soon as it answers.
- Held streams: $STREAMS concurrent streamed chats (wrk -c$STREAMS) against a second gateway whose
  mock sends one event a second; sampled after 9 s (inflight gauge: ${HELD:-?},
  established client connections: ${CLIENT_CONNS:-?}). "Before" is after one warm-up request.
  RSS is VmRSS from /proc/PID/status. Binary: target/release/codex-pool as built (not stripped).
- Load average before the run: $LOAD_BEFORE (other work on the machine adds noise). The fast
  mock's RSS at the end: $(calc "%.0f" "$MOCK_RSS / 1024") MB.
- Failed requests (connect/read errors or non-2xx) across all wrk runs: $FAILED.
EOF
}

TABLE=$(table)
NOTES=$(notes)
printf '\n%s\n\n%s\n' "$TABLE" "$NOTES"

MACHINE="$(nproc) cores, $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
SECTION=$(
  cat <<EOF
<!-- bench.sh:begin (written by scripts/bench.sh; edit outside these markers) -->
## Load benchmark

- Command: \`bash scripts/bench.sh\` (DURATION=$DURATION ROUNDS=$ROUNDS STREAMS=$STREAMS TTFB_N=$TTFB_N, $PROFILE build)
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo "?")$(git diff --quiet HEAD -- src 2>/dev/null || echo " with uncommitted changes in src/")
- Machine: $MACHINE; $(uname -sr); $(rustc --version); $(nginx -v 2>&1 | sed 's,.*/,nginx ,'); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)

$TABLE

$NOTES
<!-- bench.sh:end -->
EOF
)
# The section between the markers is replaced; the rest of the file is kept.
printf '%s\n' "$SECTION" >"$tmp/section.md"
OUT=$ROOT/BENCHMARKS.md
if [[ -n ${BENCH_GATEWAY:-} ]]; then
  log "BENCH_GATEWAY is set: BENCHMARKS.md left as it is"
  exit 0
fi
if [[ -f $OUT ]] && grep -q '^<!-- bench.sh:begin' "$OUT"; then
  awk -v section="$tmp/section.md" '
    /^<!-- bench.sh:begin/ {while ((getline line < section) > 0) print line; skip = 1; next}
    /^<!-- bench.sh:end/ {skip = 0; next}
    !skip {print}' "$OUT" >"$tmp/BENCHMARKS.md"
  cat "$tmp/BENCHMARKS.md" >"$OUT"
elif [[ -f $OUT ]]; then
  printf '\n' >>"$OUT"
  cat "$tmp/section.md" >>"$OUT"
else
  { printf '# Benchmarks\n\n'; cat "$tmp/section.md"; } >"$OUT"
fi
log "written into BENCHMARKS.md"
