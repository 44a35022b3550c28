//! `dashboards/codex-pool.json` and `dashboards/alerts.yml` against a live scrape:
//! the dashboard is an importable Grafana object with the promised rows and
//! variables, and every PromQL expression (dashboard and alerts) names only
//! metrics, labels and label values the gateway really exposes.
//!
//! Whether the expressions parse and evaluate is checked by a real Prometheus in
//! `scripts/check-prometheus.sh`; this test needs no external tool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use crate::support::redis_server::Redis;
use crate::support::*;

mod alerts;
mod promql;

use alerts::alert_exprs;
use promql::*;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dashboard() -> Value {
    serde_json::from_str(&read("dashboards/codex-pool.json"))
        .unwrap_or_else(|e| panic!("dashboards/codex-pool.json: {e}"))
}

/// A live scrape after traffic that creates every series the gateway can emit.
async fn live_families() -> BTreeMap<String, Family> {
    let mock = Mock::start().await;
    // The store's gauge exists only with [store], so this gateway has one,
    // on a real Redis: the alert on it is checked against the real family.
    let redis = Redis::start().await;
    let keys = tempfile::tempdir().unwrap();
    // One failure cools an account here, so a cooling series exists.
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .key("team", |k| k.secret("sk-team-key"))
        .store(&redis.url(), &cli::store_key(keys.path()))
        .toml("[pool]\noutlier_failures = 1")
        .start()
        .await;
    gw.store_up().await;
    let key = [("authorization", "Bearer sk-team-key")];
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "42"),
            ("x-codex-primary-reset-at", "1900000000"),
            ("x-codex-secondary-used-percent", "7"),
            ("x-codex-secondary-reset-after-seconds", "600"),
        ],
    );
    let ok = |(status, _, text): (u16, reqwest::header::HeaderMap, String)| {
        assert_eq!(status, 200, "{text}")
    };
    ok(gw
        .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &key)
        .await);
    ok(gw
        .post_with(
            "/v1/responses",
            &json!({"model": "gpt-5.4", "input": "hi", "stream": true}),
            &key,
        )
        .await);
    // a fails over to b (failovers, a cooling), then b fails alone (5xx).
    mock.script("a", Script::Status(500, "{}".into(), vec![]));
    ok(gw
        .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &key)
        .await);
    mock.script("b", Script::Status(500, "{}".into(), vec![]));
    let (status, _, _) = gw
        .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &key)
        .await;
    assert!(status >= 500);
    let (status, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("authorization", "Bearer wrong")],
        )
        .await;
    assert_eq!(status, 401);
    let scrape = gw.scrape().await;
    let fams = families(&scrape);
    for name in [
        "codex_pool_failovers_total",
        "codex_pool_account_quota_used_percent",
        "codex_pool_account_quota_reset_timestamp_seconds",
        "codex_pool_tokens_total",
    ] {
        assert!(
            fams.contains_key(name),
            "the traffic did not create {name}:\n{scrape}"
        );
    }
    fams
}

// ------------------------------------------------------------------ the dashboard

/// Panels in order, with the title of the row each one sits in.
fn panels_by_row(d: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut row = String::new();
    for p in d["panels"].as_array().expect("panels") {
        if p["type"] == "row" {
            row = p["title"].as_str().unwrap_or("").to_string();
            for inner in p["panels"].as_array().into_iter().flatten() {
                out.push((row.clone(), inner.clone()));
            }
            continue;
        }
        out.push((row.clone(), p.clone()));
    }
    out
}

