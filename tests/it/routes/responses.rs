//! `/v1/responses`: normalized for the backend on the way up, aggregated for
//! a non-streaming client, relayed event by event for a streaming one; zstd
//! bodies; the models whose own prompt is the only one accepted.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn responses_non_stream_is_aggregated_and_normalized_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
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
}

#[tokio::test]
async fn responses_stream_is_relayed_event_by_event() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
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
}

#[tokio::test]
async fn zstd_request_bodies_are_accepted() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
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
}

#[tokio::test]
async fn when_only_the_models_own_prompt_is_accepted_the_clients_instructions_become_a_developer_message(
) {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    // Wait for the catalog (with base_instructions) to come from upstream.
    eventually!(
        gw.get("/v1/models/legacy-prompt-model", &[]).await.0 == 200,
        "the upstream catalog never came"
    );
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
}
