#!/usr/bin/env bash
# Checks the gateway's Prometheus surface end to end, on loopback only:
#   1. the mock upstream (examples/mock_upstream) and a real `codex-pool serve` with two
#      accounts and two client keys, then some traffic (chat, streamed chat, responses);
#   2. `promtool check metrics` on a /metrics scrape (errors fail; lint findings fail
#      unless listed in ACCEPTED_LINT below);
#   3. `promtool check rules` and `promtool test rules` on dashboards/alerts.yml;
#   4. a real Prometheus (scrape_interval 1s, the alert rules loaded) scraping the gateway,
#      then every PromQL expression of dashboards/codex-pool.json and dashboards/alerts.yml
#      evaluated through /api/v1/query: each must succeed, and the core ones must return data.
#
# Builds nothing: `cargo build --bin codex-pool --examples` first.
# Needs: promtool and prometheus (Debian/Ubuntu package `prometheus`), curl, python3.
# Env: GATEWAY_BIN (target/debug/codex-pool), MOCK_BIN (target/debug/examples/mock_upstream),
#      KEEP_TMP=1 keeps the temp folder (configs, logs, scrape) for a look afterwards.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
DASHBOARD=${DASHBOARD:-$ROOT/dashboards/codex-pool.json}
ALERTS=${ALERTS:-$ROOT/dashboards/alerts.yml}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# promtool lint findings we accept, one extended regex a line, matched against promtool's
# "<metric> <problem>" output. Decision: none. With promtool 2.42 (Debian 12) and the
# current promlint rules the scrape is lint-clean (counters end in _total, base units,
# *_timestamp_seconds gauges, *_info gauge), so any finding is a regression. Add a line
# here only with the reason, e.g. '^codex_pool_foo_ratio some new rule$'.
ACCEPTED_LINT=''

failures=()
fail() { failures+=("$1"); echo "FAIL: $1" >&2; }

for tool in promtool prometheus curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH (apt-get install -y prometheus curl python3)"
done
[[ -f $DASHBOARD ]] || die "no dashboard at $DASHBOARD"
[[ -f $ALERTS ]] || die "no alert rules at $ALERTS"

started=$(date +%s)
# ---------------------------------------------------------------- mock upstream
log "starting the mock upstream"
start_mock mock
mock_addr=$MOCK_ADDR

# ---------------------------------------------------------------- gateway config
# acc1's token is valid for a day; acc2's expires in 2 minutes, so the gateway
# refreshes it at start (exercises the refresh metrics).
write_login "$tmp/acc1.json" acc1 86400
write_login "$tmp/acc2.json" acc2 120

admin_token=check-prometheus-admin
key_ci=sk-check-prometheus-ci
key_limited=sk-check-prometheus-limited
# write_config BASE_URL: the gateway config with upstream at BASE_URL. The usage probe
# fills the quota gauges; short backoffs bring accounts back soon after the failover phase.
write_config() {
  cat >"$tmp/config.toml.new" <<EOF
[server]
listen = "127.0.0.1:0"

[upstream]
base_url = "$1"
issuer = "http://$mock_addr"
connect_timeout = "2s"

[pool]
usage_probe_interval = "2s"
backoff_base = "1s"
backoff_max = "2s"
# One failed request cools an account here, so the cooling series appear.
outlier_failures = 1

[admin]
token = "$admin_token"

[[api_keys]]
name = "ci"
key = "$key_ci"

[[api_keys]]
name = "limited"
key = "$key_limited"
requests_per_minute = 1

[[accounts]]
name = "acc1"
auth_file = "$tmp/acc1.json"

[[accounts]]
name = "acc2"
auth_file = "$tmp/acc2.json"
EOF
  mv "$tmp/config.toml.new" "$tmp/config.toml"
}
admin_reload() {
  local got
  got=$(curl -sS -o "$tmp/answer-reload" -w '%{http_code}' -X POST \
    -H "authorization: Bearer $admin_token" "$gw/admin/reload") || got=curl-error
  [[ $got == 200 ]] || fail "POST /admin/reload answered $got: $(head -c 300 "$tmp/answer-reload" 2>/dev/null)"
}
write_config "http://$mock_addr/backend-api/codex"

