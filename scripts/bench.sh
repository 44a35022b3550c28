#!/usr/bin/env bash
# Load benchmark of the gateway, on loopback only, in one command:
#
#   scripts/bench.sh            full run (about 3 minutes after the build); prints one
#                               markdown table and writes it into BENCHMARKS.md
#   scripts/bench.sh --smoke    the smallest scenario (a few seconds after the build):
#                               concurrency 1 for 2 s against the mock and the gateway;
#                               exits non-zero if the gateway fails a request (CI runs it)
#
# What runs (release builds, each on 127.0.0.1, every process stopped on exit):
#   - the mock upstream (examples/mock_upstream): a fast one (2 text deltas, no delay) and,
#     for the held-streams test, a slow one (one event per second);
#   - the gateway (`codex-pool serve`), one account whose auth.json points at the mock;
#   - nginx (Debian package, not in --smoke) in front of the fast mock: the yardstick for
#     what a plain reverse proxy adds (proxy_buffering off, HTTP/1.1 keepalive upstream).
# Load comes from wrk (Debian package; --smoke falls back to curl without it).
#
# Env: DURATION (seconds per wrk run, 5), ROUNDS (repeats of every wrk cell, interleaved, 3;
#      the table shows the median and the min–max spread), STREAMS (held streams, 1000),
#      TTFB_N (requests per time-to-first-byte sample, 200), KEEP_TMP=1 (keep configs, logs),
#      BENCH_PROFILE=dev (use debug binaries instead of building release ones),
#      BENCH_GATEWAY=PATH (measure that gateway binary; it is not written into BENCHMARKS.md).
# Needs: cargo, curl; wrk and nginx for the full run (apt-get install -y wrk nginx).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SMOKE=0
case "${1:-}" in
  --smoke) SMOKE=1 ;;
  "") ;;
  -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/bench.sh [--smoke]" >&2; exit 2 ;;
esac
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-1000}
TTFB_N=${TTFB_N:-200}
# BENCH_PROFILE=dev reuses a debug build (e.g. CI's, for --smoke); numbers then mean little.
PROFILE=${BENCH_PROFILE:-release}
case $PROFILE in
  release) BUILD_FLAGS=(--release) OUT_DIR=release ;;
  dev) BUILD_FLAGS=() OUT_DIR=debug ;;
  *) echo "bench: BENCH_PROFILE must be release or dev" >&2; exit 2 ;;
esac
# BENCH_GATEWAY=PATH measures another gateway binary (an older build, for before/after).
GATEWAY_BIN=${BENCH_GATEWAY:-$ROOT/target/$OUT_DIR/codex-pool}
MOCK_BIN=$ROOT/target/$OUT_DIR/examples/mock_upstream
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

command -v curl >/dev/null || die "curl is not on PATH (apt-get install -y curl)"
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1
HAVE_NGINX=0; command -v nginx >/dev/null && HAVE_NGINX=1
if ((!SMOKE)); then
  ((HAVE_WRK)) || die "wrk is not on PATH (apt-get install -y wrk)"
  ((HAVE_NGINX)) || die "nginx is not on PATH (apt-get install -y nginx)"
fi

# ------------------------------------------------------------------ processes
# A port nothing listens on, for nginx: unlike the gateway and the mock, it cannot
# listen on port 0 and say which port it got.
nginx_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_bench_gateway NAME MOCK_ADDR: one account (token valid for a day) against that
# mock, ready; sets GW_ADDR and GW_PID.
start_bench_gateway() {
  local name=$1 mock=$2 dir="$tmp/$1"
  mkdir -p "$dir"
  write_login "$dir/bench.json" bench 86400
  cat >"$dir/config.toml" <<EOF
[server]
listen = "127.0.0.1:0"
max_connections = 8192
max_inflight = 4096
shutdown_grace = "1s"

[upstream]
base_url = "http://$mock/backend-api/codex"
issuer = "http://$mock"
idle_timeout = "120s"

[[accounts]]
name = "bench"
auth_file = "bench.json"
EOF
  start_gateway "$name" "$dir/config.toml"
  wait_for "$name /readyz" 20 "$GW_PID" curl -sf --max-time 2 "$GW_URL/readyz"
}

