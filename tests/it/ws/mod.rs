//! The Responses API over WebSocket (docs/websocket.md), end to end against
//! the mock's WebSocket: `turns` (what reached upstream, failover, refusals,
//! the HTTP fallback), `life` (age limit, deaths, idle, shutdown, reloads),
//! `bench` (the ignored benchmark behind BENCHMARKS.md). Here: a client that
//! connects, sends a turn and reads its events to the terminal one.

mod bench;
mod handshake;
mod life;
mod turns;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::support::{now, Gateway, Script};

pub type Ws = WebSocketStream<TcpStream>;

pub async fn connect(
    gw: &Gateway,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, http::Response<Option<Vec<u8>>>), tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{}{path}", gw.addr).into_client_request()?;
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    connect_to(gw.addr, req).await
}

/// A client with small buffers (1,000 of them stay cheap).
pub async fn connect_to(
    addr: std::net::SocketAddr,
    req: http::Request<()>,
) -> Result<(Ws, http::Response<Option<Vec<u8>>>), tokio_tungstenite::tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    let mut cfg = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    cfg.read_buffer_size = 4096;
    tokio_tungstenite::client_async_with_config(req, tcp, Some(cfg)).await
}

pub async fn open(gw: &Gateway, path: &str) -> Ws {
    connect(gw, path, &[]).await.unwrap().0
}

/// Sends a turn and reads events up to its terminal one.
pub async fn turn(ws: &mut Ws, frame: Value) -> Vec<Value> {
    ws.send(Message::text(frame.to_string())).await.unwrap();
    read_turn(ws).await
}

pub async fn read_turn(ws: &mut Ws) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket open")
            .expect("a frame");
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        let end = matches!(
            v["type"].as_str(),
            Some("response.completed" | "response.failed" | "response.incomplete" | "error")
        );
        got.push(v);
        if end {
            return got;
        }
    }
}

pub fn create(input: Value) -> Value {
    json!({"type": "response.create", "model": "gpt-5.4", "input": input, "tools": [], "store": false})
}

pub fn user(text: &str) -> Value {
    json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}])
}

pub fn last(events: &[Value]) -> &Value {
    events.last().unwrap()
}

pub fn usage_limit() -> Script {
    Script::Status(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_at": now() + 3600}}).to_string(),
        vec![],
    )
}
