//! `/v1/messages` (Anthropic Messages) end to end: what the client gets, in
//! Anthropic's shapes, and what reached upstream; plus model aliases on
//! every front.

use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "sk-anthropic-test";

/// A gateway whose client key `claude` is `KEY`.
fn with_key(mock: &Mock) -> Builder {
    Gateway::builder(mock).key("claude", |k| k.secret(KEY))
}

fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "temperature": 0.7, "top_k": 3,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": text}]})
}

async fn post(gw: &Gateway, body: &Value) -> (u16, reqwest::header::HeaderMap, String) {
    gw.post_with(
        "/v1/messages?beta=true",
        body,
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
    )
    .await
}

/// `(event, data)` pairs of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let name = b
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("no event line in {b:?}"));
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name.to_string(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

fn envelope(text: &str) -> (String, String) {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["type"], "error", "{text}");
    (
        v["error"]["type"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_plain_message_is_translated_and_answered_in_anthropics_shape() {
    let mock = Mock::start().await;
    let gw = with_key(&mock).account("personal").start().await;
    let (status, headers, text) = post(&gw, &ask("claude-sonnet-4-5", "Say hi")).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    // The model shown is the one upstream answered with, not the alias
    // (the catalog's default model, `@default`).
    assert_eq!(v["model"], "gpt-6.2-sol");
    assert_eq!(headers["openai-model"], "gpt-6.2-sol");
    assert_eq!(mock.responses()[0].body["model"], "gpt-6.2-sol");
    assert_eq!(
        v["content"],
        json!([
            {"type": "thinking", "thinking": "Thinking briefly.", "signature": "enc"},
            {"type": "text", "text": "Hello part1"}
        ])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 16, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 5})
    );
    assert_eq!(headers["x-codex-pool-account"], "personal");

    let seen = mock.responses();
    assert_eq!(seen.len(), 1);
    let up = &seen[0];
    assert_eq!(up.account(), "personal");
    assert!(
        up.header("x-api-key").is_none(),
        "the client key reached upstream"
    );
    assert!(!up.header("authorization").unwrap().contains(KEY));
    assert!(!up.headers.values().any(|v| v.contains(KEY)));
    assert!(up.header("anthropic-version").is_none());
    let b = &up.body;
    assert_eq!(b["model"], "gpt-6.2-sol");
    assert_eq!(b["instructions"], "Be brief.");
    assert_eq!(b["store"], false);
    assert_eq!(b["stream"], true);
    assert_eq!(b["reasoning"], json!({"summary": "auto"}));
    assert_eq!(
        b["input"],
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hi"}]}])
    );
    for p in ["max_tokens", "temperature", "top_k", "system", "messages"] {
        assert!(b.get(p).is_none(), "{p} reached upstream");
    }
}

#[tokio::test]
async fn a_stream_is_anthropic_events_in_order_with_usage() {
    let mock = Mock::start().await;
    let gw = with_key(&mock).account("a").start().await;
    let mut body = ask("claude-haiku-4-5", "hi");
    body["stream"] = json!(true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 20000});
    let (status, headers, text) = post(&gw, &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let ev = events(&text);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    // The catalog's small model (`@small`): the built-in list's until
    // upstream's is in, then upstream's; the one shown is the one sent.
    let sent = mock.responses().pop().unwrap().body["model"].clone();
    assert_eq!(ev[0].1["message"]["model"], sent);
    assert!(
        sent == "gpt-5.4-mini" || sent == "gpt-5.1-codex-mini",
        "{sent}"
    );
    assert_eq!(
        ev[4].1["delta"],
        json!({"type": "signature_delta", "signature": "enc"})
    );
    let text_out: String = ev
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text_out, "Hello part1");
    assert_eq!(ev[10].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(ev[10].1["usage"]["output_tokens"], 9);
    let up = &mock.responses()[0].body;
    assert!(
        up["model"] == "gpt-5.4-mini" || up["model"] == "gpt-5.1-codex-mini",
        "{up}"
    );
    assert_eq!(
        up["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
}

#[tokio::test]
async fn a_tool_round_trip_keeps_ids_and_never_runs_the_tool() {
    let mock = Mock::start().await;
    let gw = with_key(&mock).account("a").start().await;
    let tools = json!([{"name": "read_file", "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    let mut first = ask("claude-sonnet-4-5", "read the readme");
    first["tools"] = tools.clone();
    let (status, _, text) = post(&gw, &first).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let call = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap()
        .clone();
    assert_eq!(call["id"], "call_abc");
    assert_eq!(call["name"], "read_file");
    assert_eq!(call["input"], json!({"path": "README.md"}));

    let second = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "tools": tools, "stream": true,
    "messages": [
        {"role": "user", "content": "read the readme"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "I should read it.", "signature": "enc-7"}, call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_abc", "content": [{"type": "text", "text": "# codex-pool"}]}]}
    ]});
    let (status, _, text) = post(&gw, &second).await;
    assert_eq!(status, 200, "{text}");
    let said: String = events(&text)
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(said, "The tool said: # codex-pool");
    let seen = mock.responses();
    assert_eq!(
        seen.len(),
        2,
        "the gateway ran no tool and made no extra call"
    );
    let input = seen[1].body["input"].as_array().unwrap().clone();
    assert!(input.contains(&json!({"type": "function_call", "call_id": "call_abc", "name": "read_file", "arguments": "{\"path\":\"README.md\"}"})), "{input:?}");
    assert_eq!(
        input.last().unwrap(),
        &json!({"type": "function_call_output", "call_id": "call_abc", "output": "# codex-pool"})
    );
    assert!(
        input
            .iter()
            .any(|i| i["type"] == "reasoning" && i["encrypted_content"] == "enc-7"),
        "the thinking signature came back as the reasoning item: {input:?}"
    );
    let tools_up = &seen[1].body["tools"];
    assert_eq!(tools_up[0]["type"], "function");
    assert_eq!(
        tools_up[0]["parameters"]["properties"]["path"]["type"],
        "string"
    );
}

#[tokio::test]
async fn a_failing_account_fails_over_before_the_first_byte() {
    let mock = Mock::start().await;
    let gw = with_key(&mock).accounts(&["a", "b"]).start().await;
    mock.script("a", Script::Status(500, "oops".into(), vec![]));
    let mut body = ask("claude-sonnet-4-5", "hi");
    body["stream"] = json!(true);
    let (status, headers, text) = post(&gw, &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    assert_eq!(events(&text).last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn refusals_use_anthropics_envelope_and_types() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .key("claude", |k| k.secret(KEY).rpm(2))
        .key("mini", |k| {
            k.secret("sk-mini-only").models(&["gpt-5.4-mini"])
        })
        .start()
        .await;
    // No key, a wrong key.
    let (status, _, text) = gw
        .post("/v1/messages", &ask("claude-sonnet-4-5", "hi"))
        .await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(envelope(&text).0, "authentication_error");
    let (status, _, text) = gw
        .post_with(
            "/v1/messages",
            &ask("m", "hi"),
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(
        (status, envelope(&text).0.as_str()),
        (401, "authentication_error")
    );
    // The model allow-list applies to the model the alias resolves to.
    let mini = [("x-api-key", "sk-mini-only")];
    let (status, _, text) = gw
        .post_with("/v1/messages", &ask("claude-sonnet-4-5", "hi"), &mini)
        .await;
    assert_eq!(
        (status, envelope(&text).0.as_str()),
        (403, "permission_error"),
        "{text}"
    );
    let (status, _, text) = gw
        .post_with("/v1/messages", &ask("claude-haiku-4-5", "hi"), &mini)
        .await;
    assert_eq!(status, 200, "{text}");
    // A bad body.
    let (status, _, text) = post(&gw, &json!({"model": "m", "messages": "nope"})).await;
    assert_eq!(
        (status, envelope(&text).0.as_str()),
        (400, "invalid_request_error"),
        "{text}"
    );
    // The key's rate: two a minute, spent at admission (the bad body above
    // took one: it was read and parsed), so the third is refused.
    for _ in 0..1 {
        let (status, _, text) = post(&gw, &ask("claude-sonnet-4-5", "hi")).await;
        assert_eq!(status, 200, "{text}");
    }
    let (status, headers, text) = post(&gw, &ask("claude-sonnet-4-5", "hi")).await;
    assert_eq!(status, 429, "{text}");
    assert_eq!(envelope(&text).0, "rate_limit_error");
    assert!(headers.contains_key("retry-after"));
    // A wrong method on the route.
    let (status, text) = gw.get("/v1/messages", &[]).await;
    assert_eq!(
        (status, envelope(&text).0.as_str()),
        (405, "invalid_request_error")
    );
}

#[tokio::test]
async fn pool_exhaustion_names_the_reset_and_mid_stream_failures_are_error_events() {
    let mock = Mock::start().await;
    let gw = with_key(&mock).account("a").start().await;
    mock.script(
        "a",
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "message": "limit", "resets_at": now() + 900}}).to_string(),
            vec![],
        ),
    );
    let (status, headers, text) = post(&gw, &ask("claude-sonnet-4-5", "hi")).await;
    assert_eq!(status, 429, "{text}");
    let (kind, message) = envelope(&text);
    assert_eq!(kind, "rate_limit_error");
    assert!(message.contains("resets at"), "{message}");
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((800..=901).contains(&after), "{after}");

    let mock = Mock::start().await;
    let gw = with_key(&mock).account("a").start().await;
    let mut ev = mock::text_events("gpt-5.4", &["par"]);
    ev.truncate(8);
    ev.push(json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}));
    mock.script("a", Script::Events(ev));
    let mut body = ask("claude-sonnet-4-5", "hi");
    body["stream"] = json!(true);
    let (status, _, text) = post(&gw, &body).await;
    assert_eq!(status, 200, "{text}");
    let (name, data) = events(&text).last().unwrap().clone();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn count_tokens_models_and_metrics() {
    let mock = Mock::start().await;
    let gw = with_key(&mock)
        .account("a")
        .toml("[models]\naliases = { \"house-model\" = \"gpt-5.4-xhigh\" }")
        .start()
        .await;
    let (status, _, text) = gw
        .post_with(
            "/v1/messages/count_tokens",
            &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "abcdefgh"}]}),
            &[("x-api-key", KEY)],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"input_tokens": 2})
    );
    assert!(
        mock.responses().is_empty(),
        "counting needs no upstream call"
    );

    let auth = format!("Bearer {KEY}");
    let (status, text) = gw
        .get(
            "/v1/models",
            &[
                ("authorization", &auth),
                ("anthropic-version", "2023-06-01"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["has_more"], false);
    let house = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "house-model")
        .unwrap();
    assert_eq!(house["type"], "model");
    assert!(house["created_at"].is_string() && house["display_name"].is_string());
    let (_, text) = gw.get("/v1/models", &[("authorization", &auth)]).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"house-model") && ids.contains(&"claude-*sonnet*"),
        "{ids:?}"
    );
    let (status, text) = gw
        .get("/v1/models/house-model", &[("authorization", &auth)])
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["alias_for"],
        "gpt-5.4-xhigh"
    );

    // A configured alias with a suffix on the chat front: routed, effort set.
    let (status, headers, text) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("house-model", "hi"),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["openai-model"], "gpt-5.4");
    let up = &mock.responses()[0].body;
    assert_eq!(
        (up["model"].as_str(), up["reasoning"]["effort"].as_str()),
        (Some("gpt-5.4"), Some("xhigh"))
    );
    // And on the Responses front, a bare suffix.
    let body = json!({"model": "gpt-5.4-low", "input": "hi"});
    let (status, _, text) = gw
        .post_with("/v1/responses", &body, &[("authorization", &auth)])
        .await;
    assert_eq!(status, 200, "{text}");
    let up = &mock.responses()[1].body;
    assert_eq!(
        (up["model"].as_str(), up["reasoning"]["effort"].as_str()),
        (Some("gpt-5.4"), Some("low"))
    );

    let (status, _, _) = post(&gw, &ask("claude-sonnet-4-5", "hi")).await;
    assert_eq!(status, 200);
    let (_, scrape) = gw.get("/metrics", &[]).await;
    let ok = [
        ("route", "messages"),
        ("status_class", "2xx"),
        ("code", "ok"),
    ];
    assert_eq!(
        metric(&scrape, "codex_pool_requests_total", &ok),
        Some(1.0),
        "{scrape}"
    );
    let counted = [
        ("route", "count_tokens"),
        ("status_class", "2xx"),
        ("code", "ok"),
    ];
    assert_eq!(
        metric(&scrape, "codex_pool_requests_total", &counted),
        Some(1.0)
    );
}