log "checking the config"
"$GATEWAY_BIN" check-config --config "$tmp/config.toml" || die "the generated config is invalid"

# ---------------------------------------------------------------- gateway
log "starting the gateway"
start_gateway gateway "$tmp/config.toml"
gw=$GW_URL

# call EXPECTED NAME KEY PATH BODY: one API call; its status must match the glob EXPECTED.
call() {
  local want=$1 name=$2 key=$3 path=$4 body=$5 got
  got=$(curl -sS -o "$tmp/answer-$name" -w '%{http_code}' -X POST "$gw$path" \
    -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -H "x-request-id: check-$name" --max-time 30 -d "$body") || got="curl-error"
  # shellcheck disable=SC2053 # a glob on purpose
  if [[ $got != $want ]]; then
    fail "$name: POST $path answered $got, expected $want: $(head -c 300 "$tmp/answer-$name" 2>/dev/null)"
  fi
}

traffic() {
  local round=$1
  call 200 "chat-$round" "$key_ci" /v1/chat/completions \
    '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
  call 200 "chat-stream-$round" "$key_ci" /v1/chat/completions \
    '{"model":"gpt-5.4","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'
  call 200 "responses-$round" "$key_ci" /v1/responses \
    '{"model":"gpt-5.4","input":"hi"}'
  call 200 "responses-stream-$round" "$key_ci" /v1/responses \
    '{"model":"gpt-5.4","input":"hi","stream":true}'
  call 200 "other-model-$round" "$key_ci" /v1/chat/completions \
    '{"model":"some-future-model","messages":[{"role":"user","content":"hi"}]}'
  call 401 "bad-key-$round" sk-wrong /v1/chat/completions \
    '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
}

log "sending traffic"
traffic 1
# The `limited` key allows 1 request a minute: the second is refused (client_rate_limited).
call 200 limited-1 "$key_limited" /v1/chat/completions '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
call 429 limited-2 "$key_limited" /v1/chat/completions '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
admin_reload

# ---------------------------------------------------------------- promtool check metrics
log "promtool check metrics"
curl -fsS "$gw/metrics" >"$tmp/metrics.txt" || die "cannot scrape $gw/metrics"
set +e
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool-metrics.out" 2>&1
lint_rc=$?
set -e
# Exit 0 = clean, 3 = lint findings only (judged below); anything else is a parse error.
if [[ $lint_rc != 0 && $lint_rc != 3 ]]; then
  fail "promtool check metrics could not parse the scrape (exit $lint_rc): $(head -c 500 "$tmp/promtool-metrics.out")"
fi
accepted=0
while IFS= read -r finding; do
  [[ -z $finding ]] && continue
  if [[ -n $ACCEPTED_LINT ]] && grep -Eq -f <(printf '%s\n' "$ACCEPTED_LINT" | sed '/^$/d') <<<"$finding"; then
    echo "   accepted lint: $finding"
    accepted=$((accepted + 1))
  else
    fail "promtool check metrics: $finding"
  fi
done < <([[ $lint_rc == 3 ]] && cat "$tmp/promtool-metrics.out")
for family in requests_total request_duration_seconds time_to_first_byte_seconds overhead_seconds \
  inflight_requests upstream_attempts_total upstream_duration_seconds tokens_total account_state \
  account_cooldown_until_timestamp_seconds account_token_expiry_timestamp_seconds \
  account_unsaved_login token_refreshes_total client_rate_limited_total config_reloads_total build_info; do
  grep -q "^# TYPE codex_pool_$family " "$tmp/metrics.txt" || fail "the scrape has no codex_pool_$family"
done

# ---------------------------------------------------------------- promtool rules
log "promtool check rules / test rules"
if ! promtool check rules "$ALERTS" >"$tmp/promtool-rules.out" 2>&1; then
  cat "$tmp/promtool-rules.out" >&2
  fail "promtool check rules $ALERTS (output above)"
