//! `GET /metrics` after scripted traffic, per request: requests by route,
//! status class and code, upstream attempts and failovers, tokens, the
//! latency histograms, in-flight requests. Each test reads exact series
//! (name + full label set) from the text exposition.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_success_counts_one_request_one_attempt_and_the_usage_tokens() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "a");

    let s = gw.scrape().await;
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
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
}

#[tokio::test]
async fn streams_and_the_responses_route_count_per_route_and_tokens_add_up() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
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

    let s = gw.scrape().await;
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
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
}

#[tokio::test]
async fn a_model_outside_the_catalog_is_labelled_other() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("my-private-model-7", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    let s = gw.scrape().await;
    assert_tokens(&s, "a", "-", "other", 1.0);
    assert!(
        !s.contains("my-private-model-7"),
        "an unknown model name became a label value:\n{s}"
    );
}

#[tokio::test]
async fn client_keys_label_tokens_and_count_rate_limited_requests() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .key("team", |k| k.secret("sk-team-1").rpm(1))
        .start()
        .await;
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

    let s = gw.scrape().await;
    assert_tokens(&s, "a", "team", "gpt-5.4", 1.0);
    assert_eq!(
        value(
            &s,
            "codex_pool_client_rate_limited_total",
            &[("api_key", "team")]
        ),
        1.0
    );
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
    assert_counted_as_seen(&s, "chat", limited, &limited_body);
    assert_counted_as_seen(&s, "chat", denied, &denied_body);
    assert_eq!(
        attempts(&s, "a", "ok"),
        1.0,
        "refused requests never reach upstream"
    );
    assert_eq!(mock.responses().len(), 1);
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
}

#[tokio::test]
async fn when_every_account_fails_the_request_is_counted_with_the_code_the_client_saw() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[pool]\noutlier_failures = 1")
        .start()
        .await;
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

    let s = gw.scrape().await;
    assert_counted_as_seen(&s, "chat", status, &text);
    assert_eq!(metric(&s, REQUESTS, &ok_on("chat")), None);
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
}

/// A stream that fails after its first byte reached the client: one
/// upstream request, counted once (as `ok` at its first output), no
/// failover; the failure is the request's code.
#[tokio::test]
async fn a_stream_failing_after_the_first_byte_is_one_attempt_counted_with_its_kind() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.script("a", Script::Events(failing_stream()));
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat_stream("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        mock.accounts_hit(),
        ["a"],
        "no failover once output reached the client"
    );

    let s = gw.scrape().await;
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
    assert_eq!(attempts(&s, "a", "ok"), 1.0);
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
    assert!(!has_series(&s, FAILOVERS), "{s}");
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
}

#[tokio::test]
async fn the_code_label_stays_bounded_whatever_upstream_says() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    for i in 0..3 {
        let body = json!({"error": {"type": format!("made_up_code_{i}"), "message": "no"}});
        mock.script("a", Script::Status(400, body.to_string(), vec![]));
        let (status, _, text) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await;
        assert_eq!(status, 400, "{text}");
    }
    let s = gw.scrape().await;
    assert!(
        !s.contains("made_up_code_"),
        "upstream's error codes became label values:\n{s}"
    );
}