fn exprs_of(panel: &Value) -> Vec<(String, String)> {
    panel["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["expr"].as_str().unwrap_or("").to_string(),
                t["legendFormat"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_dashboard_is_an_importable_grafana_object() {
    let d = dashboard();
    assert_eq!(d["title"], "codex-pool");
    assert!(d["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty() && u.len() <= 40));
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 39),
        "schemaVersion {}",
        d["schemaVersion"]
    );
    assert!(
        d["id"].is_null(),
        "an exported dashboard has no database id"
    );
    let input = &d["__inputs"][0];
    assert_eq!(input["type"], "datasource");
    assert_eq!(input["pluginId"], "prometheus");

    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let ds = var("datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    for (name, metric, label) in [
        ("account", "codex_pool_account_state", "account"),
        ("api_key", "codex_pool_tokens_total", "api_key"),
    ] {
        let v = var(name);
        assert_eq!(v["type"], "query", "${name}");
        assert_eq!(
            v["datasource"],
            json!({"type": "prometheus", "uid": "${datasource}"}),
            "${name}"
        );
        let query = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or("");
        assert_eq!(query, format!("label_values({metric}, {label})"), "${name}");
        assert_eq!(v["includeAll"], true, "${name}");
        assert_eq!(
            v["allValue"], ".*",
            "${name}: All must be a regex the exprs can use with =~"
        );
    }

    let mut ids = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate panel id {}",
            p["id"]
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "{}: gridPos {g}",
            p["title"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"]
            .as_array()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| panic!("{}: no targets", p["title"]));
        let mut refs = BTreeSet::new();
        for t in targets {
            assert_eq!(
                t["datasource"],
                json!({"type": "prometheus", "uid": "${datasource}"}),
                "{}",
                p["title"]
            );
            assert!(
                t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                "{}: empty expr",
                p["title"]
            );
            assert!(
                refs.insert(t["refId"].as_str().unwrap().to_string()),
                "{}: duplicate refId",
                p["title"]
            );
        }
    }
}

#[test]
fn the_dashboard_has_the_promised_rows_and_panels() {
    let d = dashboard();
    let rows: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(
        rows,
        [
            "Overview",
            "Accounts",
            "Usage",
            "Failovers and refreshes",
            "Conversations"
        ]
    );
    let panels = panels_by_row(&d);
    let row_exprs = |row: &str| -> String {
        panels
            .iter()
            .filter(|(r, _)| r == row)
            .flat_map(|(_, p)| exprs_of(p))
            .map(|(e, _)| e)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let conversations = row_exprs("Conversations");
    for needle in [
        "codex_pool_affinity_total",
        "kind=\"cached_input\"",
        "sum by (account) (rate(codex_pool_tokens_total{kind=\"cached_input\"",
        "sum by (api_key) (rate(codex_pool_tokens_total{kind=\"cached_input\"",
    ] {
        assert!(
            conversations.contains(needle),
            "Conversations lacks {needle}"
        );
    }
    let overview = row_exprs("Overview");
    for needle in [
        "rate(codex_pool_requests_total",
        "code!=\"ok\"",
        "histogram_quantile(0.5, sum by (le, route) (rate(codex_pool_request_duration_seconds_bucket",
        "histogram_quantile(0.95, sum by (le, route) (rate(codex_pool_request_duration_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, route) (rate(codex_pool_request_duration_seconds_bucket",
        "histogram_quantile(0.5, sum by (le, route) (rate(codex_pool_overhead_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, route) (rate(codex_pool_overhead_seconds_bucket",
        "codex_pool_time_to_first_byte_seconds_bucket",
        "codex_pool_inflight_requests",
    ] {
        assert!(overview.contains(needle), "Overview lacks {needle}");
    }
    let accounts = row_exprs("Accounts");
    for needle in [
        "codex_pool_account_quota_used_percent",
        "codex_pool_account_quota_reset_timestamp_seconds",
        "codex_pool_account_cooldown_until_timestamp_seconds",
        "codex_pool_account_token_expiry_timestamp_seconds{account=~\"$account\"}) - time()",
    ] {
        assert!(accounts.contains(needle), "Accounts lacks {needle}");
    }
    let timeline = panels
        .iter()
        .find(|(_, p)| p["type"] == "state-timeline")
        .expect("a state-timeline panel");
    assert_eq!(timeline.0, "Accounts");
    assert!(exprs_of(&timeline.1)
        .iter()
        .all(|(e, _)| e.contains("codex_pool_account_state")));
    let usage = row_exprs("Usage");
    for by in ["sum by (account", "sum by (api_key)", "sum by (model)"] {
        assert!(
            usage.contains(by) && usage.contains("codex_pool_tokens_total"),
            "Usage lacks tokens {by}"
        );
    }
    let failovers = row_exprs("Failovers and refreshes");
    for needle in [
        "sum by (reason) (rate(codex_pool_failovers_total",
        "sum by (outcome) (rate(codex_pool_upstream_attempts_total",
        "codex_pool_token_refreshes_total",
        "codex_pool_client_rate_limited_total",
        "codex_pool_config_reloads_total",
    ] {
        assert!(
            failovers.contains(needle),
            "Failovers and refreshes lacks {needle}"
        );
    }
    // Variables are used: per-account panels follow $account, token panels $api_key.
    assert!(accounts.matches("account=~\"$account\"").count() >= 5);
    assert!(usage.contains("api_key=~\"$api_key\""));
}

// ------------------------------------------------------------------ against the live scrape

#[tokio::test]
async fn every_expression_names_metrics_labels_and_values_the_gateway_exposes() {
    let fams = live_families().await;
    let mut problems = Vec::new();
    let mut checked = 0;
    for (row, panel) in panels_by_row(&dashboard()) {
        for (i, (expr, legend)) in exprs_of(&panel).into_iter().enumerate() {
            let where_ = format!("{row} / {} #{i}", panel["title"].as_str().unwrap_or("?"));
            problems.extend(check_expr(&where_, &expr, &fams));
            let groups = grouping_labels(&expr);
            for l in legend_labels(&legend) {
                if !groups.contains(&l) {
                    problems.push(format!(
                        "{where_}: legend {{{{{l}}}}} is not a label the query keeps ({groups:?})"
                    ));
                }
            }
            checked += 1;
        }
    }
    let d = dashboard();
    for v in d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
    {
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or("");
        let (metric, label) = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once(','))
            .unwrap();
        problems.extend(check_expr(
            &format!("variable ${}", v["name"]),
            metric.trim(),
            &fams,
        ));
        let label = label.trim();
        if !fams
            .get(metric.trim())
            .is_some_and(|f| f.labels.contains_key(label))
        {
            problems.push(format!(
                "variable ${}: {metric} has no label {label}",
                v["name"]
            ));
        }
    }
    let alerts = alert_exprs(&read("dashboards/alerts.yml"));
    assert!(alerts.len() >= 6);
    for (name, expr) in &alerts {
        problems.extend(check_expr(&format!("alert {name}"), expr, &fams));
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} expressions found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_wrong_names_labels_and_values() {
    let scrape = "# TYPE codex_pool_failovers_total counter\ncodex_pool_failovers_total{from_account=\"a\",reason=\"server_error\"} 1\n\
                  # TYPE codex_pool_overhead_seconds histogram\ncodex_pool_overhead_seconds_bucket{route=\"chat\",le=\"0.005\"} 1\n\
                  codex_pool_overhead_seconds_sum{route=\"chat\"} 0.001\ncodex_pool_overhead_seconds_count{route=\"chat\"} 1\n";
    let fams = families(scrape);
    let bad = |e: &str| !check_expr("t", e, &fams).is_empty();
    assert!(!bad(
        "sum by (reason) (rate(codex_pool_failovers_total{from_account=~\"$account\"}[5m]))"
    ));
    assert!(!bad("histogram_quantile(0.99, sum by (le, route, instance) (rate(codex_pool_overhead_seconds_bucket[5m])))"));
    assert!(bad("rate(codex_pool_failover_total[5m])"), "unknown metric");
    assert!(
        bad("rate(codex_pool_failovers_total{account=\"a\"}[5m])"),
        "unknown label"
    );
    assert!(
        bad("rate(codex_pool_failovers_total{reason=\"server_eror\"}[5m])"),
        "unknown value"
    );
    assert!(
        bad("rate(codex_pool_failovers_total{reason=~\"server_error|timeuot\"}[5m])"),
        "unknown alternative"
    );
    assert!(
        bad("sum by (account) (rate(codex_pool_failovers_total[5m]))"),
        "unknown grouping label"
    );
    assert!(
        bad("codex_pool_overhead_seconds"),
        "a histogram without suffix"
    );
    assert!(
        bad("codex_pool_failovers_total_bucket"),
        "_bucket of a counter"
    );
}
