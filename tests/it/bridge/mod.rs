//! HTTP conversations on kept upstream sockets (`[upstream] bridge_http`,
//! docs/websocket.md): what reached the mock upstream — which turns went as
//! continuations on which account's socket, which as full requests, which
//! over HTTP — and that the client got what HTTP gives. `bench` is the
//! ignored benchmark behind BENCHMARKS.md.

mod bench;

use serde_json::{json, Value};

use crate::support::{metric, usage_limit, Gateway, Mock};

const ON: &str = "[upstream]\nbridge_http = true\n";

pub fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}])
}

/// A chat client's tool loop: its messages so far, grown from each answer.
pub struct ChatLoop {
    pub messages: Vec<Value>,
    pub key: Option<String>,
}

impl ChatLoop {
    pub fn new(first: &str) -> ChatLoop {
        ChatLoop {
            messages: vec![
                json!({"role": "system", "content": "You are a coding agent."}),
                json!({"role": "user", "content": first}),
            ],
            key: None,
        }
    }

    pub fn body(&self, stream: bool) -> Value {
        let mut b = json!({"model": "gpt-5.4", "messages": self.messages, "tools": tools(), "stream": stream});
        if let Some(k) = &self.key {
            b["prompt_cache_key"] = json!(k);
        }
        b
    }

    /// Sends the next turn (not streamed); appends the answer and, for a
    /// tool call, the tool's output. The answer as the client got it.
    pub async fn turn(&mut self, gw: &Gateway) -> Value {
        let (status, _, text) = gw.post("/v1/chat/completions", &self.body(false)).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        self.push_answer(&answer["choices"][0]["message"]);
        answer
    }

    pub fn push_answer(&mut self, message: &Value) {
        let mut m = message.clone();
        if let Some(o) = m.as_object_mut() {
            o.retain(|k, _| matches!(k.as_str(), "role" | "content" | "tool_calls"));
        }
        self.messages.push(m);
        if let Some(calls) = message["tool_calls"].as_array() {
            for c in calls {
                self.messages.push(json!({"role": "tool", "tool_call_id": c["id"], "content": "fn main() { println!(\"hello\"); }\n".repeat(20)}));
            }
        }
    }
}

fn input_len(v: &Value) -> usize {
    v["input"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_chat_tool_loop_continues_on_the_accounts_socket() {
    let mock = Mock::start().await;
    mock.set_tool_loop(3);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    let first = chat.turn(&gw).await;
    assert_eq!(
        first["choices"][0]["finish_reason"], "tool_calls",
        "{first}"
    );
    let second = chat.turn(&gw).await;
    assert_eq!(
        second["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_1"
    );
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 2, "both turns on a socket: {frames:?}");
    assert_eq!(frames[0].socket, frames[1].socket, "one socket");
    assert!(frames
        .iter()
        .all(|f| f.account == frames[0].account && !f.token.is_empty()));
    assert!(!frames[0].is_continuation());
    assert_eq!(input_len(&frames[0].body), 1, "turn 1: the whole input");
    assert_eq!(frames[1].body["previous_response_id"], "resp_ws1_1");
    let new = frames[1].body["input"].as_array().unwrap();
    assert_eq!(new.len(), 1, "turn 2: only the tool output: {new:?}");
    assert_eq!(new[0]["type"], "function_call_output");
    assert_eq!(new[0]["call_id"], "call_0");
    assert_eq!(frames[1].body["tools"], frames[0].body["tools"]);
    // What the model saw on turn 2 is the conversation the client sent.
    let seen = mock.ws.lock().unwrap().inputs.clone();
    assert_eq!(seen[1].as_array().unwrap().len(), 3);
    assert!(mock.responses().is_empty(), "no HTTP POST");
    let scrape = gw.get("/metrics", &[]).await.1;
    let turns = |kind| {
        metric(
            &scrape,
            "codex_pool_bridge_turns_total",
            &[("route", "chat"), ("kind", kind)],
        )
    };
    assert_eq!((turns("full"), turns("continued")), (Some(1.0), Some(1.0)));
    assert_eq!(
        metric(&scrape, "codex_pool_bridge_sockets_open", &[]),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_requests_total",
            &[("route", "chat"), ("status_class", "2xx"), ("code", "ok")]
        ),
        Some(2.0),
        "counted as HTTP requests are"
    );
}

/// The same loop with the bridge off and on: the client gets the same
/// answers (ids and times aside), streamed and not.
#[tokio::test]
async fn the_client_gets_what_http_gives() {
    let mock = Mock::start().await;
    mock.set_tool_loop(2);
    let off = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let on = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("id");
        v.as_object_mut().unwrap().remove("created");
        v
    };
    let (mut a, mut b) = (ChatLoop::new("go"), ChatLoop::new("go"));
    for _ in 0..2 {
        assert_eq!(strip(a.turn(&off).await), strip(b.turn(&on).await));
    }
    // Turn 3 streamed: the same events.
    let events = |text: &str| -> Vec<Value> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| strip(serde_json::from_str(d).unwrap()))
            .collect()
    };
    let via_http = off.post("/v1/chat/completions", &a.body(true)).await;
    let via_socket = on.post("/v1/chat/completions", &b.body(true)).await;
    assert_eq!(via_socket.0, 200, "{}", via_socket.2);
    assert!(
        via_socket.2.ends_with("data: [DONE]\n\n"),
        "{}",
        via_socket.2
    );
    assert_eq!(events(&via_http.2), events(&via_socket.2));
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 3);
    assert!(frames[1].is_continuation() && frames[2].is_continuation());
    assert_eq!(mock.responses().len(), 3, "the bridge-off gateway's turns");
}