# ------------------------------------------------------------------ request bodies
CHAT_MSGS='[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France?"}]'
printf '{"model":"gpt-5.4","messages":%s,"stream":false}' "$CHAT_MSGS" >"$tmp/chat.json"
printf '{"model":"gpt-5.4","messages":%s,"stream":true}' "$CHAT_MSGS" >"$tmp/chat-stream.json"
# What the gateway sends upstream for that chat request (the mock speaks only Responses).
cat >"$tmp/responses.json" <<'EOF'
{"model":"gpt-5.4","instructions":"You are a helpful assistant.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"What is the capital of France?"}]}],"tool_choice":"auto","parallel_tool_calls":true,"reasoning":{"summary":"auto"},"store":false,"stream":true,"include":["reasoning.encrypted_content"],"prompt_cache_key":"bench"}
EOF
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
EOF

# load NAME URL BODY CONNECTIONS SECONDS: wrk (or curl at concurrency 1) → sets
# R_rps, R_p50, R_p99 (ms), R_req, R_err (failed or non-2xx requests).
load() {
  local name=$1 url=$2 body=$3 conns=$4 secs=$5 threads=2
  ((conns < 2)) && threads=1
  if ((HAVE_WRK)); then
    BENCH_BODY=$body timeout $((secs + 60)) wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 30s \
      -s "$tmp/post.lua" "$url" >"$tmp/wrk-$name.out" 2>&1 || die "wrk failed for $name (see $tmp/wrk-$name.out)"
    local line
    line=$(grep '^RESULT ' "$tmp/wrk-$name.out") || die "no wrk result for $name"
    eval "local ${line#RESULT }"
    R_req=$requests
    R_err=$((errors + non2xx))
    R_rps=$(awk -v n="$requests" -v us="$duration_us" 'BEGIN {printf "%.0f", n / (us / 1e6)}')
    R_p50=$(awk -v v="$p50_us" 'BEGIN {printf "%.3f", v / 1000}')
    R_p99=$(awk -v v="$p99_us" 'BEGIN {printf "%.3f", v / 1000}')
  else
    # One connection per request, sequential: only for --smoke without wrk.
    local end=$((SECONDS + secs)) out="$tmp/curl-$name.out"
    : >"$out"
    while ((SECONDS < end)); do
      curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' \
        -H 'content-type: application/json' --data-binary "@$body" "$url" >>"$out" || echo "000 0" >>"$out"
    done
    R_req=$(wc -l <"$out")
    R_err=$(awk '$1 !~ /^2/' "$out" | wc -l)
    R_rps=$(awk -v n="$R_req" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
    R_p50=$(awk '{print $2 * 1000}' "$out" | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int(NR * 0.50 + 0.5)]}')
    R_p99=$(awk '{print $2 * 1000}' "$out" | sort -n | awk '{v[NR] = $1} END {i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; printf "%.3f", v[i]}')
  fi
  log "$name: $R_req requests, $R_rps/s, p50 $R_p50 ms, p99 $R_p99 ms, $R_err failed"
}

# ttfb NAME URL BODY: TTFB_N requests on one connection (curl's URL glob), time to
# the first response byte → sets T_p50, T_p99 (ms).
ttfb() {
  local name=$1 url=$2 body=$3 out="$tmp/ttfb-$1.out"
  timeout 120 curl -s --max-time 10 -H 'content-type: application/json' --data-binary "@$body" \
    -w '%{stderr}%{http_code} %{time_starttransfer}\n' "$url?[1-$TTFB_N]" >/dev/null 2>"$out" ||
    die "ttfb requests failed for $name"
  local bad
  bad=$(awk '$1 != 200' "$out" | wc -l)
  ((bad == 0)) || die "$name: $bad of $TTFB_N streaming requests failed"
  T_p50=$(awk '{print $2 * 1000}' "$out" | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int(NR * 0.50 + 0.5)]}')
  T_p99=$(awk '{print $2 * 1000}' "$out" | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int(NR * 0.99 + 0.5)]}')
  log "$name: time to first byte p50 $T_p50 ms, p99 $T_p99 ms"
}

