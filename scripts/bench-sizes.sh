#!/usr/bin/env bash
# Added latency by request size: a coding agent's conversation (tool calls, tool outputs
# holding code, reasoning items with encrypted content, a few images as data URLs) of
# 10 KB, 100 KB, 1 MB and 4 MB, sent sequentially (one keep-alive connection, curl)
#   - straight to the mock upstream (the Responses body the gateway would send),
#   - through nginx to the mock (the same body: what a byte-copying proxy adds),
#   - through the gateway on /v1/chat/completions, /v1/responses and /v1/messages
#     (the same conversation in each dialect), all with `stream: true`.
# Prints one markdown table: the median time to the last byte of each, and what nginx and
# the gateway add over direct. Release build, loopback only, every process stopped on exit.
#
#   scripts/bench-sizes.sh                 the whole table (a few minutes after the build)
#   SIZES="1000000" scripts/bench-sizes.sh one size
#   scripts/bench-sizes.sh --bodies DIR    only write the bodies into DIR
#   scripts/bench-sizes.sh --callgrind     instead of times: the gateway under callgrind, user-space
#                                          instructions per request on each route (K requests of each
#                                          size after 2 warm-up ones; instrumentation on only for them)
#
# Env: SIZES (bytes, "10000 100000 1000000 4000000"; --callgrind: 1000000), K (3),
#      N (requests per cell and round, 10),
#      ROUNDS (interleaved rounds, 3), BENCH_GATEWAY=PATH (measure that gateway binary),
#      BENCH_PROFILE=dev (debug binaries), KEEP_TMP=1.
# Needs: cargo, curl, python3, nginx.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SIZES_SET=${SIZES:-}
SIZES=${SIZES:-10000 100000 1000000 4000000}
N=${N:-10}
ROUNDS=${ROUNDS:-3}
PROFILE=${BENCH_PROFILE:-release}
case $PROFILE in
  release) BUILD_FLAGS=(--release) OUT_DIR=release ;;
  dev) BUILD_FLAGS=() OUT_DIR=debug ;;
  *) echo "bench-sizes: BENCH_PROFILE must be release or dev" >&2; exit 2 ;;