#[tokio::test]
async fn an_edited_history_is_a_full_request_and_the_next_turn_continues_it() {
    let mock = Mock::start().await;
    mock.set_tool_loop(5);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.key = Some("conv-1".into());
    chat.turn(&gw).await;
    chat.turn(&gw).await;
    // The client rewrites its first tool output: not an extension.
    chat.messages[3]["content"] = json!("something else");
    chat.turn(&gw).await;
    chat.turn(&gw).await;
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert!(frames[1].is_continuation());
    assert!(!frames[2].is_continuation(), "edited: the whole input");
    assert_eq!(input_len(&frames[2].body), 5);
    assert_eq!(frames[2].body["input"][2]["output"], "something else");
    assert!(
        frames[3].is_continuation(),
        "and the edited history continues"
    );
    assert_eq!(input_len(&frames[3].body), 1);
    assert!(frames.iter().all(|f| f.socket == frames[0].socket));
}

#[tokio::test]
async fn a_socket_upstream_closed_is_a_full_request_over_http() {
    let mock = Mock::start().await;
    mock.set_tool_loop(5);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.turn(&gw).await;
    mock.ws.lock().unwrap().close_next = true;
    let answer = chat.turn(&gw).await;
    assert_eq!(
        answer["choices"][0]["message"]["tool_calls"][0]["id"], "call_1",
        "{answer}"
    );
    let posts = mock.responses();
    assert_eq!(posts.len(), 1, "resent over HTTP");
    assert_eq!(input_len(&posts[0].body), 3, "the whole input");
    assert!(posts[0].body.get("previous_response_id").is_none());
    let frames = mock.ws_frames();
    assert!(frames[1].is_continuation(), "tried on the socket first");
    // The next turn opens a new socket with a full request.
    chat.turn(&gw).await;
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 3);
    assert_ne!(frames[2].socket, frames[0].socket);
    assert!(!frames[2].is_continuation());
    assert_eq!(input_len(&frames[2].body), 5);
    let scrape = gw.get("/metrics", &[]).await.1;
    let resent = metric(
        &scrape,
        "codex_pool_bridge_turns_total",
        &[("route", "chat"), ("kind", "resent")],
    );
    assert_eq!(resent, Some(1.0));
}