fi
# Unit tests of the alert rules: each alert fires on the series that should fire it.
printf 'rule_files:\n  - %s\n' "$ALERTS" >"$tmp/alerts_test.yml"
cat >>"$tmp/alerts_test.yml" <<'EOF'
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="needs_relogin"}'
        values: '1x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="ready"}'
        values: '0x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="cooling"}'
        values: '0x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="b",state="ready"}'
        values: '0x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="b",state="cooling"}'
        values: '1x10'
      - series: 'codex_pool_account_cooldown_until_timestamp_seconds{job="gw",instance="i",account="b"}'
        values: '100000x10'
      - series: 'codex_pool_account_quota_used_percent{job="gw",instance="i",account="b",window="primary"}'
        values: '95x10'
      - series: 'codex_pool_account_quota_used_percent{job="gw",instance="i",account="a",window="primary"}'
        values: '50x10'
      - series: 'codex_pool_account_token_expiry_timestamp_seconds{job="gw",instance="i",account="a"}'
        values: '1800x10'
      - series: 'codex_pool_token_refreshes_total{job="gw",instance="i",account="a",outcome="failed"}'
        values: '0+1x10'
      - series: 'codex_pool_account_token_expiry_timestamp_seconds{job="gw",instance="i",account="b"}'
        values: '1800x10'
      - series: 'codex_pool_token_refreshes_total{job="gw",instance="i",account="b",outcome="failed"}'
        values: '0x10'
      - series: 'codex_pool_account_unsaved_login{job="gw",instance="i",account="a"}'
        values: '0 0 0 0 0 0 1 1 1 1 1'
      - series: 'codex_pool_account_unsaved_login{job="gw",instance="i",account="b"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: CodexPoolAccountNeedsRelogin
        exp_alerts:
          - exp_labels: {severity: warning, job: gw, instance: i, account: a}
            exp_annotations:
              summary: 'codex-pool account a needs a new login'
              description: 'The login of account a on i is dead (refresh refused or the upstream rejected it) and the pool no longer uses it. Run `codex-pool login --config CONFIG --account a`; the gateway picks the new auth file up by itself.'
      - eval_time: 10m
        alertname: CodexPoolAccountLoginUnsaved
        exp_alerts:
          - exp_labels: {severity: critical, job: gw, instance: i, account: a}
            exp_annotations:
              summary: 'codex-pool account a holds a refreshed login its auth file could not take'
              description: 'The refresh token of account a on i was rotated, but its auth file could not be written (disk full, read-only, gone); the newest login exists only in the gateway''s memory and is retried every 30 s. Do not restart it: fix the file''s folder first (the gateway log names the file and the error), then watch this clear.'
      # Unsaved for 1 minute only (a retry wrote it): not yet an alert.
      - {eval_time: 7m, alertname: CodexPoolAccountLoginUnsaved, exp_alerts: []}
      - eval_time: 10m
        alertname: CodexPoolNoAccountReady
        exp_alerts:
          - exp_labels: {severity: critical, job: gw, instance: i}
            exp_annotations:
              summary: 'codex-pool on i has no account ready: all are cooling or unusable'
              description: 'For 5 minutes every account on i has been cooling down (usage limit or backoff), disabled or waiting for a new login, so clients get 429/503. See the "Cooling until" and "Quota windows" panels for when the first one comes back.'
      - eval_time: 10m
        alertname: CodexPoolQuotaAlmostUsed
        exp_alerts:
          - exp_labels: {severity: warning, job: gw, instance: i, account: b, window: primary}
            exp_annotations:
              summary: 'codex-pool account b has used 95% of its primary window'
              description: 'Upstream reports 95% of the primary subscription window of account b used. The account will soon be usage-limited and cool until the window resets (codex_pool_account_quota_reset_timestamp_seconds).'
      - eval_time: 10m
        alertname: CodexPoolTokenExpiringRefreshFailing
        exp_alerts:
          - exp_labels: {severity: critical, job: gw, instance: i, account: a}
            exp_annotations:
              summary: 'codex-pool account a: access token expires within the hour and refreshes fail'
              description: 'The access token of account a expires in 20m 0s and token refreshes failed in the last 30 minutes. Check that the issuer is reachable from i, or log the account in again.'
  - interval: 1m
    input_series:
      - series: 'codex_pool_requests_total{job="gw",instance="i",route="chat",status_class="2xx",code="ok"}'
        values: '0+60x20'
      - series: 'codex_pool_requests_total{job="gw",instance="i",route="chat",status_class="5xx",code="server_error"}'
        values: '0+30x20'
      - series: 'codex_pool_requests_total{job="gw",instance="i",route="chat",status_class="4xx",code="invalid_api_key"}'
        values: '0+60x20'
      - series: 'codex_pool_overhead_seconds_bucket{job="gw",instance="i",route="chat",le="0.005"}'
        values: '0+10x20'
      - series: 'codex_pool_overhead_seconds_bucket{job="gw",instance="i",route="chat",le="0.01"}'
        values: '0+100x20'
      - series: 'codex_pool_overhead_seconds_bucket{job="gw",instance="i",route="chat",le="+Inf"}'
        values: '0+100x20'
      - series: 'codex_pool_config_reloads_total{job="gw",instance="i",outcome="invalid"}'
        values: '0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1'
    alert_rule_test:
      - eval_time: 20m
        alertname: CodexPoolHighErrorRate
        exp_alerts:
          - exp_labels: {severity: critical, job: gw, instance: i}
            exp_annotations:
              summary: 'codex-pool on i: 20% of requests fail'
              description: 'Over the last 5 minutes 20% of client requests ended in a 5xx or failed mid-stream (counted as 2xx with the failure''s code). Client errors (4xx) are not counted. Look at "Errors by code" and "Upstream attempts by outcome".'
      - eval_time: 20m
        alertname: CodexPoolOverheadHigh
        exp_alerts:
          - exp_labels: {severity: warning, job: gw, instance: i}
            exp_annotations:
              summary: 'codex-pool on i: p99 gateway overhead 9.944ms'
              description: 'The gateway''s own share of time to first byte (excluding waiting on upstream) has had a p99 above 5 ms for 10 minutes. Check CPU saturation, in-flight requests and config reloads.'
      - eval_time: 20m
        alertname: CodexPoolConfigReloadFailed
        exp_alerts:
          - exp_labels: {severity: warning, job: gw, instance: i, outcome: invalid}
            exp_annotations:
              summary: 'codex-pool on i rejected a config reload'
              description: 'A config reload was invalid in the last 10 minutes; the gateway still serves the previous configuration. Run `codex-pool check-config --config CONFIG` to see every problem.'
  - interval: 1m
    input_series:
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="ready"}'
        values: '1x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="b",state="cooling"}'
        values: '1x10'
      - series: 'codex_pool_account_token_expiry_timestamp_seconds{job="gw",instance="i",account="a"}'
        values: '1800x10'
      - series: 'codex_pool_token_refreshes_total{job="gw",instance="i",account="a",outcome="ok"}'
        values: '0+1x10'
      - series: 'codex_pool_requests_total{job="gw",instance="i",route="chat",status_class="2xx",code="ok"}'
        values: '0+600x10'
      - series: 'codex_pool_requests_total{job="gw",instance="i",route="chat",status_class="4xx",code="rate_limited"}'
        values: '0+600x10'
      - series: 'codex_pool_account_unsaved_login{job="gw",instance="i",account="a"}'
        values: '0x10'
    alert_rule_test:
      - {eval_time: 10m, alertname: CodexPoolAccountNeedsRelogin, exp_alerts: []}
      - {eval_time: 10m, alertname: CodexPoolAccountLoginUnsaved, exp_alerts: []}
      - {eval_time: 10m, alertname: CodexPoolNoAccountReady, exp_alerts: []}
      - {eval_time: 10m, alertname: CodexPoolTokenExpiringRefreshFailing, exp_alerts: []}
      - {eval_time: 10m, alertname: CodexPoolHighErrorRate, exp_alerts: []}
  # Cooling with the cooldown over (probation: the next request may use it) is not "no account".
  - interval: 1m
    input_series:
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="cooling"}'
        values: '1x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="a",state="ready"}'
        values: '0x10'
      - series: 'codex_pool_account_cooldown_until_timestamp_seconds{job="gw",instance="i",account="a"}'
        values: '100x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="b",state="needs_relogin"}'
        values: '1x10'
      - series: 'codex_pool_account_state{job="gw",instance="i",account="b",state="cooling"}'
        values: '0x10'
      - series: 'codex_pool_account_cooldown_until_timestamp_seconds{job="gw",instance="i",account="b"}'
        values: '0x10'
    alert_rule_test:
      - {eval_time: 10m, alertname: CodexPoolNoAccountReady, exp_alerts: []}
  # The shared store: unreachable for a minute fires; a blip does not.
  - interval: 1m
    input_series:
      - series: 'codex_pool_store_up{job="gw",instance="i",backend="redis"}'
        values: '1 1 0 0 0 0 1 1 1 1 1'
      - series: 'codex_pool_store_up{job="gw",instance="j",backend="redis"}'
        values: '1 1 0 1 1 1 1 1 1 1 1'
    alert_rule_test:
      - {eval_time: 2m, alertname: CodexPoolStoreUnreachable, exp_alerts: []}
      - eval_time: 4m
        alertname: CodexPoolStoreUnreachable
        exp_alerts:
          - exp_labels: {severity: critical, job: gw, instance: i}
            exp_annotations:
              summary: 'codex-pool on i cannot reach its shared store'
              description: 'The replica on i has not reached its Redis store for a minute. It keeps serving from its last known state with local limits, but renews no token (an account whose access token expires meanwhile stops serving, reason "store unavailable"), and its cooldowns, rates and conversations are no longer shared. Check Redis and the network to it; the replica reconnects and resyncs by itself.'
      - {eval_time: 8m, alertname: CodexPoolStoreUnreachable, exp_alerts: []}
