//! Failover: each retryable failure moves the request to the next account
//! before the first byte reached the client, and not after; what a failure
//! does to the account (cooling, a new login); the retry budget, and
//! failures that are the request's own (a 400, a poison body).

use serde_json::{json, Value};

use crate::support::*;

use super::{ask, ask_stream};

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
            let gw = Gateway::builder(&mock)
                .accounts(&["a", "b"])
                .admin(ADMIN)
                .toml("[pool]\noutlier_failures = 1")
                .start()
                .await;
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
            let a = gw.account("a").await;
            assert_eq!(a["last_error"], *kind, "{kind} stream={stream}");
            assert_eq!(a["state"], "cooling", "{kind} stream={stream}");
        }
    }
}

#[tokio::test]
async fn a_silent_upstream_times_out_and_fails_over() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[upstream]\nfirst_byte_timeout = \"300ms\"")
        .start()
        .await;
    mock.script("a", Script::Hang);
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
}

#[tokio::test]
async fn unauthorized_with_a_dead_refresh_token_marks_relogin_and_fails_over() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
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
    let a = gw.account("a").await;
    assert_eq!(a["state"], "needs_relogin");
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
}

/// A 400 is the request's fault: returned truthfully (the model sent as
/// asked, no substitute), not failed over, and no account is punished.
#[tokio::test]
async fn upstream_400_is_returned_truthfully_not_failed_over_and_cools_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("no-such-model", "hi"))
        .await;
    assert_eq!(status, 400, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model"),
        "{text}"
    );
    // One attempt, no failover, and the model was sent as asked.
    let seen = mock.responses();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].account(), "a");
    assert_eq!(seen[0].body["model"], "no-such-model");
    let s = gw.scrape().await;
    assert_eq!(attempts(&s, "a", "bad_request"), 1.0);
    assert!(!has_series(&s, FAILOVERS), "{s}");
    assert_counted_as_seen(&s, "chat", status, &text);
    state_is(&s, "a", "ready");

    // The backend's own words come back as they are.
    mock.script(
        "a",
        plain(
            400,
            &json!({"detail": "Invalid 'input[0].content'"}).to_string(),
        ),
    );
    let (s, _, text) = ask(&gw).await;
    assert_eq!(s, 400, "{text}");
    assert!(text.contains("Invalid 'input[0].content'"), "{text}");
    assert_eq!(mock.accounts_hit(), ["a", "a"]);
    // And the account is not punished for the client's mistake.
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "a");
}

#[tokio::test]
async fn a_stream_that_already_sent_bytes_is_not_retried() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
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
    assert_eq!(
        frames.last().unwrap()["error"]["code"],
        "upstream_stream_truncated"
    );
}

/// Nothing reached a non-streaming client yet, so a failure after upstream
/// output can still move on; the attempt counts as `stream_failed`.
#[tokio::test]
async fn a_non_stream_client_fails_over_even_after_upstream_output() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.script("a", Script::Events(failing_stream()));
    let (s, h, text) = ask(&gw).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello part1");

    let s = gw.scrape().await;
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
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
    assert_tokens(&s, "b", "-", "gpt-5.4", 1.0);
}

#[tokio::test]
async fn a_plain_403_cools_the_account_instead_of_demanding_a_new_login() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
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
    let a = gw.account("a").await;
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["reason"], "forbidden");
}

/// A request that fails everywhere (a "poison" body) is retried on at most
/// `pool.retry_budget` accounts, and resending the same body never cools an
/// account: the pool keeps serving everyone else.
#[tokio::test]
async fn one_poison_request_does_not_cool_the_pool() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c"])
        .admin(ADMIN)
        .start()
        .await;
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
    for a in gw.accounts().await {
        assert_eq!(a["state"], "ready", "{a}");
    }
    // Unrelated requests are still served by the first account.
    let (status, h, _) = ask(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
}

/// Failures that are not the account's fault cool it once requests with
/// different bodies fail on it in a row (`pool.outlier_failures`, default 2).
#[tokio::test]
async fn failures_of_different_requests_in_a_row_cool_the_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    for text in ["first", "second"] {
        mock.script("a", Script::Status(502, "bad gateway".into(), vec![]));
        let (status, h, _) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", text))
            .await;
        assert_eq!(status, 200);
        assert_eq!(h["x-codex-pool-account"], "b");
    }
    let a = gw.account("a").await;
    assert_eq!(a["state"], "cooling", "{a}");
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "third"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b", "a", "b", "b"]);
}

/// The budget is configurable, and failures that are the account's own
/// (its usage limit) spend none of it.
#[tokio::test]
async fn the_retry_budget_counts_only_failures_that_are_not_the_accounts_fault() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c"])
        .toml("[pool]\nretry_budget = 1")
        .start()
        .await;
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
}

#[tokio::test]
async fn an_upstream_that_goes_silent_mid_stream_ends_with_an_error_event() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[upstream]\nidle_timeout = \"400ms\"\n[pool]\noutlier_failures = 1")
        .start()
        .await;
    let mut events = mock::text_events("gpt-5.4", &["one"]);
    events.truncate(8); // through the first text delta, no completion
    mock.script("a", Script::Stall(events));
    let body = chat_stream("gpt-5.4", "x");
    let (s, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(s, 200);
    let frames = sse_data(&text);
    assert_eq!(streamed_content(&text), "one");
    assert_eq!(
        frames.last().unwrap()["error"]["code"],
        "upstream_timeout",
        "{text}"
    );
    assert!(!text.contains("[DONE]"));
    assert_eq!(mock.accounts_hit(), ["a"], "bytes were sent: no failover");

    // EOF after output without completion is an error too, not a success.
    let mut cut = mock::text_events("gpt-5.4", &["two"]);
    cut.truncate(8);
    // (a is cooling after its timeout, so b serves this one.)
    mock.script("b", Script::Events(cut));
    let (_, h, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(
        sse_data(&text).last().unwrap()["error"]["code"],
        "upstream_stream_truncated",
        "{text}"
    );
}