#[tokio::test]
async fn the_backends_socket_age_limit_is_a_full_request() {
    let mock = Mock::start().await;
    mock.set_tool_loop(5);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.turn(&gw).await;
    mock.ws.lock().unwrap().max_age = Some(std::time::Duration::ZERO);
    let answer = chat.turn(&gw).await;
    assert_eq!(
        answer["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_1"
    );
    let posts = mock.responses();
    assert_eq!(posts.len(), 1);
    assert_eq!(input_len(&posts[0].body), 3);
}

#[tokio::test]
async fn bridge_off_is_http_as_before() {
    let mock = Mock::start().await;
    mock.set_tool_loop(3);
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.turn(&gw).await;
    chat.turn(&gw).await;
    assert!(mock.ws_frames().is_empty());
    let posts = mock.responses();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        (input_len(&posts[0].body), input_len(&posts[1].body)),
        (1, 3)
    );
}

#[tokio::test]
async fn sockets_per_account_are_capped() {
    let mock = Mock::start().await;
    mock.set_tool_loop(3);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[upstream]\nbridge_http = true\nbridge_sockets_per_account = 1\n")
        .start()
        .await;
    let (mut one, mut two) = (ChatLoop::new("first task"), ChatLoop::new("second task"));
    one.turn(&gw).await;
    two.turn(&gw).await;
    one.turn(&gw).await;
    two.turn(&gw).await;
    assert_eq!(mock.ws_sockets().1, 1, "one socket opened");
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 2, "the first conversation on it");
    assert!(frames[1].is_continuation());
    let posts = mock.responses();
    assert_eq!(posts.len(), 2, "the second over HTTP");
    assert!(posts
        .iter()
        .all(|p| p.body["input"][0]["content"][0]["text"] == "second task"));
}

#[tokio::test]
async fn a_responses_client_sending_back_reasoning_continues() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml(ON)
        .start()
        .await;
    let user = |t: &str| json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]});
    let mut input = vec![user("hi")];
    for turn in 0..2 {
        let body = json!({"model": "gpt-5.4", "input": input, "stream": false, "store": false,
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": "conv-r"});
        let (status, _, text) = gw.post("/v1/responses", &body).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let output = answer["output"].as_array().unwrap();
        assert_eq!(output[0]["type"], "reasoning", "turn {turn}: {answer}");
        input.extend(output.iter().cloned());
        input.push(user("more"));
    }
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].body["previous_response_id"], "resp_ws1_1");
    assert_eq!(frames[1].body["input"], json!([user("more")]));
    assert!(mock.responses().is_empty());
}

#[tokio::test]
async fn a_usage_limit_on_the_socket_moves_the_conversation_with_a_full_request() {
    let mock = Mock::start().await;
    mock.set_tool_loop(5);
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml(ON)
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.turn(&gw).await;
    let a = mock.ws_frames()[0].account.clone();
    mock.ws_script(&a, usage_limit(3600));
    let answer = chat.turn(&gw).await;
    assert_eq!(
        answer["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_1"
    );
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert!(frames[1].is_continuation() && frames[1].account == a);
    assert_ne!(frames[2].account, a, "moved to the other account");
    assert!(!frames[2].is_continuation());
    assert_eq!(input_len(&frames[2].body), 3);
    assert!(mock.responses().is_empty());
}

#[tokio::test]
async fn an_idle_socket_is_closed_and_the_next_turn_is_a_full_request() {
    let mock = Mock::start().await;
    mock.set_tool_loop(5);
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[upstream]\nbridge_http = true\nbridge_idle_timeout = \"1s\"\n")
        .start()
        .await;
    let mut chat = ChatLoop::new("fix the bug");
    chat.turn(&gw).await;
    assert_eq!(mock.ws_sockets().0, 1);
    eventually!(mock.ws_sockets().0 == 0, "the idle socket closed");
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(&scrape, "codex_pool_bridge_sockets_open", &[]),
        Some(0.0)
    );
    chat.turn(&gw).await;
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 2);
    assert_ne!(frames[1].socket, frames[0].socket);
    assert!(!frames[1].is_continuation());
    assert_eq!(input_len(&frames[1].body), 3);
}