EOF
if ! promtool test rules "$tmp/alerts_test.yml" >"$tmp/promtool-test.out" 2>&1; then
  cat "$tmp/promtool-test.out" >&2
  fail "promtool test rules: the alert unit tests failed (output above)"
fi

# ---------------------------------------------------------------- Prometheus
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ALERTS
scrape_configs:
  - job_name: codex-pool
    static_configs:
      - targets: ["$GW_ADDR"]
EOF
promtool check config "$tmp/prometheus.yml" >"$tmp/promtool-config.out" 2>&1 ||
  die "prometheus config invalid: $(cat "$tmp/promtool-config.out")"
log "starting Prometheus"
# Port 0, like the gateway; Prometheus logs the address it got.
start_bg prometheus prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prometheus-data" \
  --web.listen-address=127.0.0.1:0 --log.level=info
prom_pid=$BG_PID
wait_for "prometheus" 60 "$prom_pid" grep -q 'msg="Listening on" address=127.0.0.1:' "$tmp/prometheus.log"
prom=http://$(sed -n 's/.*msg="Listening on" address=\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/prometheus.log" | head -n1)
wait_for "prometheus" 60 "$prom_pid" curl -fsS "$prom/-/ready"
scraped() {
  curl -fsS "$prom/api/v1/query" --data-urlencode 'query=count_over_time(up{job="codex-pool"}[1m]) >= 3 and up{job="codex-pool"} == 1' |
    grep -q '"value"'
}
wait_for "the first Prometheus scrapes" 60 "$prom_pid" scraped
# More traffic once Prometheus is watching, so rates are not all zero.
traffic 2
# Failover: upstream moved to a closed loopback port (9, discard), so acc1 fails
# (connect_error), the request fails over to acc2, which fails too (5xx); then back to
# the mock.
log "failover phase (upstream on a closed loopback port)"
write_config "http://127.0.0.1:9/backend-api/codex"
admin_reload
call '5??' failover "$key_ci" /v1/chat/completions '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
write_config "http://$mock_addr/backend-api/codex"
admin_reload
# Backoff is at most 2 s: then acc1 takes a request on probation and is ready again
# (acc2, not asked, stays `cooling` with its cooldown over until a request tries it).
sleep 2.5
call 200 after-failover "$key_ci" /v1/chat/completions '{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}'
sleep 3
wait_for "the rule evaluation" 30 "$prom_pid" \
  bash -c "curl -fsS '$prom/api/v1/rules' | grep -q '\"lastEvaluation\":\"2'"

