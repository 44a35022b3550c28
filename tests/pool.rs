//! The account pool end to end: strategies, failover per failure kind,
//! cooldowns, exhaustion, and what the admin API shows.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const ADMIN: &str = "[admin]\ntoken = \"admin-secret\"\n";

fn usage_limit(resets_in: u64) -> Script {
    Script::Status(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus",
            "resets_at": now() + resets_in}})
        .to_string(),
        vec![],
    )
}

async fn ask(gw: &Gateway) -> (u16, reqwest::header::HeaderMap, String) {
    gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await
}

async fn ask_stream(gw: &Gateway) -> (u16, reqwest::header::HeaderMap, String) {
    let mut body = chat("gpt-5.4", "hi");
    body["stream"] = json!(true);
    gw.post("/v1/chat/completions", &body).await
}

async fn admin_accounts(gw: &Gateway) -> Vec<Value> {
    let (status, text) = gw
        .get(
            "/admin/accounts",
            &[("authorization", "Bearer admin-secret")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["accounts"].as_array().unwrap().clone()
}

fn state_of(accounts: &[Value], name: &str) -> String {
    accounts
        .iter()
        .find(|a| a["name"] == name)
        .map(|a| a["state"].as_str().unwrap().to_string())
        .unwrap()
}

#[tokio::test]
async fn primary_first_sticks_to_the_first_account() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a", "b", "c"],
        "[pool]\nstrategy = \"primary_first\"\n",
    )
    .await;
    for _ in 0..4 {
        let (s, h, _) = ask(&gw).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-codex-pool-account"], "a");
    }
    assert_eq!(mock.accounts_hit(), ["a", "a", "a", "a"]);
    gw.stop().await;
}

#[tokio::test]
async fn round_robin_rotates_evenly() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a", "b", "c"],
        "[pool]\nstrategy = \"round_robin\"\n",
    )
    .await;
    // Six new conversations (a conversation itself stays on its account:
    // see tests/affinity.rs).
    for i in 0..6 {
        let body = chat("gpt-5.4", &format!("conversation {i}"));
        assert_eq!(gw.post("/v1/chat/completions", &body).await.0, 200);
    }
    let hits = mock.accounts_hit();
    for name in ["a", "b", "c"] {
        assert_eq!(hits.iter().filter(|h| *h == name).count(), 2, "{hits:?}");
    }
    assert_eq!(&hits[..3], &hits[3..], "rotation order is stable: {hits:?}");
    gw.stop().await;
}

#[tokio::test]
async fn priority_order_tries_lower_numbers_first_then_fails_over_in_order() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    for a in ["a", "b", "c"] {
        write_auth(
            &dir.path().join(format!("{a}.json")),
            a,
            &access_token(a, 3600),
            "rt",
        );
    }
    let mut text = config_text(&mock, &[], "[pool]\nstrategy = \"priority_order\"\n");
    for (a, p) in [("a", 3), ("b", 1), ("c", 2)] {
        text.push_str(&format!(
            "[[accounts]]\nname = \"{a}\"\nauth_file = \"{a}.json\"\npriority = {p}\n"
        ));
    }
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    mock.script("b", Script::Status(503, "{}".into(), vec![]));
    let (s, h, _) = ask(&gw).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "c");
    assert_eq!(mock.accounts_hit(), ["b", "b", "c"]);
    gw.stop().await;
}

