//! A key's `requests_per_minute` is spent at admission, before its body is
//! read, on every route that reads one (`count_tokens` included): a limited
//! key cannot park bodies in the in-flight slots past its rate.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// One account, and the client key `mallory` (`sk-mallory-123456`) at 2 requests a minute.
async fn limited(mock: &Mock) -> Gateway {
    Gateway::builder(mock)
        .account("a")
        .key("mallory", |k| k.secret("sk-mallory-123456").rpm(2))
        .start()
        .await
}

/// Sends headers declaring a large body and one byte of it.
async fn parked(gw: &Gateway, path: &str) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer sk-mallory-123456\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

#[tokio::test]
async fn the_rate_is_spent_before_the_body_is_read() {
    let mock = Mock::start().await;
    let gw = limited(&mock).await;
    let one = parked(&gw, "/v1/chat/completions").await;
    let two = parked(&gw, "/v1/chat/completions").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The third is refused at once, its body never awaited.
    let mut three = parked(&gw, "/v1/chat/completions").await;
    let mut got = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), three.read(&mut got))
        .await
        .expect("refused before its body arrived")
        .unwrap();
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_client_rate_limited_total",
            &[("api_key", "mallory")]
        ),
        Some(1.0),
        "{scrape}"
    );
    assert!(mock.responses().is_empty());
    drop((one, two, three));
    gw.stop().await;
}

#[tokio::test]
async fn count_tokens_spends_the_rate_too() {
    let mock = Mock::start().await;
    let gw = limited(&mock).await;
    let body = json!({"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]});
    let auth = [("authorization", "Bearer sk-mallory-123456")];
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            gw.post_with("/v1/messages/count_tokens", &body, &auth)
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 429]);
    gw.stop().await;
}
