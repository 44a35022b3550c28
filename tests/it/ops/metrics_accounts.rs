//! `GET /metrics` for the accounts: state and cooldown gauges after a
//! failover or a usage limit, quota gauges from upstream's headers, token
//! expiry and refresh outcomes, disabled accounts, and scrapes at once.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_server_error_fails_over_and_cools_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[pool]\noutlier_failures = 1")
        .start()
        .await;
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

    let s = gw.scrape().await;
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
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
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
}

#[tokio::test]
async fn a_usage_limit_cools_the_account_until_upstream_says() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    let resets_at = now() + 3600;
    let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_at": resets_at}});
    mock.script("a", Script::Status(429, body.to_string(), vec![]));
    let (status, headers, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");

    let s = gw.scrape().await;
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
}

#[tokio::test]
async fn quota_gauges_follow_the_response_headers() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "42"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1900000000"),
        ],
    );
    let s = gw.scrape().await;
    assert!(
        !has_series(&s, "codex_pool_account_quota_used_percent"),
        "no reading yet:\n{s}"
    );
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");

    let s = gw.scrape().await;
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
    let s = gw.scrape().await;
    assert_eq!(
        value(&s, used, &[("account", "a"), ("window", "primary")]),
        97.5
    );
    assert_eq!(
        value(&s, used, &[("account", "a"), ("window", "secondary")]),
        12.0
    );
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_its_expiry_gauge_moves() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .login(Login::expires_in(60))
        .account("b")
        .login(Login::expires_in(7200))
        .start()
        .await;

    let s = gw
        .scrape_until("the refresh of a", |s| {
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
}

#[tokio::test]
async fn a_transient_refresh_failure_counts_failed() {
    let mock = Mock::start().await;
    mock.token_answer(
        400,
        json!({"error": {"code": "temporarily_unavailable", "message": "try later"}}),
    );
    let gw = Gateway::builder(&mock)
        .account("a")
        .login(Login::expires_in(60))
        .start()
        .await;
    let s = gw
        .scrape_until("the failed refresh of a", |s| {
            metric(s, REFRESHES, &[("account", "a"), ("outcome", "failed")])
                .is_some_and(|v| v >= 1.0)
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
}

#[tokio::test]
async fn a_disabled_account_shows_as_disabled() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .disabled()
        .start()
        .await;
    let s = gw.scrape().await;
    state_is(&s, "a", "ready");
    state_is(&s, "b", "disabled");
    assert_eq!(value(&s, COOLDOWN, &[("account", "b")]), 0.0);
}

/// Account gauges are rebuilt at scrape time (`observe_accounts`: reset, then set);
/// two scrapes at once must not see each other's half-rebuilt state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scrapes_all_see_every_account_series() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c", "d"])
        .start()
        .await;
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
}
