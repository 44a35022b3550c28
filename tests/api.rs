//! The HTTP surface: bad input, the Responses route, zstd bodies, models,
//! health, request ids, and client disconnects.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

async fn raw(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = gw.client().request(method, gw.url(path)).body(body);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not an envelope: {text}")),
    )
}

/// Method, path, content type, body; expected status, code and param.
type Case = (
    reqwest::Method,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn bad_input_gets_a_4xx_envelope_naming_the_field_and_no_upstream_call() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "[server]\nmax_body_bytes = 4096\n").await;
    let post = reqwest::Method::POST;
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            b"{not json".to_vec(),
            400,
            "invalid_json",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m"}"#.to_vec(),
            400,
            "invalid_request_error",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":"hi"}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":7,"messages":[]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("model"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages[0].role"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":[{"role":"user","content":5}]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages[0].content"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            vec![b' '; 5000],
            413,
            "request_too_large",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            Some("text/plain"),
            b"hi".to_vec(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            post.clone(),
            "/v1/responses",
            json_ct,
            br#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#.to_vec(),
            400,
            "previous_response_not_supported",
            Some("previous_response_id"),
        ),
        (
            post.clone(),
            "/v1/responses",
            json_ct,
            br#"[1,2]"#.to_vec(),
            400,
            "invalid_request_error",
            Some("body"),
        ),
        (
            post.clone(),
            "/v1/nothing",
            json_ct,
            b"{}".to_vec(),
            404,
            "not_found",
            None,
        ),
        (
            reqwest::Method::GET,
            "/v1/chat/completions",
            None,
            vec![],
            405,
            "method_not_allowed",
            None,
        ),
        (
            reqwest::Method::DELETE,
            "/v1/models",
            None,
            vec![],
            405,
            "method_not_allowed",
            None,
        ),
    ];
    for (method, path, ct, body, status, code, param) in cases {
        let (s, v) = raw(&gw, method.clone(), path, ct, body).await;
        assert_eq!(s, status, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(v["error"]["type"].is_string());
        if let Some(p) = param {
            assert_eq!(v["error"]["param"], p, "{method} {path}: {v}");
        }
    }
    assert!(
        mock.responses().is_empty(),
        "no bad request reached upstream"
    );
    // And the server keeps serving.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    gw.stop().await;
}

#[tokio::test]
async fn responses_non_stream_is_aggregated_and_normalized_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let body = json!({"model": "gpt-5.4", "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "compaction_summary", "encrypted_content": "opaque", "future_field": 1}],
        "tools": [{"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}}, {"type": "web_search"}, {"type": "namespace", "name": "mcp"}],
        "max_output_tokens": 100, "temperature": 0.5, "truncation": "auto", "store": true, "stream_options": {"include_obfuscation": false}});
    let (status, headers, text) = gw
        .post_with("/v1/responses", &body, &[("session_id", "sess-old-style")])
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "a");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["model"], "gpt-5.4");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["usage"]["total_tokens"], 30);
    let output = v["output"].as_array().unwrap();
    assert_eq!(output.len(), 2, "reasoning + message from the stream: {v}");
    assert_eq!(output[1]["content"][0]["text"], "Hello part1");
    let up = &mock.responses()[0];
    assert_eq!(up.body["stream"], true);
    assert_eq!(up.body["store"], false);
    assert_eq!(up.body["instructions"], "");
    assert_eq!(
        up.body["input"], body["input"],
        "items pass through untouched"
    );
    assert_eq!(
        up.body["tools"], body["tools"],
        "unknown tool types pass through untouched"
    );
    for p in [
        "max_output_tokens",
        "temperature",
        "truncation",
        "stream_options",
    ] {
        assert!(up.body.get(p).is_none(), "{p} reached upstream");
    }
    assert_eq!(
        up.header("session-id"),
        Some("sess-old-style"),
        "old session header accepted"
    );
    assert_eq!(up.body["prompt_cache_key"], "sess-old-style");
    assert!(
        up.header("session_id").is_none(),
        "old header spelling is not sent upstream"
    );
    gw.stop().await;
}

#[tokio::test]
async fn responses_stream_is_relayed_event_by_event() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let body = json!({"model": "gpt-5.4", "input": "hi", "stream": true});
    let (status, headers, text) = gw
        .post_with("/v1/responses", &body, &[("session-id", "sess-new")])
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let expected = mock::text_events("gpt-5.4", &["Hello", " part1"]);
    let got = sse_data(&text);
    assert_eq!(
        got, expected,
        "every upstream event, unchanged and in order"
    );
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(mock.responses()[0].header("session-id"), Some("sess-new"));
    gw.stop().await;
}

