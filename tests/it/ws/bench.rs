//! The WebSocket benchmark behind BENCHMARKS.md (not a timed test: ignored,
//! run by hand):
//!
//! ```text
//! cargo test --release --test it ws::bench -- --ignored --nocapture
//! ```
//!
//! A 20-turn tool loop through the gateway over WebSocket and over HTTP, and
//! the same loops straight to the mock: bytes sent upstream per turn (as the
//! mock received them), the gateway's added latency per turn (through it
//! minus straight to the mock, medians), and the gateway process's memory per
//! idle socket (the real binary, 1,000 sockets after a prewarm each).

use std::time::{Duration, Instant};

use super::{connect_to, last, turn, user, Ws};
use crate::support::*;
use serde_json::{json, Value};

const TURNS: usize = 20;
const ROUNDS: usize = 5;

fn tool() -> Value {
    json!([{"type": "function", "name": "read_file", "description": "Read a file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}])
}

/// A prompt the size of a real agent's first turn (~40 KB, like the CLI's).
fn system() -> Value {
    let text = "You are a coding agent. Follow the repository's conventions. ".repeat(650);
    json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]})
}

fn output(i: usize) -> Value {
    json!({"type": "function_call_output", "call_id": format!("call_{i}"), "output": "fn main() { println!(\"hello\"); }\n".repeat(20)})
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One WebSocket loop; per-turn latency.
async fn ws_loop(ws: &mut Ws) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut prev: Option<String> = None;
    for i in 0..TURNS {
        let mut frame = json!({"type": "response.create", "model": "gpt-5.4", "tools": tool(), "store": false, "stream": true, "instructions": ""});
        match &prev {
            None => frame["input"] = json!([system(), user("fix the bug")[0]]),
            Some(id) => {
                frame["input"] = json!([output(i)]);
                frame["previous_response_id"] = json!(id);
            }
        }
        let t = Instant::now();
        let events = turn(ws, frame).await;
        times.push(t.elapsed());
        assert_eq!(last(&events)["type"], "response.completed", "{events:?}");
        prev = last(&events)["response"]["id"].as_str().map(str::to_owned);
    }
    times
}

/// One HTTP loop (the client resends the whole conversation); per-turn latency.
async fn http_loop(url: &str) -> Vec<Duration> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut input = vec![system(), user("fix the bug")[0].clone()];
    let mut times = Vec::new();
    for i in 0..TURNS {
        if i > 0 {
            input.push(json!({"type": "function_call", "call_id": format!("call_{i}"), "name": "read_file", "arguments": "{\"path\":\"README.md\"}"}));
            input.push(output(i));
        }
        let body = json!({"model": "gpt-5.4", "input": input, "tools": tool(), "stream": true, "store": false, "instructions": ""});
        let t = Instant::now();
        let resp = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let text = resp.text().await.unwrap();
        times.push(t.elapsed());
        assert!(text.contains("response.completed"));
    }
    times
}

async fn ws_to(addr: std::net::SocketAddr, path: &str) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let req = format!("ws://{addr}{path}").into_client_request().unwrap();
    connect_to(addr, req).await.unwrap().0
}

fn body_bytes(v: &Value) -> usize {
    serde_json::to_vec(v).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand, see the file's doc"]
async fn websocket_vs_http_tool_loop() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let direct = mock.addr;
    let (mut via_ws, mut direct_ws, mut via_http, mut direct_http) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        mock.clear();
        mock.ws.lock().unwrap().frames.clear();
        let mut ws = ws_to(gw.addr, "/v1/responses").await;
        via_ws.extend(ws_loop(&mut ws).await);
        let mut ws = ws_to(direct, "/backend-api/codex/responses").await;
        direct_ws.extend(ws_loop(&mut ws).await);
        via_http.extend(http_loop(&gw.url("/v1/responses")).await);
        direct_http.extend(http_loop(&format!("{}/responses", mock.base_url())).await);
    }
    // Bytes of the last round, through the gateway: frames on its upstream
    // socket (the first socket of the round) and the POST bodies it sent.
    let frames = mock.ws_frames();
    let gw_socket = frames[0].socket;
    let ws_bytes: Vec<usize> = frames
        .iter()
        .filter(|f| f.socket == gw_socket)
        .map(|f| body_bytes(&f.body))
        .collect();
    let posts = mock.responses();
    let http_bytes: Vec<usize> = posts
        .iter()
        .take(TURNS)
        .map(|s| body_bytes(&s.body))
        .collect();
    let sum = |v: &[usize]| v.iter().sum::<usize>();
    println!("bytes upstream per turn, WebSocket: first {} B, then mean {} B; total {} B over {TURNS} turns", ws_bytes[0], sum(&ws_bytes[1..]) / (TURNS - 1), sum(&ws_bytes));
    println!("bytes upstream per turn, HTTP: first {} B, last {} B, mean {} B; total {} B over {TURNS} turns", http_bytes[0], http_bytes[TURNS - 1], sum(&http_bytes) / TURNS, sum(&http_bytes));
    let (vw, dw, vh, dh) = (
        median(via_ws),
        median(direct_ws),
        median(via_http),
        median(direct_http),
    );
    println!("per-turn latency (median of {} turns): WebSocket via gateway {vw:?}, straight to the mock {dw:?}: added {:?}", ROUNDS * TURNS, vw.saturating_sub(dw));
    println!("per-turn latency (median of {} turns): HTTP via gateway {vh:?}, straight to the mock {dh:?}: added {:?}", ROUNDS * TURNS, vh.saturating_sub(dh));
    gw.stop().await;
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand, see the file's doc"]
async fn memory_per_idle_socket() {
    let mock = Mock::start().await;
    let mut gw = Gateway::builder(&mock).accounts(&["a"]).spawn().await;
    let addr = gw.addr;
    let pid = gw.process().pid();
    let prewarm = || json!({"type": "response.create", "model": "gpt-5.4", "input": user("hi"), "generate": false});
    let mut warm = ws_to(addr, "/v1/responses").await;
    turn(&mut warm, prewarm()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kb(pid);
    let mut sockets = Vec::new();
    for _ in 0..1000 {
        let mut ws = ws_to(addr, "/v1/responses").await;
        turn(&mut ws, prewarm()).await;
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kb(pid);
    println!("gateway RSS {before} kB -> {after} kB with 1,000 more idle sockets (each with its upstream socket): {} bytes per socket", (after - before) * 1024 / 1000);
    drop(sockets);
    gw.stop().await;
}
