//! Protection: header read timeout (slowloris), idle keep-alive, connection
//! and in-flight caps answered with a fast 503.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

async fn read_all(mut s: TcpStream, limit: Duration) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn slow_headers_and_idle_keepalive_connections_are_closed() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nheader_read_timeout = \"300ms\"")
        .start()
        .await;
    // Slowloris: half a request line, then nothing.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let _ = read_all(s, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the slow client was not cut off"
    );
    // Idle keep-alive: a finished request, then silence.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let text = read_all(s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the idle connection was kept open"
    );
}

#[tokio::test]
async fn over_the_inflight_cap_gets_a_fast_503() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_inflight = 1")
        .start()
        .await;
    mock.script(
        "a",
        Script::Slow(
            mock::text_events("gpt-5.4", &["a", "b", "c"]),
            Duration::from_millis(150),
        ),
    );
    let first = gw.post_later("/v1/chat/completions", &chat_stream("gpt-5.4", "x"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let (s, h, text) = gw.post("/v1/chat/completions", &chat("gpt-5.4", "y")).await;
    assert_eq!(s, 503, "{text}");
    assert!(text.contains("server_busy"));
    assert!(h.contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused fast"
    );
    assert!(
        first.await.unwrap().2.contains("[DONE]"),
        "the admitted stream is unharmed"
    );
    // The slot is free again.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "z"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn over_the_connection_cap_gets_a_503_and_close() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_connections = 1")
        .start()
        .await;
    let mut held = TcpStream::connect(gw.addr).await.unwrap();
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = held.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let second = TcpStream::connect(gw.addr).await.unwrap();
    let text = read_all(second, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("server_busy"), "{text}");
    drop(held);
}