/// Each retryable failure moves the same request to the next account, for
/// streaming and non-streaming clients alike.
#[tokio::test]
async fn every_retryable_failure_fails_over_within_the_request() {
    let cloudflare = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>Sorry, you have been blocked</body></html>";
    let cases: Vec<(&str, Script)> = vec![
        ("usage_limited", usage_limit(3600)),
        (
            "rate_limited",
            Script::Status(
                429,
                json!({"error": {"message": "Too many requests"}}).to_string(),
                vec![],
            ),
        ),
        ("server_error", Script::Status(500, "oops".into(), vec![])),
        (
            "server_error",
            Script::Status(502, "bad gateway".into(), vec![]),
        ),
        (
            "server_error",
            Script::Status(
                503,
                json!({"error": {"code": "server_is_overloaded"}}).to_string(),
                vec![],
            ),
        ),
        (
            "cloudflare_blocked",
            Script::Status(
                403,
                cloudflare.into(),
                vec![("server".into(), "cloudflare".into())],
            ),
        ),
        (
            "stream_failed",
            Script::Events(vec![
                json!({"type": "response.created", "response": {"id": "r", "model": "gpt-5.4"}}),
                json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}),
            ]),
        ),
        (
            "stream_failed",
            Script::Events(vec![
                json!({"type": "response.created", "response": {"id": "r", "model": "gpt-5.4"}}),
            ]),
        ),
        (
            "rate_limited",
            Script::Events(vec![
                json!({"type": "response.failed", "response": {"error": {"code": "rate_limit_exceeded", "message": "Please try again in 12s."}}}),
            ]),
        ),
    ];
    for stream in [false, true] {
        for (kind, script) in &cases {
            let mock = Mock::start().await;
            // One failure moves an account here (the default waits for a second
            // request: see `one_poison_request_does_not_cool_the_pool`).
            let extra = format!("{ADMIN}[pool]\noutlier_failures = 1\n");
            let gw = Gateway::start(&mock, &["a", "b"], &extra).await;
            mock.script("a", script.clone());
            let (status, headers, text) = if stream {
                ask_stream(&gw).await
            } else {
                ask(&gw).await
            };
            assert_eq!(status, 200, "{kind} stream={stream}: {text}");
            assert_eq!(
                headers["x-codex-pool-account"], "b",
                "{kind} stream={stream}"
            );
            assert_eq!(mock.accounts_hit(), ["a", "b"], "{kind} stream={stream}");
            if stream {
                let content: String = sse_data(&text)
                    .iter()
                    .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
                    .collect();
                assert_eq!(
                    content, "Hello part1",
                    "{kind}: the client sees only b's answer"
                );
            }
            let accounts = admin_accounts(&gw).await;
            let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
            assert_eq!(a["last_error"], *kind, "{kind} stream={stream}");
            assert_eq!(a["state"], "cooling", "{kind} stream={stream}");
            gw.stop().await;
        }
    }
}

#[tokio::test]
async fn a_silent_upstream_times_out_and_fails_over() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "first_byte_timeout = \"300ms\"\n").await;
    mock.script("a", Script::Hang);
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    gw.stop().await;
}

#[tokio::test]
async fn unauthorized_with_a_dead_refresh_token_marks_relogin_and_fails_over() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    mock.script(
        "a",
        Script::Status(
            401,
            json!({"error": {"message": "token revoked"}}).to_string(),
            vec![],
        ),
    );
    mock.token_answer(
        401,
        json!({"error": {"code": "refresh_token_reused", "message": "reused"}}),
    );
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.token_calls().len(), 1, "one refresh, then give up");
    let accounts = admin_accounts(&gw).await;
    assert_eq!(state_of(&accounts, "a"), "needs_relogin");
    let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("refresh_token_reused"),
        "{a}"
    );
    // The pool routes around it from now on.
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b", "b"]);
    let (status, text) = gw.get("/readyz", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("needs_relogin"), "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn upstream_400_is_not_failed_over() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script(
        "a",
        Script::Status(
            400,
            json!({"detail": "Invalid 'input[0].content'"}).to_string(),
            vec![],
        ),
    );
    let (s, _, text) = ask(&gw).await;
    assert_eq!(s, 400, "{text}");
    assert!(text.contains("Invalid 'input[0].content'"), "{text}");
    assert_eq!(mock.accounts_hit(), ["a"]);
    // And the account is not punished for the client's mistake.
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "a");
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_that_already_sent_bytes_is_not_retried() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script("a", Script::Events(vec![
        json!({"type": "response.created", "response": {"id": "r", "model": "gpt-5.4"}}),
        json!({"type": "response.output_text.delta", "delta": "Partial"}),
        json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}),
    ]));
    let (s, _, text) = ask_stream(&gw).await;
    assert_eq!(s, 200);
    let frames = sse_data(&text);
    let content: String = frames
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Partial");
    let err = frames
        .iter()
        .find(|f| f.get("error").is_some())
        .expect("an error event");
    assert_eq!(err["error"]["code"], "server_is_overloaded");
    assert!(
        !text.contains("[DONE]"),
        "a failed stream must not look complete"
    );
    assert_eq!(mock.accounts_hit(), ["a"]);

    // EOF mid-stream is an error too, not a success.
    mock.script(
        "a",
        Script::Events(vec![
            json!({"type": "response.output_text.delta", "delta": "Cut"}),
        ]),
    );
    mock.script(
        "b",
        Script::Events(vec![
            json!({"type": "response.output_text.delta", "delta": "Cut"}),
        ]),
    );
    let (_, _, text) = ask_stream(&gw).await;
    let frames = sse_data(&text);
    // After output began: the edge cut it (docs/upstream.md §9), said so.
    assert_eq!(
        frames.last().unwrap()["error"]["code"],
        "upstream_stream_cut"
    );
    gw.stop().await;
}