calc() { awk "BEGIN {printf \"$1\", $2}"; }

# ------------------------------------------------------------------ build and start
log "building $PROFILE binaries"
cargo build "${BUILD_FLAGS[@]}" --quiet --bin codex-pool --example mock_upstream
BUILT_AT=$SECONDS
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > STREAMS * 2 + 100)) || ((SMOKE)) || die "ulimit -n is $(ulimit -n): too low for $STREAMS streams"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

start_mock mock --deltas 2 --delay-ms 0
FAST_MOCK=$MOCK_ADDR FAST_MOCK_PID=$MOCK_PID
start_bench_gateway gateway "$FAST_MOCK"
GW=$GW_ADDR
GW_MAIN_PID=$GW_PID
sleep 1
IDLE_RSS=$(rss_kb "$GW_MAIN_PID")

# One request by hand: the gateway must answer a chat completion from the mock.
answer=$(curl -sf --max-time 10 -H 'content-type: application/json' --data-binary "@$tmp/chat.json" \
  "http://$GW/v1/chat/completions") || die "the gateway failed a chat request (logs in $tmp)"
grep -q '"chat.completion"' <<<"$answer" || die "not a chat completion: $answer"
grep -q 'Hello part1' <<<"$answer" || die "the mock's answer is missing: $answer"

DIRECT_URL="http://$FAST_MOCK/backend-api/codex/responses"
GW_URL="http://$GW/v1/chat/completions"
GW_BYTES=${#answer}
curl -sf --max-time 10 -H 'content-type: application/json' --data-binary "@$tmp/responses.json" \
  "$DIRECT_URL" >"$tmp/direct-answer.txt" || die "the mock failed a direct request"
DIRECT_BYTES=$(wc -c <"$tmp/direct-answer.txt")
DIRECT_EVENTS=$(grep -c '^data: ' "$tmp/direct-answer.txt")

if ((SMOKE)); then
  load smoke-direct "$DIRECT_URL" "$tmp/responses.json" 1 2
  d_rps=$R_rps d_p50=$R_p50 d_p99=$R_p99 d_err=$R_err
  load smoke-gateway "$GW_URL" "$tmp/chat.json" 1 2
  ((R_req > 0)) || die "the gateway served no request"
  printf '\n| concurrency 1, 2 s | req/s | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|---:|\n'
  printf '| direct → mock | %s | %s | %s | %s |\n' "$d_rps" "$d_p50" "$d_p99" "$d_err"
  printf '| gateway → mock | %s | %s | %s | %s |\n' "$R_rps" "$R_p50" "$R_p99" "$R_err"
  ((d_err == 0)) || die "the mock failed $d_err requests"
  ((R_err == 0)) || die "the gateway failed $R_err of $R_req requests (logs in $tmp)"
  echo "bench --smoke: ok ($((SECONDS - BUILT_AT)) s after the build)"
  exit 0
fi

NGINX_PORT=$(nginx_port)
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  upstream mock {
    server $FAST_MOCK;
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" >"$tmp/nginx.out" 2>&1 &
NGINX_PID=$!
pids+=("$NGINX_PID")
NGINX_URL="http://127.0.0.1:$NGINX_PORT/backend-api/codex/responses"
wait_for nginx 20 "$NGINX_PID" curl -sf --max-time 2 -H 'content-type: application/json' \
  --data-binary "@$tmp/responses.json" "$NGINX_URL"

# ------------------------------------------------------------------ non-stream chat
FAILED=0
# M["rps gateway 16 2"] (round 2), …; rounds interleave the three targets so that drift
# in the machine's load hits all of them alike.
declare -A M
for round in $(seq "$ROUNDS"); do
  for c in 1 16 64; do
    for target in direct nginx gateway; do
      case $target in
        direct) load "$target-c$c-r$round" "$DIRECT_URL" "$tmp/responses.json" "$c" "$DURATION" ;;
        nginx) load "$target-c$c-r$round" "$NGINX_URL" "$tmp/responses.json" "$c" "$DURATION" ;;
        gateway) load "$target-c$c-r$round" "$GW_URL" "$tmp/chat.json" "$c" "$DURATION" ;;
      esac
      M["rps $target $c $round"]=$R_rps M["p50 $target $c $round"]=$R_p50 M["p99 $target $c $round"]=$R_p99
      FAILED=$((FAILED + R_err))
    done
  done
