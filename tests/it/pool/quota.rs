//! Quota: the windows upstream reports in its answers' headers, and the
//! usage probe that reads them for idle accounts (never for a disabled one),
//! as the admin API shows them; the activity view beside them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

use super::ask;

#[tokio::test]
async fn quota_headers_and_activity_show_in_the_admin_api() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "42.5"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1900000000"),
            ("x-codex-secondary-used-percent", "7"),
            ("x-codex-secondary-window-minutes", "10080"),
            ("x-codex-secondary-reset-after-seconds", "600"),
        ],
    );
    mock.script(
        "a",
        Script::Status(
            429,
            json!({"error": {"message": "slow"}}).to_string(),
            vec![],
        ),
    );
    assert_eq!(
        gw.post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "x"),
            &[("x-request-id", "req-42")]
        )
        .await
        .0,
        200
    );
    assert_eq!(ask(&gw).await.0, 200);
    mock.clear();
    let b = gw.account("b").await;
    assert_eq!(b["requests"], 2);
    assert_eq!(b["account_id"], "b");
    assert_eq!(b["email"], "b@example.com");
    assert_eq!(b["plan"], "plus");
    // a answered 429 once (no quota headers on errors in the mock) — its quota comes later.
    let (status, text) = gw.admin_get("/admin/pool/activity?limit=10").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    let decisions = v["decisions"].as_array().unwrap();
    let first = decisions
        .iter()
        .find(|d| d["request_id"] == "req-42")
        .expect("decision recorded");
    assert_eq!(first["strategy"], "primary_first");
    assert_eq!(first["served_by"], "b");
    assert_eq!(first["attempts"][0]["account"], "a");
    assert_eq!(first["attempts"][0]["outcome"], "rate_limited");
    assert_eq!(first["attempts"][1]["outcome"], "ok");

    // Quota: a successful answer from a carries the headers.
    tokio::time::sleep(Duration::from_millis(5100)).await; // a's 5 s backoff ends
    let (_, h, _) = ask(&gw).await;
    assert_eq!(h["x-codex-pool-account"], "a");
    let a = gw.account("a").await;
    assert_eq!(a["quota"]["primary"]["used_percent"], 42.5);
    assert_eq!(a["quota"]["primary"]["window_minutes"], 300);
    assert_eq!(a["quota"]["primary"]["resets_at"], 1_900_000_000);
    assert_eq!(a["quota"]["secondary"]["window_minutes"], 10080);
    let sec_reset = a["quota"]["secondary"]["resets_at"].as_i64().unwrap();
    assert!((sec_reset - (now() as i64 + 600)).abs() <= 3);
    // Admin without the token is refused.
    assert_eq!(gw.get("/admin/accounts", &[]).await.0, 401);
    assert_eq!(
        gw.get("/admin/accounts", &[("authorization", "Bearer nope")])
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn the_usage_probe_fills_in_idle_accounts_quota() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .toml("[pool]\nusage_probe_interval = \"1h\"")
        .start()
        .await;
    eventually!(
        !gw.account("a").await["quota"].is_null(),
        "no quota for the idle account"
    );
    let quota = gw.account("a").await["quota"].clone();
    assert_eq!(quota["primary"]["used_percent"], 17.0, "{quota}");
    assert_eq!(quota["primary"]["window_minutes"], 300);
    assert_eq!(quota["secondary"]["resets_at"], 1_900_500_000);
    assert_eq!(quota["plan"], "pro");
    let probe = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/wham/usage"))
        .unwrap();
    assert_eq!(probe.path, "/backend-api/wham/usage");
    assert_eq!(probe.header("chatgpt-account-id"), Some("a"));
    assert!(mock.responses().is_empty(), "the probe costs no request");
}

#[tokio::test]
async fn the_usage_probe_sends_no_token_of_a_disabled_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("off")
        .disabled()
        .account("on")
        .admin(ADMIN)
        .toml("[pool]\nusage_probe_interval = \"1h\"")
        .start()
        .await;
    // "off" comes first in the loop: once "on" has its quota, "off" was passed over.
    eventually!(
        gw.account("on").await["quota"].is_object(),
        "the enabled account was not probed"
    );
    let probes: Vec<String> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/wham/usage"))
        .map(|s| s.header("chatgpt-account-id").unwrap_or("").to_string())
        .collect();
    assert_eq!(probes, vec!["on".to_string()]);
}
