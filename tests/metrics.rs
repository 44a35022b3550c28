//! `GET /metrics` values after scripted traffic: requests, attempts, failovers,
//! tokens, account gauges, refreshes, reloads, and the request id round trip.
//!
//! Each test drives an in-process gateway against the mock and reads exact
//! series (name + full label set) from the text exposition.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const REQUESTS: &str = "codex_pool_requests_total";
const ATTEMPTS: &str = "codex_pool_upstream_attempts_total";
const FAILOVERS: &str = "codex_pool_failovers_total";
const TOKENS: &str = "codex_pool_tokens_total";
const STATE: &str = "codex_pool_account_state";
const COOLDOWN: &str = "codex_pool_account_cooldown_until_timestamp_seconds";
const EXPIRY: &str = "codex_pool_account_token_expiry_timestamp_seconds";
const INFLIGHT: &str = "codex_pool_inflight_requests";
const REFRESHES: &str = "codex_pool_token_refreshes_total";
const RELOADS: &str = "codex_pool_config_reloads_total";

async fn scrape(gw: &Gateway) -> String {
    let (status, body) = gw.get("/metrics", &[]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of one series; panics with the scrape when it is missing.
fn value(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(scrape, name, labels)
        .unwrap_or_else(|| panic!("no {name}{labels:?} in the scrape:\n{scrape}"))
}

/// Whether any series of `name` exists.
fn has_series(scrape: &str, name: &str) -> bool {
    scrape.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

/// Scrapes until `ready` holds (the gateway records some outcomes after the client is done).
async fn scrape_until(gw: &Gateway, what: &str, ready: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let s = scrape(gw).await;
        if ready(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never showed in the scrape:\n{}", scrape(gw).await);
}

fn attempts(s: &str, account: &str, outcome: &str) -> f64 {
    metric(s, ATTEMPTS, &[("account", account), ("outcome", outcome)]).unwrap_or(0.0)
}

fn state_is(s: &str, account: &str, want: &str) {
    for st in ["ready", "cooling", "disabled", "needs_relogin"] {
        let v = value(s, STATE, &[("account", account), ("state", st)]);
        assert_eq!(
            v,
            f64::from(u8::from(st == want)),
            "{account} state {st}:\n{s}"
        );
    }
}

/// requests_total for the status and code the client actually saw.
fn assert_counted_as_seen(s: &str, route: &str, status: u16, body: &str) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    let class = format!("{}xx", status / 100);
    assert_eq!(
        metric(
            s,
            REQUESTS,
            &[("route", route), ("status_class", &class), ("code", code)]
        ),
        Some(1.0),
        "{route} {class} {code}:\n{s}"
    );
}

fn assert_tokens(s: &str, account: &str, api_key: &str, model: &str, times: f64) {
    // The mock's usage: input 21 (5 cached), output 9 (3 reasoning).
    for (kind, n) in [
        ("input", 16.0),
        ("cached_input", 5.0),
        ("output", 6.0),
        ("reasoning", 3.0),
    ] {
        let labels = [
            ("account", account),
            ("api_key", api_key),
            ("model", model),
            ("kind", kind),
        ];
        assert_eq!(value(s, TOKENS, &labels), n * times, "{kind}");
    }
}

fn near(got: f64, want: f64, slack: f64) -> bool {
    (got - want).abs() <= slack
}

#[tokio::test]
async fn a_success_counts_one_request_one_attempt_and_the_usage_tokens() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "a");

    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(&s, ATTEMPTS, &[("account", "a"), ("outcome", "ok")]),
        1.0
    );
    assert_eq!(
        value(&s, ATTEMPTS, &[("account", "b"), ("outcome", "ok")]),
        0.0,
        "pre-created at zero"
    );
    assert_tokens(&s, "a", "-", "gpt-5.4", 1.0);
    assert!(!has_series(&s, FAILOVERS), "no failover happened:\n{s}");

    for h in [
        "codex_pool_request_duration_seconds",
        "codex_pool_time_to_first_byte_seconds",
        "codex_pool_overhead_seconds",
    ] {
        assert_eq!(
            value(&s, &format!("{h}_count"), &[("route", "chat")]),
            1.0,
            "{h}"
        );
    }
    assert_eq!(
        value(
            &s,
            "codex_pool_upstream_duration_seconds_count",
            &[("account", "a")]
        ),
        1.0
    );
    let sum = |h: &str| {
        value(
            &s,
            &format!("codex_pool_{h}_seconds_sum"),
            &[("route", "chat")],
        )
    };
    assert!(
        sum("overhead") <= sum("time_to_first_byte"),
        "overhead is a part of time to first byte"
    );
    assert!(
        sum("time_to_first_byte") <= sum("request_duration"),
        "ttfb is a part of the request"
    );
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    assert_eq!(
        value(
            &s,
            "codex_pool_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    state_is(&s, "a", "ready");
    state_is(&s, "b", "ready");
    assert_eq!(value(&s, COOLDOWN, &[("account", "a")]), 0.0);
    let expiry = value(&s, EXPIRY, &[("account", "a")]);
    assert!(
        near(expiry, now() as f64 + 3600.0, 60.0),
        "token expiry {expiry}"
    );
    // Pre-created so dashboards see zeros, not gaps.
    assert_eq!(
        value(&s, REFRESHES, &[("account", "b"), ("outcome", "failed")]),
        0.0
    );
    assert_eq!(value(&s, RELOADS, &[("outcome", "invalid")]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn streams_and_the_responses_route_count_per_route_and_tokens_add_up() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    // A streamed chat without include_usage: the client gets no usage, the metric still does.
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let (status, _, text) = gw
        .post("/v1/responses", &json!({"model": "gpt-5.4", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{text}");
    let (status, _, text) = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.4", "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(status, 200, "{text}");

    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[
                ("route", "responses"),
                ("status_class", "2xx"),
                ("code", "ok")
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "codex_pool_request_duration_seconds_count",
            &[("route", "responses")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "codex_pool_time_to_first_byte_seconds_count",
            &[("route", "responses")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "codex_pool_overhead_seconds_count",
            &[("route", "chat")]
        ),
        1.0
    );
    assert_eq!(
        value(&s, ATTEMPTS, &[("account", "a"), ("outcome", "ok")]),
        3.0
    );
    assert_tokens(&s, "a", "-", "gpt-5.4", 3.0);
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn a_model_outside_the_catalog_is_labelled_other() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("my-private-model-7", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    let s = scrape(&gw).await;
    assert_tokens(&s, "a", "-", "other", 1.0);
    assert!(
        !s.contains("my-private-model-7"),
        "an unknown model name became a label value:\n{s}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn client_keys_label_tokens_and_count_rate_limited_requests() {
    let mock = Mock::start().await;
    let extra = "[[api_keys]]\nname = \"team\"\nkey = \"sk-team-1\"\nrequests_per_minute = 1\n";
    let gw = Gateway::start(&mock, &["a"], extra).await;
    let auth = [("authorization", "Bearer sk-team-1")];
    let (status, _, text) = gw
        .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &auth)
        .await;
    assert_eq!(status, 200, "{text}");
    let (limited, _, limited_body) = gw
        .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &auth)
        .await;
    assert_eq!(limited, 429, "{limited_body}");
    let (denied, _, denied_body) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(denied, 401, "{denied_body}");

    let s = scrape(&gw).await;
    assert_tokens(&s, "a", "team", "gpt-5.4", 1.0);
    assert_eq!(
        value(
            &s,
            "codex_pool_client_rate_limited_total",
            &[("api_key", "team")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    assert_counted_as_seen(&s, "chat", limited, &limited_body);
    assert_counted_as_seen(&s, "chat", denied, &denied_body);
    assert_eq!(
        attempts(&s, "a", "ok"),
        1.0,
        "refused requests never reach upstream"
    );
    assert_eq!(mock.responses().len(), 1);
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn a_server_error_fails_over_and_cools_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "[pool]\noutlier_failures = 1\n").await;
    mock.script(
        "a",
        Script::Status(500, r#"{"error":{"message":"boom"}}"#.into(), vec![]),
    );
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);

    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            FAILOVERS,
            &[("from_account", "a"), ("reason", "server_error")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &s,
            FAILOVERS,
            &[("from_account", "b"), ("reason", "server_error")]
        ),
        None
    );
    assert_eq!(attempts(&s, "a", "server_error"), 1.0);
    assert_eq!(attempts(&s, "a", "ok"), 0.0);
    assert_eq!(attempts(&s, "b", "ok"), 1.0);
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "codex_pool_upstream_duration_seconds_count",
            &[("account", "a")]
        ),
        1.0
    );
    assert_tokens(&s, "b", "-", "gpt-5.4", 1.0);
    state_is(&s, "a", "cooling");
    state_is(&s, "b", "ready");
    let until = value(&s, COOLDOWN, &[("account", "a")]);
    let t = now() as f64;
    assert!(
        until >= t - 1.0 && until <= t + 301.0,
        "cooldown until {until}, now {t}"
    );
    assert_eq!(value(&s, COOLDOWN, &[("account", "b")]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn a_usage_limit_cools_the_account_until_upstream_says() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    let resets_at = now() + 3600;
    let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_at": resets_at}});
    mock.script("a", Script::Status(429, body.to_string(), vec![]));
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");

    let s = scrape(&gw).await;
    assert_eq!(attempts(&s, "a", "usage_limited"), 1.0);
    assert_eq!(
        value(
            &s,
            FAILOVERS,
            &[("from_account", "a"), ("reason", "usage_limited")]
        ),
        1.0
    );
    state_is(&s, "a", "cooling");
    let until = value(&s, COOLDOWN, &[("account", "a")]);
    assert!(
        near(until, resets_at as f64, 2.0),
        "cooldown until {until}, resets_at {resets_at}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn when_every_account_fails_the_request_is_counted_with_the_code_the_client_saw() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "[pool]\noutlier_failures = 1\n").await;
    for account in ["a", "b"] {
        mock.script(
            account,
            Script::Status(502, "<html>bad gateway</html>".into(), vec![]),
        );
    }
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert!(status >= 500, "{status} {text}");

    let s = scrape(&gw).await;
    assert_counted_as_seen(&s, "chat", status, &text);
    assert_eq!(
        metric(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        None
    );
    assert_eq!(
        value(
            &s,
            FAILOVERS,
            &[("from_account", "a"), ("reason", "server_error")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &s,
            FAILOVERS,
            &[("from_account", "b"), ("reason", "server_error")]
        ),
        None,
        "b was the last candidate"
    );
    assert_eq!(attempts(&s, "a", "server_error"), 1.0);
    assert_eq!(attempts(&s, "b", "server_error"), 1.0);
    assert_eq!(
        value(
            &s,
            "codex_pool_request_duration_seconds_count",
            &[("route", "chat")]
        ),
        1.0
    );
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    state_is(&s, "a", "cooling");
    state_is(&s, "b", "cooling");
    gw.stop().await;
}

#[tokio::test]
async fn a_bad_request_is_not_failed_over_and_does_not_cool_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("no-such-model", "hi"))
        .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(mock.accounts_hit(), ["a"]);

    let s = scrape(&gw).await;
    assert_eq!(attempts(&s, "a", "bad_request"), 1.0);
    assert!(!has_series(&s, FAILOVERS), "{s}");
    assert_counted_as_seen(&s, "chat", status, &text);
    state_is(&s, "a", "ready");
    gw.stop().await;
}

#[tokio::test]
async fn quota_gauges_follow_the_response_headers() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "42"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1900000000"),
        ],
    );
    let s = scrape(&gw).await;
    assert!(
        !has_series(&s, "codex_pool_account_quota_used_percent"),
        "no reading yet:\n{s}"
    );
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");

    let s = scrape(&gw).await;
    let used = "codex_pool_account_quota_used_percent";
    let reset = "codex_pool_account_quota_reset_timestamp_seconds";
    assert_eq!(
        value(&s, used, &[("account", "a"), ("window", "primary")]),
        42.0
    );
    assert_eq!(
        value(&s, reset, &[("account", "a"), ("window", "primary")]),
        1_900_000_000.0
    );
    assert_eq!(
        metric(&s, used, &[("account", "a"), ("window", "secondary")]),
        None
    );
    assert_eq!(
        metric(&s, used, &[("account", "b"), ("window", "primary")]),
        None
    );

    // A newer reading replaces the old one.
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "97.5"),
            ("x-codex-secondary-used-percent", "12"),
        ],
    );
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    let s = scrape(&gw).await;
    assert_eq!(
        value(&s, used, &[("account", "a"), ("window", "primary")]),
        97.5
    );
    assert_eq!(
        value(&s, used, &[("account", "a"), ("window", "secondary")]),
        12.0
    );
    gw.stop().await;
}

/// A stream that fails after its first output: created, one text delta, then `response.failed`.
fn failing_stream() -> Vec<Value> {
    vec![
        json!({"type": "response.created", "response": {"id": "resp_f", "model": "gpt-5.4"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"}),
        json!({"type": "response.failed", "response": {"id": "resp_f", "status": "failed", "error": {"code": "server_error", "message": "upstream broke"}}}),
    ]
}

#[tokio::test]
async fn a_stream_failing_after_the_first_byte_is_counted_with_its_kind() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script("a", Script::Events(failing_stream()));
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        mock.accounts_hit(),
        ["a"],
        "no failover once output reached the client"
    );

    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[
                ("route", "chat"),
                ("status_class", "2xx"),
                ("code", "stream_failed")
            ]
        ),
        1.0
    );
    // The attempt counted once, as ok at its first output; the failure is the request's code.
    assert_eq!(attempts(&s, "a", "ok"), 1.0);
    assert!(!has_series(&s, FAILOVERS), "{s}");
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_failing_after_the_first_byte_is_one_attempt() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    mock.script("a", Script::Events(failing_stream()));
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(mock.responses().len(), 1);
    let s = scrape(&gw).await;
    let total: f64 = [
        "ok",
        "usage_limited",
        "rate_limited",
        "auth_failed",
        "cloudflare_blocked",
        "server_error",
        "timeout",
        "connect_error",
        "bad_request",
        "stream_failed",
    ]
    .iter()
    .map(|o| attempts(&s, "a", o))
    .sum();
    assert_eq!(
        total, 1.0,
        "one upstream request, counted {total} times:\n{s}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_non_streamed_request_fails_over_after_a_mid_stream_failure() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script("a", Script::Events(failing_stream()));
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");

    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            FAILOVERS,
            &[("from_account", "a"), ("reason", "stream_failed")]
        ),
        1.0
    );
    assert_eq!(attempts(&s, "a", "stream_failed"), 1.0);
    assert_eq!(attempts(&s, "a", "ok"), 0.0);
    assert_eq!(attempts(&s, "b", "ok"), 1.0);
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    assert_tokens(&s, "b", "-", "gpt-5.4", 1.0);
    gw.stop().await;
}

#[tokio::test]
async fn the_code_label_stays_bounded_whatever_upstream_says() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    for i in 0..3 {
        let body = json!({"error": {"type": format!("made_up_code_{i}"), "message": "no"}});
        mock.script("a", Script::Status(400, body.to_string(), vec![]));
        let (status, _, text) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await;
        assert_eq!(status, 400, "{text}");
    }
    let s = scrape(&gw).await;
    assert!(
        !s.contains("made_up_code_"),
        "upstream's error codes became label values:\n{s}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_is_counted_and_leaves_nothing_in_flight() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let events = mock::text_events(
        "gpt-5.4",
        &["one", " two", " three", " four", " five", " six"],
    );
    mock.script("a", Script::Slow(events, Duration::from_millis(100)));
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resp = resp;
    let first = resp.chunk().await.unwrap();
    assert!(first.is_some());
    let s = scrape(&gw).await;
    assert_eq!(value(&s, INFLIGHT, &[]), 1.0, "the stream is being served");
    drop(resp);

    let s = scrape_until(&gw, "the disconnect", |s| {
        metric(
            s,
            REQUESTS,
            &[
                ("route", "chat"),
                ("status_class", "4xx"),
                ("code", "client_disconnected"),
            ],
        ) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    assert_eq!(
        metric(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        None
    );
    assert_eq!(
        value(
            &s,
            "codex_pool_request_duration_seconds_count",
            &[("route", "chat")]
        ),
        1.0
    );
    gw.stop().await;
}

#[tokio::test]
async fn inflight_counts_a_stream_until_its_end() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let events = mock::text_events("gpt-5.4", &["one", " two", " three"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(50)));
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let mut resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.chunk().await.unwrap().is_some());
    assert_eq!(value(&scrape(&gw).await, INFLIGHT, &[]), 1.0);
    while resp.chunk().await.unwrap().is_some() {}
    let s = scrape(&gw).await;
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    assert_eq!(
        value(
            &s,
            REQUESTS,
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        1.0
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_its_expiry_gauge_moves() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 60),
        "rt-a",
    );
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 7200),
        "rt-b",
    );
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a", "b"], "")).await;

    let s = scrape_until(&gw, "the refresh of a", |s| {
        metric(s, REFRESHES, &[("account", "a"), ("outcome", "ok")]) == Some(1.0)
    })
    .await;
    let expiry = value(&s, EXPIRY, &[("account", "a")]);
    assert!(
        near(expiry, now() as f64 + 3600.0, 60.0),
        "refreshed token expiry {expiry}"
    );
    assert!(near(
        value(&s, EXPIRY, &[("account", "b")]),
        now() as f64 + 7200.0,
        60.0
    ));
    assert_eq!(
        value(&s, REFRESHES, &[("account", "b"), ("outcome", "ok")]),
        0.0
    );
    assert_eq!(
        value(&s, REFRESHES, &[("account", "a"), ("outcome", "failed")]),
        0.0
    );
    state_is(&s, "a", "ready");
    gw.stop().await;
}