done
# med Q TARGET C: the median over rounds; spread Q TARGET C: "min–max".
vals() { local r; for r in $(seq "$ROUNDS"); do echo "${M["$1 $2 $3 $r"]}"; done | sort -g; }
med() { vals "$@" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
spread() { vals "$@" | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "–" hi}'; }
# rounds_holding EXPR: in how many rounds EXPR (awk, with d n g = direct nginx gateway of
# that round, for the Q and C given) holds.
rounds_holding() {
  local q=$1 c=$2 expr=$3 r k=0
  for r in $(seq "$ROUNDS"); do
    awk -v d="${M["$q direct $c $r"]}" -v n="${M["$q nginx $c $r"]}" -v g="${M["$q gateway $c $r"]}" \
      "BEGIN {exit !($expr)}" && k=$((k + 1))
  done
  echo "$k of $ROUNDS rounds"
}

# ------------------------------------------------------------------ streaming: first byte
ttfb ttfb-direct "$DIRECT_URL" "$tmp/responses.json"
td50=$T_p50 td99=$T_p99
ttfb ttfb-gateway "$GW_URL" "$tmp/chat-stream.json"
tg50=$T_p50 tg99=$T_p99

# ------------------------------------------------------------------ held streams
# A slow mock (one event a second, ~40 s a stream) and its own gateway, so "before"
# is a warmed-up gateway that has not seen the throughput runs.
start_mock slow-mock --deltas 30 --delay-ms 1000
start_bench_gateway slow-gateway "$MOCK_ADDR"
SLOW_GW=$GW_ADDR SLOW_PID=$GW_PID
# Warm-up: one streamed chat, cut after 8 s (a whole slow stream takes ~40 s; the first chat chunk comes at ~5 s).
curl -s -N --max-time 8 -H 'content-type: application/json' --data-binary "@$tmp/chat-stream.json" \
  "http://$SLOW_GW/v1/chat/completions" >"$tmp/warm-up.out" || true
grep -q '^data: ' "$tmp/warm-up.out" || die "slow gateway streamed nothing in its warm-up request"
sleep 1
HOLD_BEFORE=$(rss_kb "$SLOW_PID")
log "holding $STREAMS streams for 12 s"
BENCH_BODY=$tmp/chat-stream.json timeout 60 wrk -t2 -c"$STREAMS" -d12s --timeout 60s -s "$tmp/post.lua" \
  "http://$SLOW_GW/v1/chat/completions" >"$tmp/wrk-streams.out" 2>&1 &
WRK_PID=$!
pids+=("$WRK_PID")
sleep 9
HELD=$(curl -sf --max-time 5 "http://$SLOW_GW/metrics" | awk '/^codex_pool_inflight_requests / {print $2}')
HOLD_DURING=$(rss_kb "$SLOW_PID")
CLIENT_CONNS=$(ss -Htn state established "( sport = :${SLOW_GW##*:} )" 2>/dev/null | wc -l || echo "?")
wait "$WRK_PID" || true
log "held: inflight gauge $HELD, $CLIENT_CONNS client connections; RSS $HOLD_BEFORE → $HOLD_DURING kB"

BIN_SIZE=$(stat -c %s "$GATEWAY_BIN")
MOCK_RSS=$(rss_kb "$FAST_MOCK_PID")

# ------------------------------------------------------------------ the table
# shellcheck source=scripts/bench-report.sh
source "$ROOT/scripts/bench-report.sh"