#[tokio::test]
async fn non_stream_client_fails_over_even_after_upstream_output() {
    // Nothing reached a non-streaming client yet, so a mid-stream failure can move on.
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script("a", Script::Events(vec![
        json!({"type": "response.output_text.delta", "delta": "Partial"}),
        json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}),
    ]));
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello part1");
    gw.stop().await;
}

#[tokio::test]
async fn usage_limited_account_is_skipped_until_its_reset_then_retried() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    mock.script("a", usage_limit(2));
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    let accounts = admin_accounts(&gw).await;
    let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
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
    gw.stop().await;
}

#[tokio::test]
async fn transient_cooldown_ends_with_one_probe() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a", "b"],
        "[pool]\nbackoff_base = \"400ms\"\noutlier_failures = 1\n",
    )
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
    gw.stop().await;
}

#[tokio::test]
async fn all_accounts_usage_limited_gives_429_with_the_earliest_reset() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
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
    gw.stop().await;
}

#[tokio::test]
async fn mixed_exhaustion_is_503_pool_exhausted_with_each_reason() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
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
    assert_eq!(state_of(&admin_accounts(&gw).await, "b"), "disabled");
    let (status, text) = gw.get("/readyz", &[]).await;
    assert_eq!(status, 503, "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn quota_headers_and_activity_show_in_the_admin_api() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
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
    let accounts = admin_accounts(&gw).await;
    let b = accounts.iter().find(|x| x["name"] == "b").unwrap();
    assert_eq!(b["requests"], 2);
    assert_eq!(b["account_id"], "b");
    assert_eq!(b["email"], "b@example.com");
    assert_eq!(b["plan"], "plus");
    // a answered 429 once (no quota headers on errors in the mock) — its quota comes later.
    let (status, text) = gw
        .get(
            "/admin/pool/activity?limit=10",
            &[("authorization", "Bearer admin-secret")],
        )
        .await;
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
    let accounts = admin_accounts(&gw).await;
    let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
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
    gw.stop().await;
}

#[tokio::test]
async fn admin_disable_and_enable_steer_the_pool() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    let auth = [("authorization", "Bearer admin-secret")];
    let r = gw
        .client()
        .post(gw.url("/admin/accounts/a/disable"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(state_of(&admin_accounts(&gw).await, "a"), "disabled");
    let r = gw
        .client()
        .post(gw.url("/admin/accounts/a/enable"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "a");
    assert_eq!(gw.get("/admin/accounts/zzz/disable", &auth).await.0, 405);
    gw.stop().await;
}

#[tokio::test]
async fn admin_is_not_served_without_a_token() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    assert_eq!(
        gw.get("/admin/accounts", &[("authorization", "Bearer x")])
            .await
            .0,
        404
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_abandoned_probe_does_not_park_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "[pool]\nbackoff_base = \"300ms\"\n").await;
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
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat("gpt-5.4", "x").to_string())
        .send()
        .await;
    assert!(r.is_err(), "the client gave up");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, h, text) = ask(&gw).await;
    assert_eq!(
        s, 200,
        "the account must be probed again, not stuck on probation: {text}"
    );
    assert_eq!(h["x-codex-pool-account"], "a");
    gw.stop().await;
}