# ---------------------------------------------------------------- every PromQL expression
log "evaluating the dashboard and alert expressions"
set +e
python3 - "$DASHBOARD" "$ALERTS" "$prom" >"$tmp/queries.out" 2>&1 <<'PY'
import json, re, sys, urllib.parse, urllib.request

dashboard_path, alerts_path, prom = sys.argv[1:4]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

def substitute(expr):
    for v in ("__rate_interval", "__interval", "__range"):
        expr = re.sub(r"\$\{" + v + r"\}|\$" + v + r"\b", "1m", expr)
    expr = re.sub(r"\$\{__range_s\}|\$__range_s\b", "60", expr)
    expr = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*", ".*", expr)
    return expr

def walk(panels, out):
    for p in panels:
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f'dashboard "{p.get("title")}" {t.get("refId")}', t["expr"]))
        walk(p.get("panels", []), out)

exprs = []
with open(dashboard_path) as f:
    dash = json.load(f)
walk(dash.get("panels", []), exprs)
for v in dash.get("templating", {}).get("list", []):
    if v.get("type") != "query":
        continue
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    m = re.fullmatch(r"\s*label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)\s*", q or "")
    if m:  # Grafana's label_values(metric, label): the series must exist.
        exprs.append((f'variable ${v["name"]}', f"count by ({m.group(2)}) ({m.group(1)})"))
    elif q:
        exprs.append((f'variable ${v["name"]}', q))