esac
GATEWAY_BIN=${BENCH_GATEWAY:-$ROOT/target/$OUT_DIR/codex-pool}
MOCK_BIN=$ROOT/target/$OUT_DIR/examples/mock_upstream
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# ------------------------------------------------------------------ bodies
# gen_bodies DIR SIZE: DIR/{chat,responses,messages,direct}-SIZE.json
gen_bodies() {
  python3 - "$1" "$2" <<'PY'
import base64, json, random, sys

out, target = sys.argv[1], int(sys.argv[2])
rnd = random.Random(target)

def b64(n):
    return base64.b64encode(rnd.randbytes(n * 3 // 4)).decode()

CODE = '''/// Reads the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, Error> {
\tlet text = std::fs::read_to_string(path).map_err(|e| Error::Io(path.into(), e))?;
\tlet raw: Raw = toml::from_str(&text).map_err(|e| Error::Parse(format!("{e}")))?;
\tif raw.name.is_empty() { return Err(Error::Invalid("\\"name\\" must not be empty — café")); }
\tOk(Config { name: raw.name, limit: raw.limit.unwrap_or(10) })
}
'''

def output(i):
    lines = rnd.randint(20, 120)
    return "".join(f"{n:>4}\t{CODE.splitlines()[n % 6]}\n" for n in range(lines))

SYSTEM = "You are a coding agent. Read files before editing them; keep answers short."
tools_resp = [{"type": "function", "name": "shell", "description": "Runs a shell command.",
               "strict": False, "parameters": {"type": "object", "properties": {
                   "command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}}]
tools_chat = [{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}} for t in tools_resp]
tools_msgs = [{"name": "shell", "description": "Runs a shell command.",
               "input_schema": tools_resp[0]["parameters"]}]

resp, chat, msgs = [], [{"role": "system", "content": SYSTEM}], []
size, i = 0, 0
while size < target:
    prompt = f"Turn {i}: look at src/module_{i}.rs and fix the error handling."
    image = b64(24_000) if i % 12 == 5 else None
    blob = "gAAAAB" + b64(1_600)
    thought = f"I should read module {i} first."
    call_id = f"call_{i:05}"
    args = json.dumps({"command": ["bash", "-lc", f"sed -n '1,200p' src/module_{i}.rs"]})
    out_text = output(i)
    answer = f"Module {i} now returns its errors instead of panicking."
    # Responses
    content = [{"type": "input_text", "text": prompt}]
    if image:
        content.append({"type": "input_image", "image_url": f"data:image/png;base64,{image}", "detail": "auto"})
    resp += [{"type": "message", "role": "user", "content": content},
             {"type": "reasoning", "summary": [{"type": "summary_text", "text": thought}], "encrypted_content": blob},
             {"type": "function_call", "call_id": call_id, "name": "shell", "arguments": args},
             {"type": "function_call_output", "call_id": call_id, "output": out_text},
             {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}]
    # Chat Completions
    parts = [{"type": "text", "text": prompt}]
    if image:
        parts.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}})
    chat += [{"role": "user", "content": parts},
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": call_id, "type": "function", "function": {"name": "shell", "arguments": args}}]},
             {"role": "tool", "tool_call_id": call_id, "content": out_text},
             {"role": "assistant", "content": answer}]
    # Messages
    blocks = [{"type": "text", "text": prompt}]
    if image:
        blocks.append({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}})
    msgs += [{"role": "user", "content": blocks},
             {"role": "assistant", "content": [
                 {"type": "thinking", "thinking": thought, "signature": blob},
                 {"type": "tool_use", "id": call_id, "name": "shell", "input": json.loads(args)}]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": out_text}]},
             {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
    size = len(json.dumps(resp, separators=(",", ":"), ensure_ascii=False))
    i += 1
msgs.append({"role": "user", "content": "Go on."})

def write(name, body):
    with open(f"{out}/{name}-{target}.json", "w") as f:
        json.dump(body, f, separators=(",", ":"), ensure_ascii=False)

write("responses", {"model": "gpt-5.4", "instructions": SYSTEM, "input": resp, "tools": tools_resp,
                    "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"summary": "auto"},
                    "stream": True, "prompt_cache_key": "bench-sizes"})
write("direct", {"model": "gpt-5.4", "instructions": SYSTEM, "input": resp, "tools": tools_resp,
                 "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"summary": "auto"},
                 "store": False, "stream": True, "include": ["reasoning.encrypted_content"],
                 "prompt_cache_key": "bench-sizes"})
write("chat", {"model": "gpt-5.4", "messages": chat, "tools": tools_chat, "stream": True,
               "prompt_cache_key": "bench-sizes"})
write("messages", {"model": "gpt-5.4", "max_tokens": 4096, "system": SYSTEM, "messages": msgs,
                   "tools": tools_msgs, "stream": True, "metadata": {"user_id": "bench-sizes"}})
PY
}

CALLGRIND=0
if [[ ${1:-} == --callgrind ]]; then
  CALLGRIND=1
  SIZES=${SIZES_SET:-1000000}
fi
if [[ ${1:-} == --bodies ]]; then
  dir=${2:?usage: scripts/bench-sizes.sh --bodies DIR}
  mkdir -p "$dir"
  for s in $SIZES; do gen_bodies "$dir" "$s"; done
  ls -l "$dir" >&2
  exit 0
fi

command -v nginx >/dev/null || die "nginx is not on PATH (apt-get install -y nginx)"
command -v python3 >/dev/null || die "python3 is not on PATH"
if [[ -z ${BENCH_GATEWAY:-} ]]; then
  log "building $PROFILE binaries"
  cargo build "${BUILD_FLAGS[@]}" --quiet --bin codex-pool --example mock_upstream
else
  cargo build "${BUILD_FLAGS[@]}" --quiet --example mock_upstream
fi
for s in $SIZES; do gen_bodies "$tmp" "$s"; done

# ------------------------------------------------------------------ processes
start_mock mock --deltas 2 --delay-ms 0
MOCK=$MOCK_ADDR
mkdir -p "$tmp/gw"
write_login "$tmp/gw/bench.json" bench 86400
cat >"$tmp/gw/config.toml" <<EOF
[server]
listen = "127.0.0.1:0"
shutdown_grace = "1s"
[upstream]
base_url = "http://$MOCK/backend-api/codex"
issuer = "http://$MOCK"
[[accounts]]
name = "bench"
auth_file = "bench.json"
EOF
if ((CALLGRIND)); then
  command -v valgrind >/dev/null || die "valgrind is not on PATH"
  need_bins
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=%s/callgrind.out.%%p %s "$@"\n' \
    "$tmp" "$GATEWAY_BIN" >"$tmp/gw/under-callgrind"
  chmod +x "$tmp/gw/under-callgrind"
  GATEWAY_BIN=$tmp/gw/under-callgrind
  need_bins() { :; }
  start_gateway gateway "$tmp/gw/config.toml"
  GW=$GW_URL
  K=${K:-3}
  once() {
    curl -s -o /dev/null --max-time 600 -w '%{http_code}' -H 'content-type: application/json' \
      -H 'anthropic-version: 2023-06-01' --data-binary "@$2" "$GW$1"
  }
  VG_PID=$GW_PID
  echo
  echo "| route | body | instructions per request |"
  echo "|---|---:|---:|"
  for s in $SIZES; do
    for route in chat:/v1/chat/completions responses:/v1/responses messages:/v1/messages; do
      name=${route%%:*} path=${route#*:}
      for _ in 1 2; do once "$path" "$tmp/$name-$s.json" >/dev/null; done
      callgrind_control -i on "$VG_PID" >/dev/null
      callgrind_control -z "$VG_PID" >/dev/null
      for _ in $(seq "$K"); do
        [[ $(once "$path" "$tmp/$name-$s.json") == 200 ]] || die "$name failed under callgrind"
      done
      callgrind_control -d "$name-$s" "$VG_PID" >/dev/null
      callgrind_control -i off "$VG_PID" >/dev/null
      sleep 1
      file=$(grep -l "^desc: Trigger: .*$name-$s\$" "$tmp"/callgrind.out.* | head -1)
      total=$(awk '/^(summary|totals):/ {print $2; exit}' "$file")
      printf '| %s | %s B | %s K |\n' "$path" "$(wc -c <"$tmp/$name-$s.json")" "$((total / K / 1000))"
    done
  done
  exit 0
fi
start_gateway gateway "$tmp/gw/config.toml"
GW=$GW_URL

NGINX_PORT=$((20000 + RANDOM % 30000))
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_max_body_size 64m;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  upstream mock { server $MOCK; keepalive 16; }
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
start_bg nginx nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log"
NGINX_PID=$BG_PID
NGINX=http://127.0.0.1:$NGINX_PORT
# Ready once it proxies the smallest body of this run (SIZES may leave out 10000).
SMALLEST_SIZE=$(tr ' ' '\n' <<<"$SIZES" | sort -n | head -1)
wait_for nginx 20 "$NGINX_PID" curl -sf --max-time 5 -o /dev/null -H 'content-type: application/json' \
  --data-binary "@$tmp/direct-$SMALLEST_SIZE.json" "$NGINX/backend-api/codex/responses"

# ------------------------------------------------------------------ runs
# The gateway's CPU time so far (utime + stime, clock ticks).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
declare -A CPU=()
# run NAME URL BODY: N sequential requests on one connection; appends ms to $tmp/NAME.times
# and adds the gateway's CPU ticks to CPU[NAME].
run() {
  local name=$1 url=$2 body=$3 out="$tmp/$1.raw" before
  before=$(cpu_ticks)
  timeout 600 curl -s --max-time 60 -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    --data-binary "@$body" -w '%{stderr}%{http_code} %{time_total}\n' "$url?[1-$N]" >/dev/null 2>"$out" ||
    die "requests failed for $name"
  local bad
  bad=$(awk '$1 != 200' "$out" | wc -l)
  ((bad == 0)) || die "$name: $bad of $N requests failed ($(head -1 "$out"))"
  awk '{printf "%.3f\n", $2 * 1000}' "$out" >>"$tmp/$name.times"
  CPU[$name]=$((${CPU[$name]:-0} + $(cpu_ticks) - before))
}
# cpu NAME: the gateway's CPU ms per request of NAME.
cpu() { awk -v t="${CPU[$1]:-0}" -v ms="$TICK_MS" -v n=$((N * ROUNDS)) 'BEGIN {printf "%.2f", t * ms / n}'; }
median() { sort -g "$tmp/$1.times" | awk '{v[NR] = $1} END {printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for s in $SIZES; do
  for round in $(seq "$ROUNDS"); do
    log "size $s, round $round"
    run "direct-$s" "http://$MOCK/backend-api/codex/responses" "$tmp/direct-$s.json"
    run "nginx-$s" "$NGINX/backend-api/codex/responses" "$tmp/direct-$s.json"
    run "chat-$s" "$GW/v1/chat/completions" "$tmp/chat-$s.json"
    run "responses-$s" "$GW/v1/responses" "$tmp/responses-$s.json"
    run "messages-$s" "$GW/v1/messages" "$tmp/messages-$s.json"
  done
done

# ------------------------------------------------------------------ the table
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.2f", a - b}'; }
echo
echo "Median time to the last byte (ms), $N requests × $ROUNDS rounds per cell; added = − direct."
echo
echo "| body (responses form) | direct | nginx added | chat added | responses added | messages added |"
echo "|---|---:|---:|---:|---:|---:|"
for s in $SIZES; do
  d=$(median "direct-$s")
  bytes=$(wc -c <"$tmp/direct-$s.json")
  printf '| %s B | %s | %s | %s | %s | %s |\n' "$bytes" "$d" \
    "$(sub "$(median "nginx-$s")" "$d")" "$(sub "$(median "chat-$s")" "$d")" \
    "$(sub "$(median "responses-$s")" "$d")" "$(sub "$(median "messages-$s")" "$d")"
done
echo
echo "Gateway CPU per request (ms, utime + stime over the cell's requests):"
echo
echo "| body | chat | responses | messages |"
echo "|---|---:|---:|---:|"
for s in $SIZES; do
  printf '| %s B | %s | %s | %s |\n' "$(wc -c <"$tmp/direct-$s.json")" "$(cpu "chat-$s")" "$(cpu "responses-$s")" "$(cpu "messages-$s")"
done
echo
echo "Body sizes (chat / messages): $(for s in $SIZES; do printf '%s/%s ' "$(wc -c <"$tmp/chat-$s.json")" "$(wc -c <"$tmp/messages-$s.json")"; done)"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