#[tokio::test]
async fn absurd_retry_hints_from_upstream_cannot_break_a_request() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b", "c", "d"], ADMIN).await;
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
    let accounts = admin_accounts(&gw).await;
    for name in ["a", "b", "c"] {
        let a = accounts.iter().find(|x| x["name"] == name).unwrap();
        assert_eq!(a["state"], "cooling", "{a}");
        let until = a["cooling_until_unix"].as_i64().unwrap();
        assert!(
            until <= now() as i64 + 8 * 86_400 + 5,
            "cooldowns are capped: {a}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_plain_403_cools_the_account_instead_of_demanding_a_new_login() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    mock.script(
        "a",
        Script::Status(
            403,
            json!({"detail": "unsupported_country_region_territory"}).to_string(),
            vec![],
        ),
    );
    let (s, h, _) = ask(&gw).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b");
    let accounts = admin_accounts(&gw).await;
    let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["reason"], "forbidden");
    gw.stop().await;
}

/// A request that fails everywhere (a "poison" body) is retried on at most
/// `pool.retry_budget` accounts, and resending the same body never cools an
/// account: the pool keeps serving everyone else.
#[tokio::test]
async fn one_poison_request_does_not_cool_the_pool() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b", "c"], ADMIN).await;
    let poison = chat("gpt-5.4", "the same body every time");
    for _ in 0..4 {
        for account in ["a", "b", "c"] {
            mock.script(account, Script::Status(500, "boom".into(), vec![]));
        }
        let (status, _, text) = gw.post("/v1/chat/completions", &poison).await;
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("a: upstream error 500"), "{text}");
    }
    assert_eq!(
        mock.accounts_hit(),
        ["a", "b"].repeat(4),
        "the retry budget (2) stops each try before c"
    );
    for a in admin_accounts(&gw).await {
        assert_eq!(a["state"], "ready", "{a}");
    }
    // Unrelated requests are still served by the first account.
    let (status, h, _) = ask(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
    gw.stop().await;
}

/// Failures that are not the account's fault cool it once requests with
/// different bodies fail on it in a row (`pool.outlier_failures`, default 2).
#[tokio::test]
async fn failures_of_different_requests_in_a_row_cool_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    for text in ["first", "second"] {
        mock.script("a", Script::Status(502, "bad gateway".into(), vec![]));
        let (status, h, _) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", text))
            .await;
        assert_eq!(status, 200);
        assert_eq!(h["x-codex-pool-account"], "b");
    }
    let accounts = admin_accounts(&gw).await;
    let a = accounts.iter().find(|x| x["name"] == "a").unwrap();
    assert_eq!(a["state"], "cooling", "{a}");
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "third"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b", "a", "b", "b"]);
    gw.stop().await;
}

/// The budget is configurable, and failures that are the account's own
/// (its usage limit) spend none of it.
#[tokio::test]
async fn the_retry_budget_counts_only_failures_that_are_not_the_accounts_fault() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b", "c"], "[pool]\nretry_budget = 1\n").await;
    mock.script("a", usage_limit(3600));
    mock.script("b", Script::Status(500, "boom".into(), vec![]));
    let (status, _, text) = ask(&gw).await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(
        mock.accounts_hit(),
        ["a", "b"],
        "a's usage limit is its own; b's 500 spends the budget of 1"
    );
    mock.clear();
    let (status, h, _) = ask(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(
        h["x-codex-pool-account"], "b",
        "a is parked until its reset"
    );
    gw.stop().await;
}