def alert_exprs(path):
    """`expr:` values of a rules file: with PyYAML if present, else the plain and
    block (`>-`, `|`) scalars this file uses."""
    try:
        import yaml
        with open(path) as f:
            doc = yaml.safe_load(f)
        return [(f'alert {r.get("alert") or r.get("record")}', r["expr"])
                for g in doc["groups"] for r in g["rules"]]
    except ImportError:
        pass
    out, lines, name = [], open(path).read().splitlines(), "?"
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-?\s*(alert|record):\s*(\S+)", line)
        if m:
            name = m.group(2)
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m:
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in ("|", "|-", ">", ">-"):
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i].strip())
                    i += 1
                value = ("\n" if value.startswith("|") else " ").join(b for b in body if b)
                out.append((f"alert {name}", value))
                continue
            out.append((f"alert {name}", value.strip("'\"")))
        i += 1
    return out

exprs += alert_exprs(alerts_path)

# Core series that must have data after the traffic this script sent.
CORE = {
    "request rate": 'sum by (route) (rate(codex_pool_requests_total[1m])) > 0',
    "ok requests per route": 'codex_pool_requests_total{route=~"chat|responses",status_class="2xx",code="ok"} > 0',
    "client errors": 'codex_pool_requests_total{status_class="4xx"} > 0',
    "request latency": 'histogram_quantile(0.5, sum by (le, route) (rate(codex_pool_request_duration_seconds_bucket[1m])))',
    "overhead histogram": 'codex_pool_overhead_seconds_count > 0',
    "ttfb histogram": 'codex_pool_time_to_first_byte_seconds_count > 0',
    "in flight": 'codex_pool_inflight_requests',
    "attempts ok": 'codex_pool_upstream_attempts_total{outcome="ok"} > 0',
    "tokens input": 'codex_pool_tokens_total{api_key="ci",model="gpt-5.4",kind="input"} > 0',
    "tokens cached_input": 'codex_pool_tokens_total{kind="cached_input"} > 0',
    "tokens output": 'codex_pool_tokens_total{kind="output"} > 0',
    "tokens reasoning": 'codex_pool_tokens_total{kind="reasoning"} > 0',
    "tokens other model": 'codex_pool_tokens_total{model="other"} > 0',
    "account state": 'sum by (account) (codex_pool_account_state) == 1',
    "account ready again": 'codex_pool_account_state{account="acc1",state="ready"} == 1',
    "account cooled": 'max_over_time(codex_pool_account_state{state="cooling"}[1m]) == 1',
    "token expiry": 'codex_pool_account_token_expiry_timestamp_seconds - time() > 0',
    "cooldown gauge": 'codex_pool_account_cooldown_until_timestamp_seconds',
    "token refreshed": 'codex_pool_token_refreshes_total{account="acc2",outcome="ok"} > 0',
    "client rate limited": 'codex_pool_client_rate_limited_total{api_key="limited"} > 0',
    "config reload": 'codex_pool_config_reloads_total{outcome="ok"} > 0',
    "server errors": 'codex_pool_requests_total{route="chat",status_class="5xx"} > 0',
    "failovers": 'codex_pool_failovers_total{from_account="acc1",reason="connect_error"} > 0',
    "attempts connect_error": 'codex_pool_upstream_attempts_total{outcome="connect_error"} > 0',
    "upstream latency": 'codex_pool_upstream_duration_seconds_count > 0',
    "quota used (usage probe)": 'codex_pool_account_quota_used_percent{window=~"primary|secondary"}',
    "quota reset (usage probe)": 'codex_pool_account_quota_reset_timestamp_seconds > time()',
    "build info": 'codex_pool_build_info == 1',
}

