//! `/v1/chat/completions` end to end: what the client gets and what reached upstream.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn non_stream_chat_answers_and_sends_the_codex_wire_shape() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("personal").start().await;
    let body = json!({"model": "gpt-5.4", "temperature": 0.3, "max_tokens": 50, "top_p": 1, "seed": 3, "user": "u",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]});
    let (status, headers, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello part1");
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"],
        "Thinking briefly."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 21);
    assert_eq!(v["usage"]["completion_tokens"], 9);
    assert_eq!(v["usage"]["total_tokens"], 30);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    assert_eq!(headers["x-codex-pool-account"], "personal");
    assert_eq!(headers["openai-model"], "gpt-5.4");

    let seen = mock.responses();
    assert_eq!(seen.len(), 1);
    let up = &seen[0];
    assert_eq!(up.path, "/backend-api/codex/responses");
    assert!(up.header("authorization").unwrap().starts_with("Bearer "));
    assert_eq!(up.header("chatgpt-account-id"), Some("personal"));
    assert_eq!(up.header("originator"), Some("codex_cli_rs"));
    assert_eq!(up.header("accept"), Some("text/event-stream"));
    assert!(up
        .header("user-agent")
        .unwrap()
        .starts_with("codex_cli_rs/"));
    assert!(up.header("user-agent").unwrap().contains("codex-pool/"));
    let session = up.header("session-id").unwrap().to_string();
    assert!(!session.is_empty());
    let b = &up.body;
    assert_eq!(b["stream"], true);
    assert_eq!(b["store"], false);
    assert_eq!(b["instructions"], "Be brief.");
    assert_eq!(b["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(b["prompt_cache_key"], json!(session));
    assert_eq!(
        b["input"],
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hi"}]}])
    );
    for p in [
        "temperature",
        "max_tokens",
        "top_p",
        "seed",
        "user",
        "max_output_tokens",
    ] {
        assert!(b.get(p).is_none(), "{p} reached upstream");
    }
}

#[tokio::test]
async fn stream_chat_emits_role_content_reasoning_usage_and_done() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let body = json!({"model": "gpt-5.4", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks = sse_data(&text);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_content(&text), "Hello part1");
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "Thinking briefly.");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let finish: Vec<&Value> = chunks
        .iter()
        .filter(|c| {
            !c["choices"][0]["finish_reason"].is_null()
                && c["choices"].as_array().is_some_and(|a| !a.is_empty())
        })
        .collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 30);
}

#[tokio::test]
async fn tool_call_round_trip_keeps_call_ids_and_never_runs_the_tool() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    mock.script(
        "a",
        Script::Events(mock::tool_call_events(
            "gpt-5.4",
            "read_file",
            r#"{"path":"README.md"}"#,
            true,
        )),
    );
    let tools = json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]);
    let body = json!({"model": "gpt-5.4", "stream": true, "tools": tools, "tool_choice": {"type": "function", "function": {"name": "read_file"}},
        "messages": [{"role": "user", "content": "read it"}]});
    let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let chunks = sse_data(&text);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["id"], "call_abc");
    assert_eq!(calls[0]["function"]["name"], "read_file");
    assert!(calls.iter().all(|c| c["index"] == 0));
    let args: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"path":"README.md"}"#);
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let up = &mock.responses()[0].body;
    assert_eq!(
        up["tools"][0],
        json!({"type": "function", "name": "read_file", "description": "Read a file", "strict": false,
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}})
    );
    assert_eq!(
        up["tool_choice"],
        json!({"type": "function", "name": "read_file"})
    );

    // The client ran the tool and sends its output back.
    let body = json!({"model": "gpt-5.4", "tools": tools, "messages": [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_abc", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"README.md\"}"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "# codex-pool"}]});
    let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let input = &mock.responses()[1].body["input"];
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "call_abc", "name": "read_file", "arguments": "{\"path\":\"README.md\"}"})
    );
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "call_abc", "output": "# codex-pool"})
    );
    // Only the two model calls reached upstream: nothing was executed in between.
    assert_eq!(mock.responses().len(), 2);
}

#[tokio::test]
async fn function_call_without_argument_deltas_still_reaches_the_client() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    mock.script(
        "a",
        Script::Events(mock::tool_call_events(
            "gpt-5.4",
            "ls",
            r#"{"dir":"."}"#,
            false,
        )),
    );
    let body = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "ls"}],
        "tools": [{"type": "function", "function": {"name": "ls"}}]});
    let (_, _, text) = gw.post("/v1/chat/completions", &body).await;
    let args: String = sse_data(&text)
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(args, r#"{"dir":"."}"#);
}

#[tokio::test]
async fn unsupported_parameters_get_a_400_and_no_upstream_call() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    for (extra, param) in [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (
            json!({"audio": {"voice": "alloy", "format": "wav"}}),
            "audio",
        ),
    ] {
        let mut body = chat("gpt-5.4", "hi");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, _, text) = gw.post("/v1/chat/completions", &body).await;
        assert_eq!(status, 400, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "unsupported_parameter");
        assert_eq!(v["error"]["param"], param);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported by this backend"));
    }
    assert!(mock.responses().is_empty());
}

/// A client that drops a stream midway: the upstream stream is abandoned
/// too, the request counts as `client_disconnected`, nothing stays in flight.
#[tokio::test]
async fn a_client_that_goes_away_mid_stream_cancels_upstream_and_is_counted() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let parts: Vec<String> = (0..50).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    mock.script(
        "a",
        Script::Slow(
            mock::text_events("gpt-5.4", &refs),
            Duration::from_millis(50),
        ),
    );
    let mut resp = gw
        .open("/v1/chat/completions", &chat_stream("gpt-5.4", "long"))
        .await;
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap();
    assert!(first.is_some_and(|b| !b.is_empty()));
    let s = gw.scrape().await;
    assert_eq!(value(&s, INFLIGHT, &[]), 1.0, "the stream is being served");
    drop(resp);

    eventually!(
        mock.cancelled_streams() == 1,
        "the upstream stream was not abandoned"
    );
    let disconnected = [
        ("route", "chat"),
        ("status_class", "4xx"),
        ("code", "client_disconnected"),
    ];
    let s = gw
        .scrape_until("the disconnect", |s| {
            metric(s, REQUESTS, &disconnected) == Some(1.0)
        })
        .await;
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    assert_eq!(metric(&s, REQUESTS, &ok_on("chat")), None);
    assert_eq!(
        value(
            &s,
            "codex_pool_request_duration_seconds_count",
            &[("route", "chat")]
        ),
        1.0
    );
}

#[tokio::test]
async fn inflight_counts_a_stream_until_its_end() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let events = mock::text_events("gpt-5.4", &["one", " two", " three"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(50)));
    let mut resp = gw
        .open("/v1/chat/completions", &chat_stream("gpt-5.4", "hi"))
        .await;
    assert!(resp.chunk().await.unwrap().is_some());
    assert_eq!(value(&gw.scrape().await, INFLIGHT, &[]), 1.0);
    while resp.chunk().await.unwrap().is_some() {}
    let s = gw.scrape().await;
    assert_eq!(value(&s, INFLIGHT, &[]), 0.0);
    assert_eq!(value(&s, REQUESTS, &ok_on("chat")), 1.0);
}