#[tokio::test]
async fn zstd_request_bodies_are_accepted() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let body = json!({"model": "gpt-5.4", "input": "compressed hello", "instructions": "x"});
    let packed = zstd::encode_all(body.to_string().as_bytes(), 3).unwrap();
    let resp = gw
        .client()
        .post(gw.url("/v1/responses"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(packed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        mock.responses()[0].body["input"][0]["content"][0]["text"],
        "compressed hello"
    );
    let resp = gw
        .client()
        .post(gw.url("/v1/responses"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body("not zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    gw.stop().await;
}

#[tokio::test]
async fn models_come_from_upstream_and_fall_back_to_the_builtin_list() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        let (s, text) = gw.get("/v1/models", &[]).await;
        assert_eq!(s, 200);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["object"], "list");
        ids = v["data"]
            .as_array()
            .unwrap()
            .iter()
            // The [models] aliases are listed after the models (tests/messages.rs).
            .filter(|m| m["owned_by"] != "codex-pool-alias")
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        if ids.contains(&"gpt-5.4-mini".to_string()) && !ids.contains(&"gpt-5.2-codex".to_string())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ids,
        mock::listed_for_plan("plus"),
        "upstream's list, hidden models left out"
    );
    let models_call = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/models"))
        .unwrap();
    assert_eq!(models_call.header("chatgpt-account-id"), Some("a"));
    let (s, text) = gw.get("/v1/models/gpt-5.4", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["id"], "gpt-5.4");
    assert_eq!(v["object"], "model");
    let (s, text) = gw.get("/v1/models/nope", &[]).await;
    assert_eq!(s, 404);
    assert!(text.contains("model_not_found"));
    gw.stop().await;

    // Upstream unreachable: the built-in catalog, said to be built-in.
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    let text = "[upstream]\nbase_url = \"http://127.0.0.1:9/backend-api/codex\"\nissuer = \"http://127.0.0.1:9\"\nconnect_timeout = \"200ms\"\n[[accounts]]\nname = \"a\"\nauth_file = \"a.json\"\n";
    let gw = Gateway::start_with(&mock, dir, text).await;
    let (s, text) = gw.get("/v1/models", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["data"].as_array().unwrap().len() >= 3);
    assert_eq!(v["data"][0]["owned_by"], "codex-pool-builtin");
    gw.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let (s, text) = gw.get("/healthz", &[]).await;
    assert_eq!((s, text.contains("ok")), (200, true));
    let (s, text) = gw.get("/readyz", &[]).await;
    assert_eq!(s, 200, "{text}");
    gw.stop().await;
    // No usable login at all: not ready, with the reason.
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["ghost"], "")).await;
    let (s, text) = gw.get("/readyz", &[]).await;
    assert_eq!(s, 503, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["accounts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ghost.json"),
        "{v}"
    );
    let (s, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 503);
    assert!(text.contains("pool_exhausted"), "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn request_ids_are_propagated_or_made() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let (_, h, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(h["x-request-id"], "abc-123");
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    let made = h["x-request-id"].to_str().unwrap();
    assert_eq!(made.len(), 36, "{made}");
    let (_, h, _) = gw.post("/v1/nothing", &json!({})).await;
    assert!(h.contains_key("x-request-id"), "errors carry one too");
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_its_upstream_request() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let parts: Vec<String> = (0..50).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    mock.script(
        "a",
        Script::Slow(
            mock::text_events("gpt-5.4", &refs),
            Duration::from_millis(50),
        ),
    );
    let mut body = chat("gpt-5.4", "long");
    body["stream"] = json!(true);
    let resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    let mut cancelled = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if mock.cancelled_streams() == 1 {
            cancelled = true;
            break;
        }
    }
    assert!(cancelled, "the upstream stream was not abandoned");
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_requests_total",
            &[
                ("route", "chat"),
                ("status_class", "4xx"),
                ("code", "client_disconnected")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&scrape, "codex_pool_inflight_requests", &[]),
        Some(0.0)
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_upstream_that_goes_silent_mid_stream_ends_with_an_error_event() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a", "b"],
        "idle_timeout = \"400ms\"\n[pool]\noutlier_failures = 1\n",
    )
    .await;
    let mut events = mock::text_events("gpt-5.4", &["one"]);
    events.truncate(8); // through the first text delta, no completion
    mock.script("a", Script::Stall(events));
    let mut body = chat("gpt-5.4", "x");
    body["stream"] = json!(true);
    let (s, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(s, 200);
    let frames = sse_data(&text);
    let content: String = frames
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "one");
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
        "upstream_stream_cut",
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn when_only_the_models_own_prompt_is_accepted_the_clients_instructions_become_a_developer_message(
) {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    // Wait for the catalog (with base_instructions) to come from upstream.
    for _ in 0..50 {
        if gw.get("/v1/models/legacy-prompt-model", &[]).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = json!({"model": "legacy-prompt-model", "messages": [
        {"role": "system", "content": "Answer in French."}, {"role": "user", "content": "hi"}]});
    let (s, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(s, 200, "{text}");
    let seen = mock.responses();
    assert_eq!(seen.len(), 2, "refused once, then resent");
    assert_eq!(seen[0].body["instructions"], "Answer in French.");
    assert_eq!(seen[1].body["instructions"], mock::LEGACY_PROMPT);
    assert_eq!(
        seen[1].body["input"][0],
        json!({"type": "message", "role": "developer",
        "content": [{"type": "input_text", "text": "Answer in French."}]})
    );
    assert_eq!(seen[1].body["input"][1]["role"], "user");
    gw.stop().await;
}
