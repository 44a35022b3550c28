//! The bridge benchmark behind BENCHMARKS.md (not a timed test: ignored, run
//! by hand or with `scripts/bench-loop.sh`):
//!
//! ```text
//! cargo test --release --test it bridge::bench -- --ignored --nocapture
//! ```
//!
//! A 20-turn tool loop (a ~40 KB first turn, then one tool call and its
//! ~700-byte output per turn, the model calling the tool every turn) over
//! HTTP chat completions and over HTTP `/v1/responses` through a gateway
//! with `bridge_http` off and one with it on, beside the same loop over a
//! WebSocket client through the gateway and the HTTP and WebSocket loops
//! straight to the mock. Bytes are the JSON bodies the mock received per
//! turn (the last round); latency is the median per-turn time (client send
//! to the whole answer) over all rounds, and "added" is that minus the same
//! transport straight to the mock.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::ChatLoop;
use crate::support::*;

const TURNS: usize = 20;
const ROUNDS: usize = 3;

fn system_text() -> String {
    "You are a coding agent. Follow the repository's conventions. ".repeat(650)
}

fn tool() -> Value {
    json!([{"type": "function", "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}])
}

fn output(call_id: &Value) -> Value {
    json!({"type": "function_call_output", "call_id": call_id, "output": "fn main() { println!(\"hello\"); }\n".repeat(20)})
}

fn first_input() -> Vec<Value> {
    vec![
        json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": system_text()}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]}),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The chat loop (answers not streamed, as many agent SDKs ask for).
async fn chat_loop(gw: &Gateway) -> Vec<Duration> {
    let mut chat = ChatLoop::new("fix the bug");
    chat.messages[0]["content"] = json!(system_text());
    let mut times = Vec::new();
    for _ in 0..TURNS {
        let t = Instant::now();
        chat.turn(gw).await;
        times.push(t.elapsed());
    }
    times
}

/// The Responses loop over HTTP, streamed; the client sends back every
/// output item and the tool's output. `url` is the gateway's route or the
/// mock's own `/responses`.
async fn responses_loop(url: &str) -> Vec<Duration> {
    let client = client();
    let mut input = first_input();
    let mut times = Vec::new();
    for _ in 0..TURNS {
        let body = json!({"model": "gpt-5.4", "input": input, "tools": tool(), "stream": true, "store": false, "instructions": ""});
        let t = Instant::now();
        let text = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        times.push(t.elapsed());
        let items: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter(|e| e["type"] == "response.output_item.done")
            .map(|e| e["item"].clone())
            .collect();
        let call = items
            .iter()
            .find(|i| i["type"] == "function_call")
            .expect("a tool call")
            .clone();
        input.extend(items);
        input.push(output(&call["call_id"]));
    }
    times
}

/// The same loop over a WebSocket client: continuations after the first turn.
async fn ws_loop(addr: std::net::SocketAddr, path: &str) -> Vec<Duration> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let req = format!("ws://{addr}{path}").into_client_request().unwrap();
    let mut ws = crate::ws::connect_to(addr, req).await.unwrap().0;
    let mut times = Vec::new();
    let mut prev: Option<(String, Value)> = None;
    for _ in 0..TURNS {
        let mut frame = json!({"type": "response.create", "model": "gpt-5.4", "tools": tool(), "store": false, "stream": true, "instructions": ""});
        match &prev {
            None => frame["input"] = Value::Array(first_input()),
            Some((id, call_id)) => {
                frame["input"] = json!([output(call_id)]);
                frame["previous_response_id"] = json!(id);
            }
        }
        let t = Instant::now();
        ws.send(Message::text(frame.to_string())).await.unwrap();
        let events = crate::ws::read_turn(&mut ws).await;
        times.push(t.elapsed());
        let done = events.last().unwrap();
        assert_eq!(done["type"], "response.completed", "{events:?}");
        let call = events
            .iter()
            .find(|e| e["type"] == "response.output_item.done")
            .map(|e| e["item"]["call_id"].clone())
            .unwrap();
        prev = Some((done["response"]["id"].as_str().unwrap().to_owned(), call));
    }
    times
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).unwrap().len()
}

/// Bytes per turn the mock received since the last `reset`: POST bodies and
/// socket frames, in order.
fn upstream_bytes(mock: &Mock) -> Vec<usize> {
    let mut v: Vec<usize> = mock.responses().iter().map(|s| size(&s.body)).collect();
    v.extend(mock.ws_frames().iter().map(|f| size(&f.body)));
    v
}

fn reset(mock: &Mock) {
    mock.clear();
    mock.ws.lock().unwrap().frames.clear();
}

fn report(name: &str, bytes: &[usize], via: Duration, direct: Duration) {
    let total: usize = bytes.iter().sum();
    let later = bytes[1..].iter().sum::<usize>() / bytes.len().saturating_sub(1).max(1);
    println!(
        "{name:<28} bytes: first {:>6} B, later mean {later:>6} B, last {:>6} B, total {total:>7} B | per turn {via:>10.2?}, added {:>10.2?}",
        bytes[0],
        bytes[bytes.len() - 1],
        via.saturating_sub(direct)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand, see the file's doc"]
async fn bridge_tool_loop() {
    let mock = Mock::start().await;
    mock.set_tool_loop(usize::MAX);
    let off = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let on = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[upstream]\nbridge_http = true\n")
        .start()
        .await;
    let names = [
        "chat, bridge off",
        "chat, bridge on",
        "responses, bridge off",
        "responses, bridge on",
        "WebSocket client",
        "HTTP straight to the mock",
        "WS straight to the mock",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut bytes: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    let direct_http = format!("{}/responses", mock.base_url());
    for _ in 0..ROUNDS {
        for (i, slot) in times.iter_mut().enumerate() {
            reset(&mock);
            let t = match i {
                0 => chat_loop(&off).await,
                1 => chat_loop(&on).await,
                2 => responses_loop(&off.url("/v1/responses")).await,
                3 => responses_loop(&on.url("/v1/responses")).await,
                4 => ws_loop(on.addr, "/v1/responses").await,
                5 => responses_loop(&direct_http).await,
                _ => ws_loop(mock.addr, "/backend-api/codex/responses").await,
            };
            slot.extend(t);
            bytes[i] = upstream_bytes(&mock);
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    println!("{TURNS}-turn tool loop, {ROUNDS} rounds, medians per turn");
    for i in 0..names.len() {
        // Added: over the direct HTTP loop, but the WebSocket client's over the direct socket.
        let direct = if i == 4 || i == 6 {
            medians[6]
        } else {
            medians[5]
        };
        report(names[i], &bytes[i], medians[i], direct);
    }
    off.stop().await;
    on.stop().await;
}