#[tokio::test]
async fn a_refused_refresh_counts_needs_relogin_and_shows_the_state() {
    let mock = Mock::start().await;
    mock.token_answer(
        401,
        json!({"error": {"code": "refresh_token_expired", "message": "expired"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 60),
        "rt-a",
    );
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 7200),
        "rt-b",
    );
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a", "b"], "")).await;

    let s = scrape_until(&gw, "the refused refresh of a", |s| {
        metric(
            s,
            REFRESHES,
            &[("account", "a"), ("outcome", "needs_relogin")],
        ) == Some(1.0)
            && metric(s, STATE, &[("account", "a"), ("state", "needs_relogin")]) == Some(1.0)
    })
    .await;
    state_is(&s, "a", "needs_relogin");
    assert_eq!(
        value(&s, REFRESHES, &[("account", "a"), ("outcome", "ok")]),
        0.0
    );

    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");
    gw.stop().await;
}

#[tokio::test]
async fn a_transient_refresh_failure_counts_failed() {
    let mock = Mock::start().await;
    mock.token_answer(
        400,
        json!({"error": {"code": "temporarily_unavailable", "message": "try later"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 60),
        "rt-a",
    );
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a"], "")).await;
    let s = scrape_until(&gw, "the failed refresh of a", |s| {
        metric(s, REFRESHES, &[("account", "a"), ("outcome", "failed")]).is_some_and(|v| v >= 1.0)
    })
    .await;
    assert_eq!(
        value(
            &s,
            REFRESHES,
            &[("account", "a"), ("outcome", "needs_relogin")]
        ),
        0.0
    );
    let expiry = value(&s, EXPIRY, &[("account", "a")]);
    assert!(
        near(expiry, now() as f64 + 60.0, 30.0),
        "the old token's expiry stays: {expiry}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn config_reloads_are_counted_by_outcome() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "[admin]\ntoken = \"admin-secret\"\n").await;
    let reload = || async {
        let resp = gw
            .client()
            .post(gw.url("/admin/reload"))
            .header("authorization", "Bearer admin-secret")
            .send()
            .await
            .unwrap();
        resp.status().as_u16()
    };
    assert_eq!(reload().await, 200);
    let s = scrape(&gw).await;
    assert_eq!(value(&s, RELOADS, &[("outcome", "ok")]), 1.0);
    assert_eq!(value(&s, RELOADS, &[("outcome", "invalid")]), 0.0);

    std::fs::write(&gw.config_path, "[upstream]\nbase_url = 42\n").unwrap();
    assert_ne!(reload().await, 200);
    let s = scrape_until(&gw, "the invalid reload", |s| {
        metric(s, RELOADS, &[("outcome", "invalid")]).is_some_and(|v| v >= 1.0)
    })
    .await;
    assert_eq!(value(&s, RELOADS, &[("outcome", "ok")]), 1.0);
    // The old config still serves.
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn a_disabled_account_shows_as_disabled() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    for a in ["a", "b"] {
        write_auth(
            &dir.path().join(format!("{a}.json")),
            a,
            &access_token(a, 3600),
            &format!("rt-{a}"),
        );
    }
    let text = config_text(&mock, &["a"], "")
        + "[[accounts]]\nname = \"b\"\nauth_file = \"b.json\"\nenabled = false\n";
    let gw = Gateway::start_with(&mock, dir, &text).await;
    let s = scrape(&gw).await;
    state_is(&s, "a", "ready");
    state_is(&s, "b", "disabled");
    assert_eq!(value(&s, COOLDOWN, &[("account", "b")]), 0.0);
    gw.stop().await;
}

#[tokio::test]
async fn the_client_request_id_comes_back_and_a_missing_one_is_generated() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let (status, headers, text) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", "req-abc-123")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-request-id"], "req-abc-123");

    let stream = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (_, headers, _) = gw
        .post_with(
            "/v1/chat/completions",
            &stream,
            &[("x-request-id", "req-stream-9")],
        )
        .await;
    assert_eq!(headers["x-request-id"], "req-stream-9");

    let mut generated = Vec::new();
    for _ in 0..2 {
        let (status, headers, text) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await;
        assert_eq!(status, 200, "{text}");
        let id = headers
            .get("x-request-id")
            .expect("a generated x-request-id")
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
        generated.push(id);
    }
    assert_ne!(generated[0], generated[1]);

    // Error answers carry it too, and an unusable id is replaced.
    let (status, headers, _) = gw
        .post_with("/v1/nope", &json!({}), &[("x-request-id", "req-404")])
        .await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-request-id"], "req-404");
    let (_, headers, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", &"x".repeat(200))],
        )
        .await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a 200-byte id is replaced: {id}");
    gw.stop().await;
}

/// Account gauges are rebuilt at scrape time (`observe_accounts`: reset, then set);
/// two scrapes at once must not see each other's half-rebuilt state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scrapes_all_see_every_account_series() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b", "c", "d"], "").await;
    let mut torn = 0;
    for _ in 0..20 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let client = gw.client();
            let url = gw.url("/metrics");
            set.spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
        }
        while let Some(s) = set.join_next().await {
            let s = s.unwrap();
            let states = s.lines().filter(|l| l.starts_with(STATE)).count();
            let expiries = s.lines().filter(|l| l.starts_with(EXPIRY)).count();
            if states != 16 || expiries != 4 {
                torn += 1;
            }
        }
    }
    assert_eq!(
        torn, 0,
        "{torn} of 160 concurrent scrapes missed account series"
    );
    gw.stop().await;
}