def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with opener.open(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except Exception:
            return {"status": "error", "error": f"HTTP {e.code}"}
    except Exception as e:
        return {"status": "error", "error": str(e)}

bad = 0
for where, expr in exprs:
    q = substitute(expr)
    r = query(q)
    n = len(r.get("data", {}).get("result", [])) if r.get("status") == "success" else 0
    if r.get("status") != "success":
        bad += 1
        print(f"FAIL {where}: {r.get('errorType', '')} {r.get('error')}\n     {q}")
    elif where.startswith("variable") and n == 0:
        bad += 1
        print(f"FAIL {where}: no values\n     {q}")
    else:
        print(f"ok   {where}: {n} series")
for name, expr in CORE.items():
    r = query(expr)
    n = len(r.get("data", {}).get("result", [])) if r.get("status") == "success" else 0
    if n == 0:
        bad += 1
        print(f"FAIL core {name}: {r.get('status')} {r.get('error', 'no data')}\n     {expr}")
    else:
        print(f"ok   core {name}: {n} series")

# The alert rules as Prometheus loaded and evaluated them.
try:
    with opener.open(prom + "/api/v1/rules", timeout=10) as resp:
        rules = [r for g in json.load(resp)["data"]["groups"] for r in g["rules"]]
    with open(alerts_path) as f:
        want = len(re.findall(r"^\s*-\s*(?:alert|record):", f.read(), re.M))
    if len(rules) != want:
        bad += 1
        print(f"FAIL prometheus loaded {len(rules)} rules, the file has {want}")
    for r in rules:
        if r.get("health") != "ok":
            bad += 1
            print(f"FAIL rule {r.get('name')}: health {r.get('health')} {r.get('lastError', '')}")
        if r.get("state") == "firing":
            print(f"note rule {r.get('name')} is firing in this run")
except Exception as e:
    bad += 1
    print(f"FAIL cannot read /api/v1/rules: {e}")

print(f"SUMMARY {len(exprs)} expressions, {len(CORE)} core checks, {bad} failed")
sys.exit(1 if bad else 0)
PY
query_rc=$?
set -e
cat "$tmp/queries.out"
if [[ $query_rc != 0 ]]; then
  while IFS= read -r line; do fail "${line#FAIL }"; done < <(grep '^FAIL' "$tmp/queries.out" || true)
  ((${#failures[@]} > 0)) || fail "the query check failed (exit $query_rc)"
fi
summary=$(grep '^SUMMARY' "$tmp/queries.out" || echo "SUMMARY (none)")

# ---------------------------------------------------------------- summary
elapsed=$(($(date +%s) - started))
echo
echo "check-prometheus: ${summary#SUMMARY }; $accepted accepted lint finding(s); ${elapsed}s"
if ((${#failures[@]} > 0)); then
  echo "check-prometheus: ${#failures[@]} failure(s):" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "check-prometheus: all checks passed"
