//! Cooldowns and exhaustion: a usage-limited account waits for its reset, a
//! transient failure for its backoff and then one probe; a pool with nothing
//! left answers 429 or 503 naming each account's state, without asking
//! upstream; upstream's retry hints cannot break a request.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

use super::ask;

#[tokio::test]
async fn usage_limited_account_is_skipped_until_its_reset_then_retried() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    mock.script("a", usage_limit(2));
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    let a = gw.account("a").await;
    assert_eq!(a["state"], "cooling");
    assert_eq!(a["reason"], "usage_limit_reached");
    let until = a["cooling_until_unix"].as_i64().unwrap();
    assert!((until - (now() as i64 + 2)).abs() <= 2, "{a}");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        ask(&gw).await.1["x-codex-pool-account"],
        "a",
        "retried after its reset"
    );
    assert_eq!(mock.accounts_hit(), ["a", "b", "b", "a"]);
}

#[tokio::test]
async fn transient_cooldown_ends_with_one_probe() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[pool]\nbackoff_base = \"400ms\"\noutlier_failures = 1")
        .start()
        .await;
    mock.script("a", Script::Status(500, "x".into(), vec![]));
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(
        ask(&gw).await.1["x-codex-pool-account"],
        "b",
        "a is cooling"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ask(&gw).await.1["x-codex-pool-account"],
        "a",
        "probation: a decides"
    );
    assert_eq!(
        ask(&gw).await.1["x-codex-pool-account"],
        "a",
        "a is ready again"
    );
}

#[tokio::test]
async fn all_accounts_usage_limited_gives_429_with_the_earliest_reset() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.script("a", usage_limit(7200));
    mock.script("b", usage_limit(3600));
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 429, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "usage_limit_reached");
    let earliest = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(now() + 3600),
    )
    .to_string();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&earliest[..16]),
        "{msg} should name {earliest}"
    );
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3590..=3601).contains(&retry), "{retry}");
    // Later requests get the same answer without touching upstream.
    let (s, _, _) = ask(&gw).await;
    assert_eq!(s, 429);
    assert_eq!(mock.accounts_hit().len(), 2);
}

#[tokio::test]
async fn mixed_exhaustion_is_503_pool_exhausted_with_each_reason() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    mock.script("a", usage_limit(3600));
    mock.script(
        "b",
        Script::Status(
            429,
            json!({"error": {"type": "usage_not_included", "message": "no codex"}}).to_string(),
            vec![],
        ),
    );
    // The request that met both failures names each.
    let (s, _, text) = ask(&gw).await;
    assert_eq!(s, 503, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "pool_exhausted");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("a: usage limit reached; resets at"), "{msg}");
    assert!(msg.contains("b: this plan does not include Codex"), "{msg}");
    // Later requests are refused without an upstream call, with each account's state.
    let (s, _, text) = ask(&gw).await;
    assert_eq!(s, 503, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "pool_exhausted");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("a: cooling until") && msg.contains("usage_limit_reached"),
        "{msg}"
    );
    assert!(
        msg.contains("b: disabled") && msg.contains("usage_not_included"),
        "{msg}"
    );
    assert_eq!(mock.accounts_hit().len(), 2);
    assert_eq!(gw.account("b").await["state"], "disabled");
    let (status, text) = gw.get("/readyz", &[]).await;
    assert_eq!(status, 503, "{text}");
}

#[tokio::test]
async fn an_abandoned_probe_does_not_park_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[pool]\nbackoff_base = \"300ms\"")
        .start()
        .await;
    mock.script("a", Script::Status(500, "x".into(), vec![]));
    assert_eq!(ask(&gw).await.0, 503);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The probe: a slow answer its client does not wait for.
    let parts: Vec<String> = (0..20).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    mock.script(
        "a",
        Script::Slow(
            mock::text_events("gpt-5.4", &refs),
            Duration::from_millis(100),
        ),
    );
    let probe = gw.post_later("/v1/chat/completions", &chat("gpt-5.4", "x"));
    eventually!(
        mock.responses().len() == 2,
        "the probe never reached upstream"
    );
    // Its client goes away midway.
    probe.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, h, text) = ask(&gw).await;
    assert_eq!(
        s, 200,
        "the account must be probed again, not stuck on probation: {text}"
    );
    assert_eq!(h["x-codex-pool-account"], "a");
}

#[tokio::test]
async fn absurd_retry_hints_from_upstream_cannot_break_a_request() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c", "d"])
        .admin(ADMIN)
        .start()
        .await;
    mock.script(
        "a",
        Script::Status(
            429,
            json!({"error": {"message": "slow"}}).to_string(),
            vec![("retry-after".into(), "18446744073709551615".into())],
        ),
    );
    mock.script(
        "b",
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "resets_at": 1e19}}).to_string(),
            vec![],
        ),
    );
    mock.script(
        "c",
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "resets_in_seconds": 1e300}})
                .to_string(),
            vec![],
        ),
    );
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "d");
    for name in ["a", "b", "c"] {
        let a = gw.account(name).await;
        assert_eq!(a["state"], "cooling", "{a}");
        let until = a["cooling_until_unix"].as_i64().unwrap();
        assert!(
            until <= now() as i64 + 8 * 86_400 + 5,
            "cooldowns are capped: {a}"
        );
    }
}
